using Mediator;
using OmsModular.Modules.Inventory.Features;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Inventory.Consumers;

/// <summary>
/// The compensation of an order's end: when Orders has committed a cancellation or a rejection,
/// Inventory records the end and releases everything the order holds. A reservation request that
/// arrives later for that order is refused (<c>order-ended</c>), so no stock stays held for it
/// whichever arrives first. Idempotent: a repeated end changes nothing.
/// </summary>
internal sealed class ReleaseEndedOrders(ISender sender) : IIntegrationEventBatchHandler<OrderCancelled>, IIntegrationEventBatchHandler<OrderRejected>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderCancelled>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new EndOrdersCommand(batch.Select(d => (d.Message.OrderId, $"order-cancelled: {d.Message.Reason}")).ToArray()), cancellationToken);

    public async Task HandleAsync(IReadOnlyList<Delivered<OrderRejected>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new EndOrdersCommand(batch.Select(d => (d.Message.OrderId, $"order-rejected: {d.Message.Reason}")).ToArray()), cancellationToken);
}
