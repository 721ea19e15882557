using System.Text.Json;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace OmsModular.Modules.Fulfillment.Consumers;

/// <summary>
/// Carries out what Orders decided about a change Fulfillment prepared. Applied: the added units
/// become fulfilment orders at the nodes they were reserved at (held too while the payment is on
/// hold), a changed delivery is recorded as the order's destination (re-sourcing plans towards it),
/// and the fulfilment orders it held go on. Refused: what was reserved under the change's id is
/// released, the nodes' daily loads they were counted in give them back, and the held fulfilment
/// orders go on. Either is recorded as a decision naming the change
/// (<see cref="ChangesInFlight"/>), so a later change or a cancellation of the order's units waits for it. Each decision is committed once (the inbox), and
/// the release is idempotent by the change's id.
/// </summary>
internal sealed class FollowOrderChange(FulfillmentDbContext db, IModuleClient modules, TimeProvider clock) :
    IIntegrationEventBatchHandler<OrderChanged>,
    IIntegrationEventBatchHandler<OrderChangeRefused>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderChanged>> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.Message.OrderId).Distinct().ToArray();
        var fulfilmentOrders = await db.FulfilmentOrders.Where(f => ids.Contains(f.OrderId)).ToListAsync(cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var change = delivered.Message;
            var ofOrder = fulfilmentOrders.Where(f => f.OrderId == change.OrderId).ToArray();
            Release(ofOrder, change.ChangeId);
            var hold = ofOrder.Select(f => f.PaymentHold).FirstOrDefault(h => h is not null);
            foreach (var node in change.Allocations.GroupBy(a => a.Node, StringComparer.Ordinal))
            {
                var created = FulfilmentOrder.Create(change.OrderId, node.Key, node.Select(a => (a.Sku, a.Quantity)), now, pickup: change.Delivery.Method == "pickup");
                created.PaymentHold = hold;
                db.FulfilmentOrders.Add(created);
            }

            Record(change.OrderId, ChangesInFlight.Applied, new
            {
                Detail = change.DeliveryChanged
                    ? $"Change {change.ChangeId} applied: the order now goes to {change.ShippingAddress.City} ({change.ShippingAddress.CountryCode}) by {change.Delivery.ServiceLevel}."
                    : $"Change {change.ChangeId} applied.",
                Change = new { change.ChangeId },
                Destination = change.DeliveryChanged
                    ? new { change.ShippingAddress.Latitude, change.ShippingAddress.Longitude, change.Delivery.Method, change.Delivery.PickupLocation }
                    : null,
            }, now);
        }
    }

    public async Task HandleAsync(IReadOnlyList<Delivered<OrderChangeRefused>> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.Message.OrderId).Distinct().ToArray();
        var fulfilmentOrders = await db.FulfilmentOrders.Where(f => ids.Contains(f.OrderId)).ToListAsync(cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            Release(fulfilmentOrders.Where(f => f.OrderId == delivered.Message.OrderId), delivered.Message.ChangeId);
            Record(delivered.Message.OrderId, ChangesInFlight.Released,
                new { Detail = $"Change {delivered.Message.ChangeId} refused ({delivered.Message.Reason}): what was reserved for it is released.", Change = new { delivered.Message.ChangeId } },
                now);
        }

        await modules.SendAsync(
            new ReleaseReservationsBatch(batch.Select(d => new ReleaseReservations(d.Message.OrderId, "change-refused", d.Message.ChangeId)).ToArray()),
            cancellationToken);

        // The nodes' daily loads the refused changes' units were counted in give them back.
        var prepared = await ChangesInFlight.PreparedAsync(db, ids, batch.Select(d => d.Message.ChangeId).ToHashSet(), cancellationToken);
        var loads = prepared.SelectMany(p => p.Nodes.Select(n => (Node: n, Day: DateOnly.FromDateTime(p.DecidedAt.UtcDateTime)))).ToArray();
        if (loads.Length > 0)
        {
            await using var giveBack = await db.CreateCommandAsync(
                "UPDATE fulfillment.node_daily_load l SET orders = greatest(0, l.orders - v.n) "
                + "FROM (SELECT node, day, count(*)::int AS n FROM unnest($1::text[], $2::date[]) AS u(node, day) GROUP BY node, day) v "
                + "WHERE l.node_code = v.node AND l.day = v.day",
                cancellationToken);
            giveBack.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = loads.Select(l => l.Node).ToArray() });
            giveBack.Parameters.Add(new NpgsqlParameter<DateOnly[]> { TypedValue = loads.Select(l => l.Day).ToArray() });
            await giveBack.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    /// <summary>Records what became of a change as a decision of the order (<see cref="ChangesInFlight"/> reads it).</summary>
    private void Record(Guid orderId, string strategy, object explanation, DateTimeOffset at) =>
        db.Decisions.Add(new RoutingDecision
        {
            Id = Guid.CreateVersion7(),
            OrderId = orderId,
            Success = true,
            Strategy = strategy,
            Attempts = 0,
            Explanation = JsonSerializer.Serialize(explanation, MessageSerialization.Options),
            DecidedAt = at,
        });

    private static void Release(IEnumerable<FulfilmentOrder> fulfilmentOrders, Guid changeId)
    {
        foreach (var held in fulfilmentOrders.Where(f => f.PendingChange == changeId))
        {
            held.PendingChange = null;
        }
    }
}
