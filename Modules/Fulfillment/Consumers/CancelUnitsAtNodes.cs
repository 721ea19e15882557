using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Fulfillment.Consumers;

/// <summary>Orders committed a cancellation of units: the nodes' fulfilment orders ship that many fewer (once per change: the inbox).</summary>
internal sealed class CancelUnitsAtNodes(FulfillmentDbContext db, TimeProvider clock) : IIntegrationEventBatchHandler<OrderLinesCancelled>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderLinesCancelled>> batch, CancellationToken cancellationToken)
    {
        var orderIds = batch.Select(d => d.Message.OrderId).Distinct().ToArray();
        var orders = await db.FulfilmentOrders.Where(f => orderIds.Contains(f.OrderId)).ToListAsync(cancellationToken);
        foreach (var change in batch.Select(d => d.Message))
        {
            foreach (var line in change.Lines)
            {
                orders.FirstOrDefault(f => f.OrderId == change.OrderId && f.NodeCode == line.Node)?.CancelUnits(line.Sku, line.Quantity, clock.GetUtcNow());
            }
        }
    }
}
