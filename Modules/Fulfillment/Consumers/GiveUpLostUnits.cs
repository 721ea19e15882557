using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Fulfillment.Consumers;

/// <summary>
/// A count found units missing that a confirmed order had reserved at a node (Inventory released
/// them): the node's fulfilment order gives them up, and <see cref="UnitsShort"/> has them
/// re-sourced like a short pick. Units already packed or shipped are there (the count missed them):
/// nothing is given up for those, and that is logged.
/// </summary>
internal sealed class GiveUpLostUnits(FulfillmentDbContext db, TimeProvider clock, ILogger<GiveUpLostUnits> logger) : IIntegrationEventBatchHandler<ReservedUnitsLost>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<ReservedUnitsLost>> batch, CancellationToken cancellationToken)
    {
        var orderIds = batch.Select(d => d.Message.OrderId).Distinct().ToArray();
        var orders = await db.FulfilmentOrders.Where(f => orderIds.Contains(f.OrderId)).ToListAsync(cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var lost = delivered.Message;
            var left = lost.Quantity;
            if (!orders.Any(f => f.OrderId == lost.OrderId))
            {
                throw new MessageWaitsException($"Order {lost.OrderId} has no fulfilment orders yet; the units a count found missing at {lost.Location} wait for them.");
            }

            using var cause = delivered.Enter();
            foreach (var fo in orders.Where(f => f.OrderId == lost.OrderId && f.NodeCode == lost.Location).OrderBy(f => f.CreatedAt))
            {
                var taken = fo.GiveUpUnits(lost.Sku, left, lost.Reason, now);
                if (taken == 0)
                {
                    continue;
                }

                left -= taken;
                fo.ShortageReported();
                db.Publish(
                    new UnitsShort(lost.OrderId, Guid.CreateVersion7(), fo.Id, fo.NodeCode, [new AllocatedLine(lost.Sku, taken)], lost.Reason, WriteOff: false, now, Released: true),
                    lost.OrderId.ToString());
                if (left == 0)
                {
                    break;
                }
            }

            if (left > 0)
            {
                logger.LogWarning(
                    "A count at {Node} found {Quantity} × {Sku} of order {OrderId} missing that are packed, shipped or not there to give up; they are not re-sourced",
                    lost.Location, left, lost.Sku, lost.OrderId);
            }
        }
    }
}
