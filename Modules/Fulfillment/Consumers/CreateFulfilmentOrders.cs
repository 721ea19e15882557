using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Fulfillment.Consumers;

/// <summary>On confirmation, one fulfilment order per allocated node, ready to pick.</summary>
internal sealed class CreateFulfilmentOrders(FulfillmentDbContext db, TimeProvider clock) : IIntegrationEventHandler<OrderConfirmed>
{
    public async Task HandleAsync(OrderConfirmed message, MessageContext context, CancellationToken cancellationToken)
    {
        if (await db.FulfilmentOrders.AnyAsync(f => f.OrderId == message.OrderId, cancellationToken))
        {
            return;
        }

        var decision = await db.Decisions.AsNoTracking()
            .Where(d => d.OrderId == message.OrderId && d.Success)
            .OrderByDescending(d => d.DecidedAt)
            .FirstOrDefaultAsync(cancellationToken)
            ?? throw new InvalidOperationException($"Order {message.OrderId} was confirmed without a successful routing decision here.");
        var allocations = JsonDocument.Parse(decision.Explanation).RootElement.GetProperty("allocations")
            .Deserialize<NodeAllocation[]>(MessageSerialization.Options)!;
        foreach (var allocation in allocations)
        {
            db.FulfilmentOrders.Add(new FulfilmentOrder
            {
                Id = Guid.CreateVersion7(),
                OrderId = message.OrderId,
                NodeCode = allocation.Node,
                Status = FulfilmentOrderStatus.ReadyToPick,
                Lines = JsonSerializer.Serialize(allocation.Lines, MessageSerialization.Options),
                CreatedAt = clock.GetUtcNow(),
            });
        }
    }
}
