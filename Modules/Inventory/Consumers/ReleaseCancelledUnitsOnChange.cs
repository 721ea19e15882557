using Mediator;
using OmsModular.Modules.Inventory.Features;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Inventory.Consumers;

/// <summary>Orders committed a cancellation of units: their reservations release them.</summary>
internal sealed class ReleaseCancelledUnitsOnChange(ISender sender) : IIntegrationEventBatchHandler<OrderLinesCancelled>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderLinesCancelled>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new ReleaseCancelledUnits(batch.Select(d => d.Message).ToArray()), cancellationToken);
}
