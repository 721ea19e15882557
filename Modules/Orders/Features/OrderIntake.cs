using System.Text.Json;
using System.Threading.Channels;
using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Jobs;
using OmsModular.Shared.Infrastructure.Messaging;
using static OmsModular.Shared.Infrastructure.Persistence.SqlParameters;

namespace OmsModular.Modules.Orders.Features;

/// <summary>A validated capture waiting to be committed.</summary>
internal sealed record Capture(string IdempotencyKey, string RequestHash, PlaceOrderRequest Request, Guid OrderId, DateTimeOffset PlacedAt, string? Actor, string SealedPaymentToken)
{
    public TaskCompletionSource<PlaceOrderResult> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Commits captured orders in groups: the requests that arrive while a group is being written form
/// the next group, written in one transaction (idempotency keys claimed and order numbers drawn in
/// one round trip, the orders, lines, timelines and <see cref="OrderPlaced"/> outbox rows in one
/// more, then the commit). Under load this turns three round trips and a commit per order into
/// three per group; a lone request is written at once. A group that meets anything unusual (a key
/// seen before, a marketplace order captured before, any error) is rolled back and its orders are
/// written one by one, each with the exact answers of the single path: the first answer for a
/// repeated key, 422 for a key reused with another body, 409 for a duplicate marketplace order.
/// </summary>
internal sealed class OrderIntake(IServiceScopeFactory scopes, OrderSettings settings, IBackgroundJobClient jobs, DueWindows windows, ILogger<OrderIntake> logger)
    : BackgroundService
{
    private const int MaxGroup = 200;
    private const int Writers = 2;

    private readonly Channel<Capture> _queue = Channel.CreateUnbounded<Capture>(new UnboundedChannelOptions { SingleReader = false });

    public async Task<PlaceOrderResult> CaptureAsync(Capture capture)
    {
        if (!_queue.Writer.TryWrite(capture))
        {
            throw new InvalidOperationException("The order capture is shutting down.");
        }

        return await capture.Done.Task.ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        stoppingToken.Register(() => _queue.Writer.TryComplete());
        await Task.WhenAll(Enumerable.Range(0, Writers).Select(_ => Task.Run(WriteLoopAsync, CancellationToken.None))).ConfigureAwait(false);
    }

    /// <summary>Writes until the queue is completed and drained (captures accepted before shutdown are still written).</summary>
    private async Task WriteLoopAsync()
    {
        var group = new List<Capture>(MaxGroup);
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            group.Clear();
            while (group.Count < MaxGroup && _queue.Reader.TryRead(out var capture))
            {
                group.Add(capture);
            }

            if (group.Count > 0)
            {
                await WriteAsync(group).ConfigureAwait(false);
            }
        }
    }

    private async Task WriteAsync(List<Capture> group)
    {
        if (group.Count > 1)
        {
            try
            {
                if (await TryWriteGroupAsync(group).ConfigureAwait(false))
                {
                    return;
                }
            }
            catch (Exception exception) when (exception is DbUpdateException or NpgsqlException or InvalidOperationException)
            {
                logger.LogInformation(exception, "A group of {Count} captures was rolled back; writing them one by one", group.Count);
            }
        }

        foreach (var capture in group)
        {
            try
            {
                capture.Done.TrySetResult(await WriteOneAsync(capture).ConfigureAwait(false));
            }
            catch (Exception exception)
            {
                capture.Done.TrySetException(exception);
            }
        }
    }

