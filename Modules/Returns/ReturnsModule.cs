using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Returns.Persistence;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Returns;

/// <summary>The Returns module's registration entry point: its only public type.</summary>
public sealed class ReturnsModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Returns", "returns")
        .UseDbContext<ReturnsDbContext>()
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
    }
}
