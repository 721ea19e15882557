using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Fulfillment.Consumers;

/// <summary>On confirmation, one fulfilment order per allocated node, ready to pick (the confirmations of a batch read together).</summary>
internal sealed class CreateFulfilmentOrders(FulfillmentDbContext db, TimeProvider clock) : IIntegrationEventBatchHandler<OrderConfirmed>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderConfirmed>> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.Message.OrderId).Distinct().ToArray();
        var created = (await db.FulfilmentOrders.Where(f => ids.Contains(f.OrderId)).Select(f => f.OrderId).Distinct().ToListAsync(cancellationToken)).ToHashSet();
        var todo = ids.Where(created.Add).ToArray();
        if (todo.Length == 0)
        {
            return;
        }

        var decisions = (await db.Decisions.AsNoTracking()
                .Where(d => todo.Contains(d.OrderId) && d.Success)
                .Select(d => new { d.OrderId, d.DecidedAt, d.Explanation, d.Strategy })
                .ToListAsync(cancellationToken))
            .GroupBy(d => d.OrderId)
            .ToDictionary(g => g.Key, g => g.MaxBy(d => d.DecidedAt)!);
        foreach (var orderId in todo)
        {
            var decision = decisions.GetValueOrDefault(orderId)
                ?? throw new InvalidOperationException($"Order {orderId} was confirmed without a successful routing decision here.");
            var allocations = JsonDocument.Parse(decision.Explanation).RootElement.GetProperty("allocations")
                .Deserialize<NodeAllocation[]>(MessageSerialization.Options)!;
            foreach (var allocation in allocations)
            {
                db.FulfilmentOrders.Add(FulfilmentOrder.Create(orderId, allocation.Node, allocation.Lines.Select(l => (l.Sku, l.Quantity)), clock.GetUtcNow(), pickup: decision.Strategy == "pickup"));
            }
        }
    }
}