    /// <summary>The group in one transaction; false (nothing written) when a key or marketplace order was seen before.</summary>
    private async Task<bool> TryWriteGroupAsync(List<Capture> group)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
        db.ChangeTracker.AutoDetectChangesEnabled = false; // captured orders are complete when added: nothing to detect at save
        await using var transaction = await db.Database.BeginTransactionAsync().ConfigureAwait(false);
        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        var marketplace = group.Where(c => c.Request.Channel == SalesChannel.Marketplace).ToArray();
        await using var batch = new NpgsqlBatch(connection, (NpgsqlTransaction)transaction.GetDbTransaction())
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand("""
                    INSERT INTO orders.idempotency_keys (key, request_hash, order_id, created_at)
                    SELECT * FROM unnest($1::text[], $2::text[], $3::uuid[], $4::timestamptz[])
                    ON CONFLICT (key) DO NOTHING
                    """)
                {
                    Parameters =
                    {
                        new NpgsqlParameter { Value = group.Select(c => c.IdempotencyKey).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                        new NpgsqlParameter { Value = group.Select(c => c.RequestHash).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                        new NpgsqlParameter { Value = group.Select(c => c.OrderId).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
                        new NpgsqlParameter { Value = group.Select(c => c.PlacedAt).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
                    },
                },
                new NpgsqlBatchCommand("SELECT nextval('orders.order_numbers') FROM generate_series(1, $1)")
                {
                    Parameters = { new NpgsqlParameter<int> { TypedValue = group.Count } },
                },
                new NpgsqlBatchCommand("""
                    SELECT count(*) FROM orders.orders o
                    JOIN unnest($1::text[], $2::text[]) AS m(marketplace, external_order_id)
                      ON o.marketplace = m.marketplace AND o.external_order_id = m.external_order_id
                    """)
                {
                    Parameters =
                    {
                        new NpgsqlParameter { Value = marketplace.Select(c => c.Request.Marketplace ?? string.Empty).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                        new NpgsqlParameter { Value = marketplace.Select(c => c.Request.ExternalOrderId ?? string.Empty).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                    },
                },
            },
        };

        var numbers = new List<long>(group.Count);
        long knownMarketplaceOrders;
        await using (var reader = await batch.ExecuteReaderAsync().ConfigureAwait(false))
        {
            while (await reader.ReadAsync().ConfigureAwait(false))
            {
                numbers.Add(reader.GetInt64(0));
            }

            await reader.NextResultAsync().ConfigureAwait(false);
            await reader.ReadAsync().ConfigureAwait(false);
            knownMarketplaceOrders = reader.GetInt64(0);
        }

        if (batch.BatchCommands[0].RecordsAffected != group.Count || knownMarketplaceOrders > 0
            || marketplace.DistinctBy(c => (c.Request.Marketplace, c.Request.ExternalOrderId)).Count() != marketplace.Length)
        {
            await transaction.RollbackAsync().ConfigureAwait(false);
            return false;
        }

        var orders = group.Select((capture, i) => Add(db, capture, numbers[i])).ToArray();
        await InsertAsync(connection, (NpgsqlTransaction)transaction.GetDbTransaction(), orders).ConfigureAwait(false);
        await db.SaveChangesAsync().ConfigureAwait(false); // the outbox rows (and the NOTIFY)
        await transaction.CommitAsync().ConfigureAwait(false);
        db.SignalOutboxIfNeeded();
        for (var i = 0; i < group.Count; i++)
        {
            Committed(orders[i]);
            group[i].Done.TrySetResult(new PlaceOrderResult(orders[i].Id, orders[i].Number, "pending", Replayed: false));
        }

        return true;
    }

    /// <summary>One capture in its own transaction, with the answers for repeated keys and marketplace orders.</summary>
    private async Task<PlaceOrderResult> WriteOneAsync(Capture capture)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<OrdersDbContext>();
        db.ChangeTracker.AutoDetectChangesEnabled = false; // captured orders are complete when added: nothing to detect at save
        await using var transaction = await db.Database.BeginTransactionAsync().ConfigureAwait(false);
        var request = capture.Request;

        // Claim the key and draw the order number in one round trip: a concurrent duplicate waits
        // here for the first to commit, then reads its answer (no number drawn).
        long? number;
        await using (var claim = await db.CreateCommandAsync(
            """
            WITH claimed AS (
                INSERT INTO orders.idempotency_keys (key, request_hash, order_id, created_at) VALUES ($1, $2, $3, $4)
                ON CONFLICT (key) DO NOTHING RETURNING 1)
            SELECT nextval('orders.order_numbers') FROM claimed
            """,
            CancellationToken.None).ConfigureAwait(false))
        {
            claim.Parameters.Add(new NpgsqlParameter<string> { TypedValue = capture.IdempotencyKey });
            claim.Parameters.Add(new NpgsqlParameter<string> { TypedValue = capture.RequestHash });
            claim.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = capture.OrderId });
            claim.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = capture.PlacedAt });
            number = (long?)await claim.ExecuteScalarAsync().ConfigureAwait(false);
        }

        if (number is null)
        {
            var first = await db.IdempotencyKeys.AsNoTracking().SingleAsync(k => k.Key == capture.IdempotencyKey).ConfigureAwait(false);
            if (first.RequestHash != capture.RequestHash)
            {
                throw new ProblemException(
                    422,
                    "idempotency-key-reused",
                    "Idempotency key already used for another request",
                    $"The key '{capture.IdempotencyKey[(capture.IdempotencyKey.IndexOf(':', StringComparison.Ordinal) + 1)..]}' was first used with a different body; use a new key for a new order.",
                    "Idempotency-Key");
            }

            var existing = await db.Orders.AsNoTracking().Where(o => o.Id == first.OrderId).Select(o => new { o.Number, o.Status }).SingleAsync().ConfigureAwait(false);
            return new PlaceOrderResult(first.OrderId, existing.Number, existing.Status.Kebab(), Replayed: true);
        }

        if (request.Channel == SalesChannel.Marketplace
            && await db.Orders.AnyAsync(o => o.Marketplace == request.Marketplace && o.ExternalOrderId == request.ExternalOrderId).ConfigureAwait(false))
        {
            throw DuplicateMarketplaceOrder(request);
        }

        var order = Add(db, capture, number.Value);
        try
        {
            await InsertAsync((NpgsqlConnection)db.Database.GetDbConnection(), (NpgsqlTransaction)transaction.GetDbTransaction(), [order]).ConfigureAwait(false);
        }
        catch (PostgresException unique) when (unique.SqlState == PostgresErrorCodes.UniqueViolation && unique.ConstraintName?.Contains("marketplace", StringComparison.Ordinal) == true)
        {
            throw DuplicateMarketplaceOrder(request); // a concurrent capture of the same marketplace order under another key won the race
        }

        await db.SaveChangesAsync().ConfigureAwait(false); // the outbox row (and the NOTIFY)

        await transaction.CommitAsync().ConfigureAwait(false);
        db.SignalOutboxIfNeeded();
        Committed(order);
        return new PlaceOrderResult(order.Id, order.Number, "pending", Replayed: false);
    }

    /// <summary>Steps that never answer: the time-out job of the capture's second rejects the order if it is still pending then.</summary>
    private void Committed(Order order) =>
        OrderTimeoutJob.Schedule(jobs, windows, order.PlacedAt, settings.StepTimeout);

    private static ProblemException DuplicateMarketplaceOrder(PlaceOrderRequest request) =>
        ProblemException.Conflict(
            "duplicate-external-order",
            "Marketplace order already captured",
            $"{request.Marketplace} order {request.ExternalOrderId} was already captured under another idempotency key.",
            "externalOrderId");

    /// <summary>
    /// Writes new orders (row, lines, first timeline entry) in one round trip of set-based inserts.
    /// Captured orders are plain inserts of complete graphs, so this skips EF's graph attach, change
    /// tracking and command ordering, which were the largest part of a capture's CPU time; EF still
    /// maps and reads them everywhere else. The order row's columns come from <see cref="OrderRows"/>
    /// (the capture tests read every captured field back through EF).
    /// </summary>
    private static async Task InsertAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<Order> orders)
    {
        var lines = orders.SelectMany(o => o.Lines.Select(l => (Order: o, Line: l))).ToArray();
        var timeline = orders.SelectMany(o => o.Timeline.Select(t => (o.Id, t))).ToArray();
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands =
            {
                OrderRows.Insert(orders),
                new NpgsqlBatchCommand("""
                    INSERT INTO orders.order_lines (order_id, line_number, sku, quantity, marketplace_unit_price)
                    SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::numeric[])
                    """)
                {
                    Parameters =
                    {
                        ArrayParameter(lines.Select(l => l.Order.Id)),
                        ArrayParameter(lines.Select(l => l.Line.LineNumber)),
                        ArrayParameter(lines.Select(l => l.Line.Sku)),
                        ArrayParameter(lines.Select(l => l.Line.Quantity)),
                        ArrayParameter(lines.Select(l => l.Line.MarketplaceUnitPrice)),
                    },
                },
                OrderRows.InsertTimeline(timeline),
            },
        };
        await batch.ExecuteNonQueryAsync().ConfigureAwait(false);
    }

    private static Order Add(OrdersDbContext db, Capture capture, long number)
    {
        var request = capture.Request;
        var now = capture.PlacedAt;
        var order = new Order
        {
            Id = capture.OrderId,
            Number = $"O-{number}",
            Channel = request.Channel,
            Marketplace = request.Marketplace,
            ExternalOrderId = request.ExternalOrderId,
            Customer = new Customer { Id = request.Customer!.Id!, Email = request.Customer.Email!, Name = request.Customer.Name! },
            Currency = request.Currency!,
            Lines = request.Lines!.Select((l, i) => new OrderLine { LineNumber = i + 1, Sku = l.Sku!, Quantity = l.Quantity, MarketplaceUnitPrice = l.UnitPrice }).ToList(),
            ShippingAddress = new Address
            {
                Name = request.ShippingAddress!.Name!,
                Lines = request.ShippingAddress.Lines!.ToList(),
                City = request.ShippingAddress.City!,
                PostalCode = request.ShippingAddress.PostalCode!,
                CountryCode = request.ShippingAddress.CountryCode!,
                Latitude = request.ShippingAddress.Latitude,
                Longitude = request.ShippingAddress.Longitude,
            },
            Delivery = new Delivery { Method = request.Delivery!.Method!, ServiceLevel = request.Delivery.ServiceLevel, PickupLocation = request.Delivery.PickupLocation },
            CouponCodes = request.CouponCodes?.ToList() ?? [],
            Payment = new PaymentInstruction { Method = request.Payment!.Method!, Token = capture.SealedPaymentToken },
            PlacedAt = now,
        };
        order.ActingAs(capture.Actor);
        order.Record("placed", $"channel {order.Channel.Kebab()}", now);
        order.ActingAs(null);
        db.Publish(
            new OrderPlaced(
                order.Id,
                order.Number,
                order.Channel.Kebab(),
                order.Marketplace,
                order.ExternalOrderId,
                new OrderCustomer(order.Customer.Id, order.Customer.Email, order.Customer.Name),
                order.Currency,
                order.Lines.Select(l => new OrderLineSnapshot(l.Sku, l.Quantity, l.MarketplaceUnitPrice)).ToArray(),
                new OrderAddress(order.ShippingAddress.Name, order.ShippingAddress.Lines, order.ShippingAddress.City, order.ShippingAddress.PostalCode,
                    order.ShippingAddress.CountryCode, order.ShippingAddress.Latitude, order.ShippingAddress.Longitude),
                new OrderDelivery(order.Delivery.Method, order.Delivery.ServiceLevel, order.Delivery.PickupLocation),
                order.CouponCodes,
                order.Payment.Method,
                now),
            partitionKey: order.Id.ToString());
        return order;
    }
}
