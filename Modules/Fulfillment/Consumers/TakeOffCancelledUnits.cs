using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Fulfillment.Consumers;

/// <summary>
/// Orders asked for units to be cancelled: the nodes take off units that are not shipped and not in
/// a packed fulfilment order (ready to pick first, then being picked, then what a partly shipped one
/// has not sent), and answer with <see cref="UnitsCancelled"/>: what came off at which node, and what
/// could not (packed or shipped).
/// Decided here, on the fulfilment orders' own state, so a unit that is packed or already left is
/// never cancelled. Waits (is retried, patiently) while the order's fulfilment orders are not there
/// yet (its confirmation and this request reach Fulfillment's consumers in either order), while
/// units of the order are being re-sourced, and while a change of the order is not carried out here yet.
/// </summary>
internal sealed class TakeOffCancelledUnits(FulfillmentDbContext db, TimeProvider clock) : IIntegrationEventBatchHandler<LineCancellationRequested>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<LineCancellationRequested>> batch, CancellationToken cancellationToken)
    {
        var orderIds = batch.Select(d => d.Message.OrderId).Distinct().ToArray();
        var orders = await db.FulfilmentOrders.Where(f => orderIds.Contains(f.OrderId)).ToListAsync(cancellationToken);
        var changes = await ChangesInFlight.OfAsync(db, orderIds, cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var request = delivered.Message;
            var nodes = orders.Where(f => f.OrderId == request.OrderId).ToArray();
            if (nodes.Length == 0)
            {
                throw new MessageWaitsException($"Order {request.OrderId} has no fulfilment orders yet; its cancellation {request.ChangeId} waits for them.");
            }

            if (changes[request.OrderId].Any())
            {
                throw new MessageWaitsException($"A change of order {request.OrderId} is not carried out here yet; its cancellation {request.ChangeId} waits, so it finds the units the change adds.");
            }

            if (nodes.Any(f => f.PendingShortages > 0))
            {
                throw new MessageWaitsException($"Units of order {request.OrderId} are being re-sourced; its cancellation {request.ChangeId} waits until they are at their new node.");
            }

            var open = nodes
                .Where(f => f.Status is FulfilmentOrderStatus.ReadyToPick or FulfilmentOrderStatus.Picking or FulfilmentOrderStatus.PartiallyShipped
                            || (f.Status == FulfilmentOrderStatus.ReadyForPickup && f.PickupExpired)) // an expired pickup gives its units back
                .OrderBy(f => f.Status switch { FulfilmentOrderStatus.ReadyToPick => 0, FulfilmentOrderStatus.Picking => 1, _ => 2 })
                .ThenBy(f => f.NodeCode, StringComparer.Ordinal)
                .ToArray();
            var cancelled = new List<CancelledUnits>();
            var refused = new List<AllocatedLine>();
            foreach (var line in request.Lines)
            {
                var left = line.Quantity;
                foreach (var fo in open)
                {
                    var taken = fo.CancelUnits(line.Sku, left, now);
                    if (taken > 0)
                    {
                        cancelled.Add(new CancelledUnits(line.Sku, taken, fo.NodeCode));
                        left -= taken;
                    }

                    if (left == 0)
                    {
                        break;
                    }
                }

                if (left > 0)
                {
                    refused.Add(new AllocatedLine(line.Sku, left));
                }
            }

            using var cause = delivered.Enter();
            db.Publish(new UnitsCancelled(request.OrderId, request.ChangeId, cancelled, refused, request.Reason, now), request.OrderId.ToString());
        }
    }
}
