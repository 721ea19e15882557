using Mediator;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Inventory.Features;

internal sealed class InventoryDemoData : IDemoData
{
    public int Order => 20;

    public async Task SeedAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var rows = DemoCatalogue.Skus
            .SelectMany(sku => DemoCatalogue.Nodes.Select(node => new StockBatchRow(sku, node.Code, DemoCatalogue.StockOf(sku, node.Code), 0)))
            .ToArray();
        await using var scope = services.CreateAsyncScope();
        await scope.ServiceProvider.GetRequiredService<ISender>().Send(new LoadStockBatch(rows), cancellationToken);
    }
}
