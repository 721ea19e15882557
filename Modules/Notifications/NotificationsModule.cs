using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Notifications.Consumers;
using OmsModular.Modules.Notifications.Features;
using OmsModular.Modules.Notifications.Features.Templates;
using OmsModular.Modules.Notifications.Features.Webhooks;
using OmsModular.Modules.Notifications.Outbound;
using OmsModular.Modules.Notifications.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Notifications;

/// <summary>The Notifications module's registration entry point: its only public type.</summary>
public sealed class NotificationsModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Notifications", "notifications")
        .UseDbContext<NotificationsDbContext>()
        .PartitionsAcrossConsumers() // an order's events in commit order across its consumers: its contact is kept before it is told anything
        .ConsumesInBatches<OrderPlaced, CustomerEvents>("notifications.KeepContact")
        .ConsumesInBatches<OrderConfirmed, CustomerEvents>("notifications.TellConfirmed")
        .ConsumesInBatches<OrderShipped, CustomerEvents>("notifications.TellShipped")
        .ConsumesInBatches<OrderDelivered, CustomerEvents>("notifications.TellDelivered")
        .ConsumesInBatches<OrderCancelled, CustomerEvents>("notifications.TellCancelled")
        .ConsumesInBatches<OrderRejected, CustomerEvents>("notifications.TellRejected")
        .ConsumesInBatches<PaymentRefunded, CustomerEvents>("notifications.TellRefunded")
        .ConsumesInBatches<OrderLinesCancelled, CustomerEvents>("notifications.TellLinesCancelled")
        .ConsumesInBatches<OrderChanged, CustomerEvents>("notifications.TellChanged")
        .ConsumesInBatches<OrderChangeRefused, CustomerEvents>("notifications.TellChangeRefused")
        .ConsumesInBatches<PaymentReauthorizationFailed, CustomerEvents>("notifications.TellPaymentOnHold")
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<NotificationSettings>();
        services.AddSingleton<NotificationSignals>();
        services.AddSingleton<TemplateRenderer>();
        services.AddSingleton<WebhookRules>();
        services.AddSingleton<IDemoData, TemplateDemoData>();
        for (var i = 0; i < Math.Clamp(configuration.GetValue($"{NotificationSettings.Section}:Email:Senders", 4), 1, 32); i++)
        {
            services.AddSingleton<Microsoft.Extensions.Hosting.IHostedService>(sp => ActivatorUtilities.CreateInstance<EmailDelivery>(sp)); // side by side: each leases its own batch
        }
        WebhookSender.Register(services, configuration.GetValue($"{NotificationSettings.Section}:Webhooks:AllowPrivateNetworks", false));
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints) => NotificationEndpoints.Map(endpoints);
}
