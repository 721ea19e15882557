using Mediator;
using OmsModular.Modules.Payments.Features;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Payments.Consumers;

/// <summary>
/// Orders committed a lower total (units cancelled, a change that costs less, or a refused change whose
/// raise is given back): the authorisation is lowered to the new total (a partial void), and what was
/// captured beyond it is refunded. A change that costs more was authorised before it was applied.
/// </summary>
internal sealed class ReduceOnLinesCancelled(ISender sender) :
    IIntegrationEventBatchHandler<OrderLinesCancelled>,
    IIntegrationEventBatchHandler<OrderChanged>,
    IIntegrationEventBatchHandler<OrderChangeRefused>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderLinesCancelled>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new ReduceAuthorizationsCommand(batch.Select(d => TotalLowered.Of(d.Message)).ToArray()), cancellationToken);

    public async Task HandleAsync(IReadOnlyList<Delivered<OrderChanged>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new ReduceAuthorizationsCommand(batch.Where(d => d.Message.NewTotal < d.Message.PreviousTotal).Select(d => TotalLowered.Of(d.Message)).ToArray()), cancellationToken);

    public async Task HandleAsync(IReadOnlyList<Delivered<OrderChangeRefused>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new ReduceAuthorizationsCommand(batch.Select(d => TotalLowered.Of(d.Message)).ToArray()), cancellationToken);
}
