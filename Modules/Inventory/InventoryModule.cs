using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Inventory.Persistence;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Inventory;

/// <summary>The Inventory module's registration entry point: its only public type.</summary>
public sealed class InventoryModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Inventory", "inventory")
        .UseDbContext<InventoryDbContext>()
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
    }
}
