using Mediator;
using OmsModular.Modules.Inventory.Features;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Inventory.Consumers;

/// <summary>A node gave up units: the reservation there releases them, and a write-off takes them off on hand (once per shortage: the inbox).</summary>
internal sealed class ReleaseShortUnitsOnShortage(ISender sender) : IIntegrationEventBatchHandler<UnitsShort>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<UnitsShort>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new ReleaseShortUnits(batch.Select(d => d.Message).ToArray()), cancellationToken);
}
