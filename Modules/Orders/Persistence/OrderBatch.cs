using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OmsModular.Modules.Orders.Domain;
using static OmsModular.Shared.Infrastructure.Persistence.SqlParameters;

namespace OmsModular.Modules.Orders.Persistence;

/// <summary>
/// The orders one pipeline step reads and writes for a batch of messages. It reads the order
/// rows without tracking and without their lines and timeline (the steps only append to the
/// timeline and set the lines' prices), and writes back what the steps changed in one round trip:
/// one statement that updates the order rows guarded by each row's version (<c>xmin</c>, the
/// optimistic token EF uses everywhere else) and, for the rows it wrote, inserts the new timeline
/// entries and updates the priced lines. A row changed by someone else since it was read (a
/// cancellation over HTTP, say) is not written; <see cref="SaveAsync"/> names it, and the
/// pipeline runs that order's step again on what the order is now, while the other orders of the
/// batch keep what they did. EF's change tracking of these
/// graphs (an order is a dozen tracked entries: owned types, lines, timeline) cost more CPU than
/// the rest of a step, which is why this is SQL.
/// Every change a step makes lands on the order's timeline, so an order with new timeline entries
/// is an order to write.
/// </summary>
internal sealed class OrderBatch(OrdersDbContext db)
{
    private readonly Dictionary<Guid, Order> _orders = [];
    private readonly List<(Guid OrderId, string Sku, decimal UnitPrice, decimal Discount, decimal Net, decimal Tax, decimal Gross)> _prices = [];

    /// <summary>The orders with these ids that exist (one query; rows only, without lines and timeline).</summary>
    public async Task<IReadOnlyDictionary<Guid, Order>> LoadAsync(IEnumerable<Guid> orderIds, CancellationToken cancellationToken)
    {
        await using var command = await db.CreateCommandAsync(OrderRows.SelectByIds, cancellationToken);
        command.Parameters.Add(ArrayParameter(orderIds.Distinct()));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var order = OrderRows.Read(reader);
            _orders[order.Id] = order;
        }

        return _orders;
    }

    /// <summary>Sets a line's prices (by SKU: an order holds each SKU on one line).</summary>
    public void Price(Order order, string sku, decimal unitPrice, decimal discount, decimal net, decimal tax, decimal gross) =>
        _prices.Add((order.Id, sku, unitPrice, discount, net, tax, gross));

    /// <summary>
    /// Writes the changed orders, their new timeline entries and priced lines in one statement (once
    /// per unit). Each order row is written only if its version is still the one read; for an order
    /// changed meanwhile nothing is written (nor its timeline, prices or the events published for
    /// it in this unit) and its id is returned, so the caller can run its step again on what the
    /// order is now.
    /// </summary>
    public async Task<IReadOnlySet<Guid>> SaveAsync(CancellationToken cancellationToken)
    {
        var changed = _orders.Values.Where(o => o.Timeline.Count > 0).ToArray();
        if (changed.Length == 0)
        {
            _orders.Clear();
            _prices.Clear();
            return new HashSet<Guid>();
        }

        var timeline = changed.SelectMany(o => o.Timeline.Select(t => (o.Id, Entry: t))).ToArray();
        var (update, parameters) = OrderRows.GuardedUpdate(changed, first: 1);
        var next = parameters.Count + 1;
        await using var command = await db.CreateCommandAsync($"""
            WITH {update},
            timeline AS (
                INSERT INTO orders.order_timeline (order_id, at, event, status, reason, cause)
                SELECT t.* FROM unnest(${next}::uuid[], ${next + 1}::timestamptz[], ${next + 2}::text[], ${next + 3}::text[], ${next + 4}::text[], ${next + 5}::text[])
                  AS t(order_id, at, event, status, reason, cause)
                WHERE t.order_id IN (SELECT id FROM written)),
            prices AS (
                UPDATE orders.order_lines AS l
                SET unit_price = p.unit_price, discount = p.discount, net = p.net, tax = p.tax, gross = p.gross
                FROM unnest(${next + 6}::uuid[], ${next + 7}::text[], ${next + 8}::numeric[], ${next + 9}::numeric[], ${next + 10}::numeric[], ${next + 11}::numeric[], ${next + 12}::numeric[])
                  AS p(order_id, sku, unit_price, discount, net, tax, gross)
                WHERE l.order_id = p.order_id AND l.sku = p.sku AND p.order_id IN (SELECT id FROM written)
                RETURNING l.order_id)
            SELECT id, (SELECT count(*) FROM prices) FROM written
            """, cancellationToken);
        foreach (var parameter in parameters.Concat(
        [
            ArrayParameter(timeline.Select(t => t.Id)),
            ArrayParameter(timeline.Select(t => t.Entry.At)),
            ArrayParameter(timeline.Select(t => t.Entry.Event)),
            ArrayParameter(timeline.Select(t => t.Entry.Status.ToString())),
            ArrayParameter(timeline.Select(t => t.Entry.Reason)),
            ArrayParameter(timeline.Select(t => t.Entry.Cause)),
            ArrayParameter(_prices.Select(p => p.OrderId)),
            ArrayParameter(_prices.Select(p => p.Sku)),
            ArrayParameter(_prices.Select(p => p.UnitPrice)),
            ArrayParameter(_prices.Select(p => p.Discount)),
            ArrayParameter(_prices.Select(p => p.Net)),
            ArrayParameter(_prices.Select(p => p.Tax)),
            ArrayParameter(_prices.Select(p => p.Gross)),
        ]))
        {
            command.Parameters.Add(parameter);
        }

        var written = new HashSet<Guid>();
        long pricedLines = 0;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                written.Add(reader.GetGuid(0));
                pricedLines = reader.GetInt64(1);
            }
        }

        var expectedPrices = _prices.Count(p => written.Contains(p.OrderId));
        if (pricedLines != expectedPrices)
        {
            throw new InvalidOperationException($"{expectedPrices - pricedLines} priced lines have no line of their SKU on their order.");
        }

        var conflicted = changed.Select(o => o.Id).Where(id => !written.Contains(id)).ToHashSet();
        if (conflicted.Count > 0)
        {
            db.DiscardPublished(conflicted.Select(id => id.ToString()).ToHashSet(StringComparer.Ordinal));
        }

        _orders.Clear(); // written (or given up): their versions moved on, so a unit is saved once
        _prices.Clear();
        return conflicted;
    }
}
