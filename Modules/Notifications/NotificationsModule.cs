using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Notifications.Persistence;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Notifications;

/// <summary>The Notifications module's registration entry point: its only public type.</summary>
public sealed class NotificationsModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Notifications", "notifications")
        .UseDbContext<NotificationsDbContext>()
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
    }
}
