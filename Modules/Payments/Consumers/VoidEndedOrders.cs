using Mediator;
using OmsModular.Modules.Payments.Features;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Payments.Consumers;

/// <summary>
/// The compensation of an order's end: when Orders has committed a cancellation or a rejection,
/// Payments records the end and voids the authorisation it holds. An authorisation request that
/// arrives later for that order is refused (<c>order-ended</c>), so no money stays held for it
/// whichever arrives first. Idempotent: a repeated end changes nothing.
/// </summary>
internal sealed class VoidEndedOrders(ISender sender) : IIntegrationEventBatchHandler<OrderCancelled>, IIntegrationEventBatchHandler<OrderRejected>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderCancelled>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new EndOrdersCommand(batch.Select(d => (d.Message.OrderId, d.Message.Reason)).ToArray()), cancellationToken);

    public async Task HandleAsync(IReadOnlyList<Delivered<OrderRejected>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new EndOrdersCommand(batch.Select(d => (d.Message.OrderId, d.Message.Reason)).ToArray()), cancellationToken);
}
