using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Pricing.Persistence;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Pricing;

/// <summary>The Pricing module's registration entry point: its only public type.</summary>
public sealed class PricingModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Pricing", "pricing")
        .UseDbContext<PricingDbContext>()
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
    }
}
