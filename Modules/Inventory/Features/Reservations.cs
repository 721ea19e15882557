using FluentValidation;
using Hangfire;
using OmsModular.Shared.Infrastructure.Jobs;
using Mediator;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Npgsql;
using NpgsqlTypes;
using OmsModular.Modules.Inventory.Domain;
using OmsModular.Modules.Inventory.Persistence;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Inventory.Features;

/// <summary>Reserves at one location; with a <paramref name="Reference"/>, a further (confirmed) reservation of a confirmed order.</summary>
internal sealed record ReserveStockCommand(Guid OrderId, string Location, IReadOnlyList<ReservationLine> Lines, TimeSpan? Hold, Guid? Reference = null) : ICommand<ReservationOutcome>;

/// <summary>Releases what the order holds; with a <paramref name="Reference"/>, only the reservations made under it.</summary>
internal sealed record ReleaseReservationsCommand(Guid OrderId, string Reason, Guid? Reference = null) : ICommand<OrderReservations>;

/// <summary>Confirms the order's reservations at <paramref name="Locations"/> (null: wherever it holds stock now).</summary>
internal sealed record ConfirmReservationsCommand(Guid OrderId, IReadOnlyList<string>? Locations) : ICommand<OrderReservations>;

/// <summary>Records that these orders ended (cancelled or rejected) and releases all they hold; idempotent.</summary>
internal sealed record EndOrdersCommand(IReadOnlyList<(Guid OrderId, string Reason)> Orders) : ICommand;

/// <summary>Reservations for many orders in one transaction, decided in the order given, each all or nothing.</summary>
internal sealed record ReserveStockBatchCommand(IReadOnlyList<ReserveStockCommand> Requests) : ICommand<IReadOnlyList<ReservationOutcome>>;

internal sealed record ReleaseReservationsBatchCommand(IReadOnlyList<ReleaseReservationsCommand> Requests) : ICommand<IReadOnlyList<OrderReservations>>;

internal sealed record ConfirmReservationsBatchCommand(IReadOnlyList<ConfirmReservationsCommand> Requests) : ICommand<IReadOnlyList<OrderReservations>>;


/// <summary>Expires up to <c>Limit</c> due reservations, oldest first; only those expiring in [From, To) when a window is given.</summary>
internal sealed record ExpireDueReservationsCommand(int Limit, DateTimeOffset? From = null, DateTimeOffset? To = null) : ICommand<int>;

internal sealed record GetReservations(Guid OrderId) : IQuery<IReadOnlyList<ReservationView>>;

/// <summary>A reservation; <c>reference</c> names the re-sourcing that made it (null: the order's own at the location).</summary>
internal sealed record ReservationView(Guid Id, Guid OrderId, string Location, Guid? Reference, string Status, DateTimeOffset CreatedAt, DateTimeOffset ExpiresAt, DateTimeOffset? EndedAt, string? EndReason, IReadOnlyList<ReservationViewLine> Lines);

/// <summary>A reserved line: reserved, shipped of it, and released of it (cancelled or given up by the node).</summary>
internal sealed record ReservationViewLine(string Sku, int Quantity, int Shipped, int Released);

internal sealed class InventorySettings(IConfiguration configuration)
{
    public TimeSpan DefaultHold => configuration.GetValue("Oms:Inventory:ReservationHold", TimeSpan.FromMinutes(15));

    public int MaxLineQuantity => configuration.GetValue("Oms:Inventory:MaxLineQuantity", 10_000);
}

internal sealed class ReserveStockValidator : AbstractValidator<ReserveStockCommand>
{
    public ReserveStockValidator(InventorySettings settings)
    {
        RuleFor(c => c.OrderId).NotEmpty();
        RuleFor(c => c.Location).IsCode();
        RuleFor(c => c.Lines).NotEmpty().Must(l => l.Count <= 200).WithMessage("A reservation holds at most 200 lines.");
        RuleFor(c => c.Lines).Must(l => l.Select(x => x.Sku).Distinct().Count() == l.Count)
            .WithMessage("A SKU appears twice; put its quantities on one line.").When(c => c.Lines is { Count: > 0 });
        RuleForEach(c => c.Lines).ChildRules(line =>
        {
            line.RuleFor(l => l.Sku).IsCode();
            line.RuleFor(l => l.Quantity).InclusiveBetween(1, settings.MaxLineQuantity);
        });
        RuleFor(c => c.Hold).InclusiveBetween(TimeSpan.FromSeconds(1), TimeSpan.FromDays(7)).When(c => c.Hold is not null);
    }
}

