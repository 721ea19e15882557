using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Orders.Features;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Orders;

/// <summary>The Orders module's registration entry point: its only public type.</summary>
public sealed class OrdersModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Orders", "orders")
        .UseDbContext<OrdersDbContext>()
        .Publishes<OrderPlaced>()
        .Publishes<OrderCancelled>()
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration) =>
        services.AddSingleton<OrderSettings>();

    public void MapEndpoints(IEndpointRouteBuilder endpoints) => OrderEndpoints.Map(endpoints);
}
