using OmsModular.Shared.Contracts.Fulfillment;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Inventory.Consumers;
using OmsModular.Modules.Inventory.Features;
using OmsModular.Modules.Inventory.Persistence;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Jobs;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Inventory;

/// <summary>The Inventory module's registration entry point: its only public type.</summary>
public sealed class InventoryModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Inventory", "inventory")
        .UseDbContext<InventoryDbContext>()
        .Publishes<StockReserved>()
        .Publishes<StockReservationFailed>()
        .Publishes<StockReleased>()
        .Publishes<StockLevelChanged>()
        .Sends<FindNodes>()
        .Handles<GetAvailability, AvailabilityResult, GetAvailabilityApi>()
        .Handles<ReserveStock, ReservationOutcome, ReservationApi>()
        .Handles<ReleaseReservations, OrderReservations, ReservationApi>()
        .Handles<ConfirmReservations, OrderReservations, ReservationApi>()
        .Handles<ReserveStockBatch, IReadOnlyList<ReservationOutcome>, ReservationApi>()
        .Handles<ReleaseReservationsBatch, IReadOnlyList<OrderReservations>, ReservationApi>()
        .Handles<ConfirmReservationsBatch, IReadOnlyList<OrderReservations>, ReservationApi>()
        .ConsumesInBatches<OrderCancelled, ReleaseEndedOrders>("inventory.ReleaseEndedOrdersOnCancel")
        .ConsumesInBatches<OrderRejected, ReleaseEndedOrders>("inventory.ReleaseEndedOrdersOnReject")
        .ConsumesInBatches<ShipmentShipped, TakeShippedStockOnShipment>()
        .ConsumesInBatches<OrderLinesCancelled, ReleaseCancelledUnitsOnChange>()
        .ConsumesInBatches<UnitsShort, ReleaseShortUnitsOnShortage>()
        .Publishes<StockShortfall>()
        .ConsumesInBatches<StockShortfall, ResolveStockShortfallsOnCount>()
        .Publishes<ReservedUnitsLost>()
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<InventorySettings>();
        services.AddScoped<ReservationExpiryJob>();
        services.AddRecurringJob<ReservationExpiryJob>(ReservationExpiryJob.SweepJobId, job => job.SweepAsync(CancellationToken.None), Hangfire.Cron.Minutely());
        services.AddSingleton<IDemoData, InventoryDemoData>();
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints) => InventoryEndpoints.Map(endpoints);
}
