using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Orders.Consumers;
using OmsModular.Modules.Orders.Features;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Contracts.Pricing;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Jobs;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Orders;

/// <summary>The Orders module's registration entry point: its only public type.</summary>
public sealed class OrdersModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Orders", "orders")
        .UseDbContext<OrdersDbContext>()
        .PartitionsAcrossConsumers() // the process manager: one step of an order at a time, so several processors can run
        .Publishes<OrderPlaced>()
        .Publishes<OrderCancelled>()
        .Publishes<OrderConfirmed>()
        .Publishes<OrderRejected>()
        .Publishes<OrderReroutingRequested>()
        .Publishes<CaptureRequested>()
        .Publishes<OrderShipped>()
        .Publishes<OrderDelivered>()
        .Publishes<OrderLinesCancelled>()
        .Publishes<LineCancellationRequested>()
        .Publishes<OrderCompleted>()
        .Publishes<OrderChangeRequested>()
        .Publishes<OrderChanged>()
        .Publishes<OrderChangeRefused>()
        .ConsumesInBatches<OrderChangePrepared, OrderChanges>("orders.ApplyOrderChange")
        .ConsumesInBatches<OrderChangeUnavailable, OrderChanges>("orders.RefuseOrderChange")
        .Sends<RepriceOrder>()
        .Sends<IncreaseAuthorization>()
        .ConsumesInBatches<UnitsCancelled, OrderShipping>("orders.RecordCancelledUnits")
        .ConsumesInBatches<PickupExpired, OrderShipping>("orders.CancelExpiredPickup")
        .ConsumesInBatches<ShortageResolved, OrderShipping>("orders.RecordShortage")
        .ConsumesInBatches<OrderRouted, OnOrderRouted>()
        .ConsumesInBatches<OrderRoutingFailed, OnOrderRoutingFailed>()
        .ConsumesInBatches<OrderPriced, OnOrderPriced>()
        .ConsumesInBatches<OrderPricingFailed, OnOrderPricingFailed>()
        .ConsumesInBatches<PaymentVoided, OnPaymentVoided>()
        .ConsumesInBatches<ShipmentShipped, OrderShipping>("orders.RecordShipment")
        .ConsumesInBatches<ShipmentDelivered, OrderShipping>("orders.RecordDelivery")
        .ConsumesInBatches<PaymentCaptured, OrderShipping>("orders.RecordCapture")
        .Handles<GetOrderLines, OrderLineAmounts, OrderLinesApi>()
        .ConsumesInBatches<PaymentRefunded, OrderShipping>("orders.RecordRefund")
        .ConsumesInBatches<PaymentReauthorized, OrderShipping>("orders.RecordReauthorization")
        .ConsumesInBatches<PaymentReauthorizationFailed, OrderShipping>("orders.HoldPayment")
        .Sends<AuthorizePaymentBatch>()
        .Sends<ConfirmReservationsBatch>()
        .Sends<ReserveStockBatch>()
        .Sends<GetPaymentTokenKey>()
        .Sends<GetPaymentMethods>()
        .Sends<GetServiceLevels>()
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<OrderSettings>();
        services.AddSingleton<PaymentTokenSealer>();
        services.AddSingleton<CaptureReferences>();
        services.AddScoped<OrderPipeline>();
        services.AddScoped<OrderTimeoutJob>();
        services.AddScoped<OrderCompletionJob>();
        services.AddRecurringJob<OrderCompletionJob>(OrderCompletionJob.SweepJobId, job => job.SweepAsync(CancellationToken.None), Hangfire.Cron.Minutely());
        services.AddRecurringJob<OrderTimeoutJob>(OrderTimeoutJob.SweepJobId, job => job.SweepAsync(CancellationToken.None), Hangfire.Cron.Minutely());
        services.AddSingleton<OrderIntake>();
        services.AddHostedService(sp => sp.GetRequiredService<OrderIntake>());
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints) => OrderEndpoints.Map(endpoints);
}
