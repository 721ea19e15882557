using Mediator;
using OmsModular.Modules.Inventory.Features;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Inventory.Consumers;

/// <summary>A shipment left a node: its stock goes out of on hand and out of the order's reservation (once per shipment: the inbox).</summary>
internal sealed class TakeShippedStockOnShipment(ISender sender) : IIntegrationEventBatchHandler<ShipmentShipped>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<ShipmentShipped>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new TakeShippedStock(batch.Select(d => d.Message).ToArray()), cancellationToken);
}