internal sealed class ReserveStockBatchValidator : AbstractValidator<ReserveStockBatchCommand>
{
    public ReserveStockBatchValidator(InventorySettings settings)
    {
        RuleFor(c => c.Requests).NotEmpty().Must(r => r.Count <= 1_000).WithMessage("A batch holds at most 1,000 reservations.");
        RuleFor(c => c.Requests).Must(r => r.Select(x => (x.OrderId, x.Location, x.Reference)).Distinct().Count() == r.Count)
            .WithMessage("An order and location appear twice in one batch.").When(c => c.Requests is { Count: > 0 });
        RuleForEach(c => c.Requests).SetValidator(new ReserveStockValidator(settings));
    }
}

internal sealed class ReservationHandlers(InventoryDbContext db, InventorySettings settings, IBackgroundJobClient jobs, DueWindows windows) :
    ICommandHandler<ReserveStockBatchCommand, IReadOnlyList<ReservationOutcome>>,
    ICommandHandler<ReleaseReservationsBatchCommand, IReadOnlyList<OrderReservations>>,
    ICommandHandler<ConfirmReservationsBatchCommand, IReadOnlyList<OrderReservations>>,
    ICommandHandler<ReserveStockCommand, ReservationOutcome>,
    ICommandHandler<ReleaseReservationsCommand, OrderReservations>,
    ICommandHandler<ConfirmReservationsCommand, OrderReservations>,
    ICommandHandler<EndOrdersCommand>,
    ICommandHandler<ExpireDueReservationsCommand, int>,
    IQueryHandler<GetReservations, IReadOnlyList<ReservationView>>
{
    public async ValueTask<IReadOnlyList<ReservationOutcome>> Handle(ReserveStockBatchCommand command, CancellationToken cancellationToken) =>
        await ReserveAsync(command.Requests, cancellationToken);

    public async ValueTask<IReadOnlyList<OrderReservations>> Handle(ReleaseReservationsBatchCommand command, CancellationToken cancellationToken)
    {
        var orderIds = command.Requests.Select(r => r.OrderId).Distinct().ToArray();
        await LockOrdersAsync(orderIds, cancellationToken);
        var ended = await EndedAsync(orderIds, cancellationToken);
        // Everything an order holds, or only what was reserved under a reference; the stock rows of all
        // of it are locked at once, in the one fixed order.
        var whole = command.Requests.Where(r => r.Reference is null).GroupBy(r => r.OrderId).ToDictionary(g => g.Key, g => g.First().Reason);
        var referenced = command.Requests.Where(r => r.Reference is not null).GroupBy(r => (r.OrderId, r.Reference)).ToDictionary(g => g.Key, g => g.First().Reason);
        var ending = (await db.Reservations
                .Where(r => orderIds.Contains(r.OrderId) && (r.Status == ReservationStatus.Active || r.Status == ReservationStatus.Confirmed))
                .ToListAsync(cancellationToken))
            .Select(r => (Reservation: r, Reason: whole.GetValueOrDefault(r.OrderId) ?? referenced.GetValueOrDefault((r.OrderId, r.Reference))))
            .Where(r => r.Reason is not null)
            .ToArray();
        await LockStockAsync(ending.SelectMany(e => e.Reservation.Lines.Select(l => (e.Reservation.Location, l.Sku))), cancellationToken);
        foreach (var (reservation, reason) in ending)
        {
            await EndAsync(reservation, ReservationStatus.Released, reason!, cancellationToken);
        }

        return command.Requests
            .Select(r => new OrderReservations(r.OrderId, ended.Contains(r.OrderId) ? ReservationState.OrderEnded : ReservationState.Released, [], []))
            .ToArray();
    }

    public async ValueTask<Unit> Handle(EndOrdersCommand command, CancellationToken cancellationToken)
    {
        var orderIds = command.Orders.Select(o => o.OrderId).Distinct().ToArray();
        await LockOrdersAsync(orderIds, cancellationToken);
        var ended = await EndedAsync(orderIds, cancellationToken);
        var now = DateTimeOffset.UtcNow;
        var added = new HashSet<Guid>();
        foreach (var (orderId, reason) in command.Orders)
        {
            if (!ended.Contains(orderId) && added.Add(orderId))
            {
                db.EndedOrders.Add(new EndedOrder { OrderId = orderId, Reason = Truncate(reason), EndedAt = now });
            }
        }

        await ReleaseHeldAsync(command.Orders, cancellationToken);
        return Unit.Value;
    }

    /// <summary>Releases every reservation the orders hold (the first reason given for an order is recorded); their locks are held.</summary>
    private async Task ReleaseHeldAsync(IEnumerable<(Guid OrderId, string Reason)> orders, CancellationToken cancellationToken)
    {
        var reasons = new Dictionary<Guid, string>();
        foreach (var (orderId, reason) in orders)
        {
            reasons.TryAdd(orderId, reason);
        }

        var orderIds = reasons.Keys.ToArray();
        var holding = await db.Reservations
            .Where(r => orderIds.Contains(r.OrderId) && (r.Status == ReservationStatus.Active || r.Status == ReservationStatus.Confirmed))
            .ToListAsync(cancellationToken);
        await LockStockAsync(holding.SelectMany(r => r.Lines.Select(l => (r.Location, l.Sku))), cancellationToken);
        foreach (var reservation in holding)
        {
            await EndAsync(reservation, ReservationStatus.Released, reasons[reservation.OrderId], cancellationToken);
        }
    }

    /// <summary>The orders among these whose end Inventory has recorded.</summary>
    private async Task<HashSet<Guid>> EndedAsync(Guid[] orderIds, CancellationToken cancellationToken) =>
        (await db.EndedOrders.AsNoTracking().Where(e => orderIds.Contains(e.OrderId)).Select(e => e.OrderId).ToListAsync(cancellationToken)).ToHashSet();

    private static string Truncate(string reason) => reason.Length > 200 ? reason[..200] : reason;

    /// <summary>
    /// Confirms each order's reservations at the locations asked for, or none of them: when one
    /// location holds nothing live the answer is lost and nothing changes. A repeat answers
    /// confirmed again. One answer per request, each naming its order.
    /// </summary>
    public async ValueTask<IReadOnlyList<OrderReservations>> Handle(ConfirmReservationsBatchCommand command, CancellationToken cancellationToken)
    {
        var orderIds = command.Requests.Select(r => r.OrderId).Distinct().ToArray();
        await LockOrdersAsync(orderIds, cancellationToken);
        var ended = await EndedAsync(orderIds, cancellationToken);
        var holding = (await db.Reservations
                .Where(r => orderIds.Contains(r.OrderId) && (r.Status == ReservationStatus.Active || r.Status == ReservationStatus.Confirmed))
                .ToListAsync(cancellationToken))
            .ToLookup(r => r.OrderId);
        var answers = new List<OrderReservations>(command.Requests.Count);
        foreach (var request in command.Requests)
        {
            var live = holding[request.OrderId].ToArray();
            var asked = request.Locations ?? live.Select(r => r.Location).ToArray();
            var heldAt = live.Select(r => r.Location).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
            if (ended.Contains(request.OrderId))
            {
                answers.Add(new OrderReservations(request.OrderId, ReservationState.OrderEnded, heldAt, asked));
                continue;
            }

            var missing = asked.Except(heldAt, StringComparer.Ordinal).ToArray();
            if (missing.Length > 0 || asked.Count == 0)
            {
                answers.Add(new OrderReservations(request.OrderId, ReservationState.Lost, heldAt, missing));
                continue;
            }

            foreach (var reservation in live.Where(r => asked.Contains(r.Location, StringComparer.Ordinal)))
            {
                reservation.Status = ReservationStatus.Confirmed;
            }

            answers.Add(new OrderReservations(request.OrderId, ReservationState.Confirmed, heldAt, []));
        }

        return answers;
    }

    public async ValueTask<ReservationOutcome> Handle(ReserveStockCommand command, CancellationToken cancellationToken) =>
        (await ReserveAsync([command], cancellationToken))[0];

    /// <summary>
    /// Decides reservation requests in the order given, each all or nothing, on locked, current
    /// numbers: the orders' locks and then every stock row involved are taken up front in one fixed
    /// order (orders; then location, SKU), so this cannot deadlock with other reservations or
    /// releases; the requests are then decided in memory one after another and written with one
    /// update. Repeating a request for an order and location whose reservation holds returns that
    /// reservation and has no second effect.
    /// </summary>
    private async Task<IReadOnlyList<ReservationOutcome>> ReserveAsync(IReadOnlyList<ReserveStockCommand> requests, CancellationToken cancellationToken)
    {
        var orderIds = requests.Select(r => r.OrderId).Distinct().ToArray();
        await LockOrdersAsync(orderIds, cancellationToken);
        var ended = await EndedAsync(orderIds, cancellationToken);
        var holding = (await db.Reservations.AsNoTracking()
                .Where(r => orderIds.Contains(r.OrderId) && (r.Status == ReservationStatus.Active || r.Status == ReservationStatus.Confirmed))
                .Select(r => new { r.OrderId, r.Location, r.Reference, r.Id })
                .ToListAsync(cancellationToken))
            .GroupBy(r => (r.OrderId, r.Location, r.Reference))
            .ToDictionary(g => g.Key, g => g.First().Id);

        var available = (await LockStockAsync(requests.SelectMany(r => r.Lines.Select(l => (r.Location, l.Sku))), cancellationToken))
            .ToDictionary(l => (l.Location, l.Sku), l => l.Available);

        var outcomes = new List<ReservationOutcome>(requests.Count);
        var taken = new Dictionary<(string Location, string Sku), int>();
        var made = new List<Reservation>();
        var movements = new List<StockMovement>();
        foreach (var request in requests)
        {
            if (ended.Contains(request.OrderId))
            {
                outcomes.Add(new ReservationOutcome(request.OrderId, request.Location, ReservationState.OrderEnded, null, []));
                continue;
            }

            if (holding.TryGetValue((request.OrderId, request.Location, request.Reference), out var existing))
            {
                outcomes.Add(new ReservationOutcome(request.OrderId, request.Location, ReservationState.Held, existing, []));
                continue;
            }

            var lines = request.Lines.OrderBy(l => l.Sku, StringComparer.Ordinal).ToArray();
            var shortfalls = lines
                .Select(l => new Shortfall(l.Sku, l.Quantity, available.GetValueOrDefault((request.Location, l.Sku))))
                .Where(s => s.Available < s.Requested)
                .ToArray();
            if (shortfalls.Length > 0)
            {
                db.Publish(new StockReservationFailed(request.OrderId, request.Location, shortfalls), partitionKey: request.OrderId.ToString());
                outcomes.Add(new ReservationOutcome(request.OrderId, request.Location, ReservationState.Short, null, shortfalls));
                continue;
            }

            foreach (var line in lines)
            {
                available[(request.Location, line.Sku)] -= line.Quantity;
                taken[(request.Location, line.Sku)] = taken.GetValueOrDefault((request.Location, line.Sku)) + line.Quantity;
            }

            var reservation = new Reservation
            {
                OrderId = request.OrderId,
                Location = request.Location,
                Reference = request.Reference,
                Status = request.Reference is null ? ReservationStatus.Active : ReservationStatus.Confirmed, // re-sourced units of a confirmed order do not expire
                ExpiresAt = DateTimeOffset.UtcNow + (request.Hold ?? settings.DefaultHold),
                Lines = lines.Select(l => new ReservedLine { Sku = l.Sku, Quantity = l.Quantity }).ToList(),
            };
            made.Add(reservation);
            movements.AddRange(lines.Select(l => new StockMovement
            {
                Sku = l.Sku,
                Location = request.Location,
                Kind = MovementKind.Reserve,
                ReservedDelta = l.Quantity,
                Reference = request.OrderId.ToString(),
            }));
            db.Publish(new StockReserved(reservation.Id, request.OrderId, request.Location, lines, reservation.ExpiresAt), partitionKey: request.OrderId.ToString());
            holding[(request.OrderId, request.Location, request.Reference)] = reservation.Id;

            // Expiry: a delayed job (at least once; it re-checks the reservation when it runs).
            if (reservation.Status == ReservationStatus.Active)
            {
                ScheduleExpiry(reservation);
            }

            outcomes.Add(new ReservationOutcome(request.OrderId, request.Location, ReservationState.Held, reservation.Id, []));
        }

        if (taken.Count > 0)
        {
            // One round trip: the stock rows' reserved counts (guarded: the rows are locked, so every
            // one must still have room), then the reservations, their lines and the movements.
            await using var batch = await db.CreateBatchAsync(cancellationToken);
            var reserve = new NpgsqlBatchCommand("""
                UPDATE inventory.stock_levels s SET reserved = s.reserved + r.quantity, updated_at = now()
                FROM unnest($1::text[], $2::text[], $3::int[]) AS r(location, sku, quantity)
                WHERE s.location = r.location AND s.sku = r.sku AND s.on_hand - s.reserved - s.safety_stock >= r.quantity
                """)
            {
                Parameters =
                {
                    new NpgsqlParameter<string[]> { TypedValue = taken.Keys.Select(k => k.Location).ToArray() },
                    new NpgsqlParameter<string[]> { TypedValue = taken.Keys.Select(k => k.Sku).ToArray() },
                    new NpgsqlParameter<int[]> { TypedValue = taken.Values.ToArray() },
                },
            };
            batch.BatchCommands.Add(reserve);
            foreach (var insert in StockSql.Insert(made, movements))
            {
                batch.BatchCommands.Add(insert);
            }

            await batch.ExecuteNonQueryAsync(cancellationToken);
            if (reserve.RecordsAffected != taken.Count)
            {
                throw new InvalidOperationException("Locked stock changed under a reservation; the transaction is rolled back.");
            }
        }

        return outcomes;
    }

    public async ValueTask<OrderReservations> Handle(ReleaseReservationsCommand command, CancellationToken cancellationToken) =>
        (await Handle(new ReleaseReservationsBatchCommand([command]), cancellationToken))[0];

    public async ValueTask<OrderReservations> Handle(ConfirmReservationsCommand command, CancellationToken cancellationToken) =>
        (await Handle(new ConfirmReservationsBatchCommand([command]), cancellationToken))[0];

    public async ValueTask<int> Handle(ExpireDueReservationsCommand command, CancellationToken cancellationToken)
    {
        var due = await db.Reservations
            .Where(r => r.Status == ReservationStatus.Active && r.ExpiresAt <= DateTimeOffset.UtcNow)
            .Where(r => command.From == null || (r.ExpiresAt >= command.From && r.ExpiresAt < command.To))
            .OrderBy(r => r.ExpiresAt)
            .Take(command.Limit)
            .ToListAsync(cancellationToken);
        foreach (var reservation in due)
        {
            await LockOrderAsync(reservation.OrderId, cancellationToken);
            await db.Entry(reservation).ReloadAsync(cancellationToken);
            if (reservation.Status == ReservationStatus.Active)
            {
                await EndAsync(reservation, ReservationStatus.Expired, "expired", cancellationToken);
            }
        }

        return due.Count;
    }

    /// <summary>One delayed job per second of expiry times (see <see cref="DueWindows"/>); the minutely sweep backs it up.</summary>
    private void ScheduleExpiry(Reservation reservation)
    {
        if (windows.Claim("inventory.reservation-expiry", reservation.ExpiresAt) is { } window)
        {
            ReservationExpiryJob.Schedule(jobs, window.From, window.To);
        }
    }

    public async ValueTask<IReadOnlyList<ReservationView>> Handle(GetReservations query, CancellationToken cancellationToken)
    {
        var reservations = await db.Reservations.AsNoTracking().Where(r => r.OrderId == query.OrderId).OrderBy(r => r.CreatedAt).ToListAsync(cancellationToken);
        return reservations.Select(r => new ReservationView(
            r.Id, r.OrderId, r.Location, r.Reference, r.Status.ToString().ToLowerInvariant(), r.CreatedAt, r.ExpiresAt, r.EndedAt, r.EndReason,
            r.Lines.Select(l => new ReservationViewLine(l.Sku, l.Quantity, l.Shipped, l.Released)).ToArray())).ToArray();
    }

    private async Task EndAsync(Reservation reservation, ReservationStatus status, string reason, CancellationToken cancellationToken)
    {
        var lines = reservation.Lines.Where(l => l.Held > 0).OrderBy(l => l.Sku, StringComparer.Ordinal).ToArray(); // what has shipped is no longer held
        await using (var release = await db.CreateCommandAsync("""
            UPDATE inventory.stock_levels s SET reserved = greatest(0, s.reserved - r.quantity), updated_at = now()
            FROM unnest($2::text[], $3::int[]) AS r(sku, quantity)
            WHERE s.location = $1 AND s.sku = r.sku
            """, cancellationToken))
        {
            release.Parameters.Add(new NpgsqlParameter<string> { TypedValue = reservation.Location });
            release.Parameters.Add(new NpgsqlParameter { Value = lines.Select(l => l.Sku).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text });
            release.Parameters.Add(new NpgsqlParameter { Value = lines.Select(l => l.Held).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer });
            await release.ExecuteNonQueryAsync(cancellationToken);
        }

        reservation.Status = status;
        reservation.EndedAt = DateTimeOffset.UtcNow;
        reservation.EndReason = reason;
        db.Movements.AddRange(lines.Select(l => new StockMovement
        {
            Sku = l.Sku,
            Location = reservation.Location,
            Kind = MovementKind.Release,
            ReservedDelta = -l.Held,
            Reference = reservation.OrderId.ToString(),
        }));
        db.Publish(
            new StockReleased(reservation.Id, reservation.OrderId, reservation.Location, lines.Select(l => new ReservationLine(l.Sku, l.Held)).ToArray(), reason),
            partitionKey: reservation.OrderId.ToString());
    }

    private Task LockOrderAsync(Guid orderId, CancellationToken cancellationToken) =>
        db.LockAsync($"order:{orderId}", cancellationToken);

    private Task LockOrdersAsync(IEnumerable<Guid> orderIds, CancellationToken cancellationToken) =>
        db.LockAsync(orderIds.Select(id => $"order:{id}"), cancellationToken);

    private Task<List<StockLevel>> LockStockAsync(IEnumerable<(string Location, string Sku)> rows, CancellationToken cancellationToken) =>
        StockSql.LockAsync(db, rows, cancellationToken);
}

