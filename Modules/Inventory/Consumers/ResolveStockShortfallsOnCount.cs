using Mediator;
using OmsModular.Modules.Inventory.Features;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Inventory.Consumers;

/// <summary>A count left on hand below reserved: reservations are given up until reserved fits again.</summary>
internal sealed class ResolveStockShortfallsOnCount(ISender sender) : IIntegrationEventBatchHandler<StockShortfall>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<StockShortfall>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new ResolveStockShortfalls(batch.Select(d => d.Message).ToArray()), cancellationToken);
}
