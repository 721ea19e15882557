using Mediator;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Fulfillment.Features;

internal sealed class FulfillmentDemoData : IDemoData
{
    public int Order => 10;

    public async Task SeedAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        foreach (var node in DemoCatalogue.Nodes)
        {
            await using var scope = services.CreateAsyncScope();
            var store = node.Kind == "store";
            await scope.ServiceProvider.GetRequiredService<ISender>().Send(
                new PutNode(node.Code, new NodeRequest(node.Name, store ? NodeKind.Store : NodeKind.Warehouse, "DE", node.Latitude, node.Longitude, CanShip: !store, CanPickup: store, DailyCapacity: store ? 50 : 5000, Priority: store ? 20 : 10)),
                cancellationToken);
        }
    }
}
