using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Payments.Persistence;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Payments;

/// <summary>The Payments module's registration entry point: its only public type.</summary>
public sealed class PaymentsModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Payments", "payments")
        .UseDbContext<PaymentsDbContext>()
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
    }
}
