using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Fulfillment.Consumers;
using OmsModular.Modules.Fulfillment.Features;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.Jobs;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Fulfillment;

/// <summary>The Fulfillment module's registration entry point: its only public type.</summary>
public sealed class FulfillmentModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Fulfillment", "fulfillment")
        .UseDbContext<FulfillmentDbContext>()
        .Publishes<OrderRouted>()
        .Publishes<OrderRoutingFailed>()
        .Publishes<ShipmentShipped>()
        .Publishes<ShipmentDelivered>()
        .ConsumesInBatches<OrderPlaced, RouteOrder>("fulfillment.RouteOrder")
        .ConsumesInBatches<OrderReroutingRequested, RouteOrder>("fulfillment.RerouteOrder")
        .ConsumesInBatches<OrderConfirmed, CreateFulfilmentOrders>()
        .ConsumesInBatches<LineCancellationRequested, TakeOffCancelledUnits>()
        .Publishes<UnitsShort>()
        .ConsumesInBatches<UnitsShort, RouteOrder>("fulfillment.ResourceShortage")
        .ConsumesInBatches<ReservedUnitsLost, GiveUpLostUnits>()
        .ConsumesInBatches<PaymentReauthorizationFailed, HoldOnPayment>("fulfillment.HoldOnPayment")
        .ConsumesInBatches<PaymentReauthorized, HoldOnPayment>("fulfillment.LiftPaymentHold")
        .Publishes<ShortageResolved>()
        .Publishes<OrderChangePrepared>()
        .Publishes<OrderChangeUnavailable>()
        .ConsumesInBatches<OrderChangeRequested, RouteOrder>("fulfillment.PrepareOrderChange")
        .ConsumesInBatches<OrderChanged, FollowOrderChange>("fulfillment.ApplyOrderChange")
        .ConsumesInBatches<OrderChangeRefused, FollowOrderChange>("fulfillment.ReleaseRefusedChange")
        .Publishes<UnitsCancelled>()
        .Publishes<PickupExpired>()
        .Handles<FindNodes, FoundNodes, FindNodesApi>()
        .Sends<GetAvailability>()
        .Sends<ReserveStockBatch>()
        .Sends<ReleaseReservationsBatch>()
        .Sends<GetPaymentHold>()
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<IDemoData, FulfillmentDemoData>();
        services.AddSingleton<Features.Shipping.PickupSettings>();
        services.AddScoped<Features.Shipping.PickupExpiryJob>();
        services.AddRecurringJob<Features.Shipping.PickupExpiryJob>(Features.Shipping.PickupExpiryJob.SweepJobId, job => job.SweepAsync(CancellationToken.None), Hangfire.Cron.Minutely());
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints) => FulfillmentEndpoints.Map(endpoints);
}
