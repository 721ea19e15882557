using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Pricing.Consumers;
using OmsModular.Modules.Pricing.Features;
using OmsModular.Modules.Pricing.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Pricing;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Pricing;

/// <summary>The Pricing module's registration entry point: its only public type.</summary>
public sealed class PricingModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Pricing", "pricing")
        .UseDbContext<PricingDbContext>()
        .Publishes<OrderPriced>()
        .Publishes<OrderPricingFailed>()
        .Handles<GetServiceLevels, ServiceLevels, ServiceLevelsApi>()
        .Handles<RepriceOrder, OrderRepriced, RepriceOrderApi>()
        .ConsumesInBatches<OrderPlaced, PriceOrder>()
        .ConsumesInBatches<OrderCancelled, ReleaseCouponUses>("pricing.ReleaseCouponUsesOnCancel")
        .ConsumesInBatches<OrderRejected, ReleaseCouponUses>("pricing.ReleaseCouponUsesOnReject")
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddScoped<PriceCalculator>();
        services.AddScoped<Features.Promotions.CouponBook>();
        services.AddSingleton<IDemoData, PricingDemoData>();
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints) => PricingEndpoints.Map(endpoints);
}
