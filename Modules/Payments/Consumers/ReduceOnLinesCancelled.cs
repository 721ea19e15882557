using Mediator;
using OmsModular.Modules.Payments.Features;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Payments.Consumers;

/// <summary>Orders committed a cancellation of units: the authorisation is lowered to the new total (a partial void).</summary>
internal sealed class ReduceOnLinesCancelled(ISender sender) : IIntegrationEventBatchHandler<OrderLinesCancelled>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderLinesCancelled>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new ReduceAuthorizationsCommand(batch.Select(d => d.Message).ToArray()), cancellationToken);
}