/// <summary>The Hangfire jobs that expire unconfirmed reservations: one delayed job per second of expiry times, and a minutely sweep.</summary>
internal sealed class ReservationExpiryJob(ISender sender, IBackgroundJobClient jobs, TimeProvider clock)
{
    public const string SweepJobId = "inventory-expire-reservations";

    public static void Schedule(IBackgroundJobClient jobs, DateTimeOffset from, DateTimeOffset to) =>
        jobs.Schedule<ReservationExpiryJob>(job => job.ExpireWindowAsync(from, to, CancellationToken.None), to.AddSeconds(1));

    public async Task ExpireWindowAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        while (await sender.Send(new ExpireDueReservationsCommand(200, from, to), cancellationToken) == 200)
        {
        }

        if (clock.GetUtcNow() < to)
        {
            Schedule(jobs, from, to); // Hangfire's schedule has whole-second resolution: it ran early, part of the window is not due yet
        }
    }

    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        while (await sender.Send(new ExpireDueReservationsCommand(200), cancellationToken) == 200)
        {
        }
    }
}

/// <summary>Module API handlers: other modules reserve, release and confirm through contracts.</summary>
internal sealed class ReservationApi(ISender sender) :
    IModuleRequestHandler<ReserveStockBatch, IReadOnlyList<ReservationOutcome>>,
    IModuleRequestHandler<ReleaseReservationsBatch, IReadOnlyList<OrderReservations>>,
    IModuleRequestHandler<ConfirmReservationsBatch, IReadOnlyList<OrderReservations>>,
    IModuleRequestHandler<ReserveStock, ReservationOutcome>,
    IModuleRequestHandler<ReleaseReservations, OrderReservations>,
    IModuleRequestHandler<ConfirmReservations, OrderReservations>
{
    public async Task<ReservationOutcome> HandleAsync(ReserveStock request, CancellationToken cancellationToken) =>
        await sender.Send(new ReserveStockCommand(request.OrderId, request.Location, request.Lines, request.Hold, request.Reference), cancellationToken);

    public async Task<OrderReservations> HandleAsync(ReleaseReservations request, CancellationToken cancellationToken) =>
        await sender.Send(new ReleaseReservationsCommand(request.OrderId, request.Reason, request.Reference), cancellationToken);

    public async Task<OrderReservations> HandleAsync(ConfirmReservations request, CancellationToken cancellationToken) =>
        await sender.Send(new ConfirmReservationsCommand(request.OrderId, request.Locations), cancellationToken);

    public async Task<IReadOnlyList<ReservationOutcome>> HandleAsync(ReserveStockBatch request, CancellationToken cancellationToken) =>
        await sender.Send(new ReserveStockBatchCommand(request.Requests.Select(r => new ReserveStockCommand(r.OrderId, r.Location, r.Lines, r.Hold, r.Reference)).ToArray()), cancellationToken);

    public async Task<IReadOnlyList<OrderReservations>> HandleAsync(ReleaseReservationsBatch request, CancellationToken cancellationToken) =>
        await sender.Send(new ReleaseReservationsBatchCommand(request.Requests.Select(r => new ReleaseReservationsCommand(r.OrderId, r.Reason, r.Reference)).ToArray()), cancellationToken);

    public async Task<IReadOnlyList<OrderReservations>> HandleAsync(ConfirmReservationsBatch request, CancellationToken cancellationToken) =>
        await sender.Send(new ConfirmReservationsBatchCommand(request.Requests.Select(r => new ConfirmReservationsCommand(r.OrderId, r.Locations)).ToArray()), cancellationToken);
}
