using Hangfire;
using Mediator;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Infrastructure.Jobs;

namespace OmsModular.Modules.Fulfillment.Features.Shipping;

/// <summary><c>Oms:Fulfillment:PickupHold</c>: how long a pickup order waits at its store (7 days by default).</summary>
internal sealed class PickupSettings(IConfiguration configuration)
{
    public TimeSpan Hold { get; } = configuration.GetValue("Oms:Fulfillment:PickupHold", TimeSpan.FromDays(7));
}

/// <summary>A packed pickup order is ready at its store.</summary>
internal sealed record ReadyForPickup(Guid Id) : ICommand<FulfilmentOrderView>;

/// <summary>The customer took a pickup order at the store.</summary>
internal sealed record PickUp(Guid Id) : ICommand<FulfilmentOrderView>;

/// <summary>Pickup orders whose pickup time has ended (up to <paramref name="Limit"/>, due by <paramref name="To"/> when given).</summary>
internal sealed record ExpirePickups(int Limit, DateTimeOffset? To = null) : ICommand<int>;

/// <summary>
/// Pickup at a store: <c>packed → ready-for-pickup → picked-up</c>. Picking up hands over everything
/// packed, as a shipment (carrier <c>pickup</c>) that is shipped and delivered at once: Inventory takes
/// the stock, Orders captures and the order is delivered. A pickup order not picked up in time
/// (<see cref="PickupSettings.Hold"/>) expires: <see cref="PickupExpired"/> makes Orders ask for its
/// units to be cancelled (the store takes them off, the reservation is released, the customer is told).
/// </summary>
internal sealed class PickupHandlers(FulfillmentDbContext db, PickupSettings settings, IBackgroundJobClient jobs, DueWindows windows, TimeProvider clock, ILogger<PickupHandlers> logger) :
    ICommandHandler<ReadyForPickup, FulfilmentOrderView>,
    ICommandHandler<PickUp, FulfilmentOrderView>,
    ICommandHandler<ExpirePickups, int>
{
    public async ValueTask<FulfilmentOrderView> Handle(ReadyForPickup command, CancellationToken cancellationToken)
    {
        var order = await FulfilmentViews.FindAsync(db, command.Id, cancellationToken);
        var wasReady = order.Status == FulfilmentOrderStatus.ReadyForPickup;
        FulfilmentViews.Step(() =>
        {
            order.ReadyForPickup(settings.Hold, clock.GetUtcNow());
            return true;
        });
        if (!wasReady && windows.Claim("fulfillment.pickup-expiry", order.PickupExpiresAt!.Value) is { } window)
        {
            try
            {
                PickupExpiryJob.Schedule(jobs, window.To);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogWarning(exception, "The pickup expiry of {FulfilmentOrderId} could not be scheduled; the minutely sweep expires it", order.Id);
            }
        }

        return await FulfilmentViews.ViewAsync(db, order, cancellationToken);
    }

    public async ValueTask<FulfilmentOrderView> Handle(PickUp command, CancellationToken cancellationToken)
    {
        var order = await FulfilmentViews.FindAsync(db, command.Id, cancellationToken);
        if (order.Status == FulfilmentOrderStatus.PickedUp)
        {
            return await FulfilmentViews.ViewAsync(db, order, cancellationToken); // a repeat: picked up already
        }

        var now = clock.GetUtcNow();
        var lines = FulfilmentViews.Step(() => order.PickUp(now));
        var shipment = new Shipment
        {
            Id = Guid.CreateVersion7(),
            FulfilmentOrderId = order.Id,
            OrderId = order.OrderId,
            NodeCode = order.NodeCode,
            Status = ShipmentStatus.Delivered,
            Carrier = "pickup",
            Service = "store-pickup",
            TrackingNumber = $"PICKUP-{order.Id:N}",
            Lines = Shipment.WriteLines(lines),
            IdempotencyKey = $"pickup-{order.Id}",
            RequestHash = string.Empty,
            ShippedAt = now,
            DeliveredAt = now,
        };
        db.Shipments.Add(shipment);
        var allocated = lines.Select(l => new AllocatedLine(l.Sku, l.Quantity)).ToArray();
        db.Publish(new ShipmentShipped(shipment.Id, order.OrderId, order.Id, order.NodeCode, allocated, shipment.Carrier, shipment.Service, shipment.TrackingNumber, null, now), order.OrderId.ToString());
        db.Publish(new ShipmentDelivered(shipment.Id, order.OrderId, order.NodeCode, allocated, now), order.OrderId.ToString());
        return await FulfilmentViews.ViewAsync(db, order, cancellationToken);
    }

    public async ValueTask<int> Handle(ExpirePickups command, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var due = command.To is { } to && to < now ? to : now;
        var expiring = await db.FulfilmentOrders
            .Where(f => f.Status == FulfilmentOrderStatus.ReadyForPickup && !f.PickupExpired && f.PickupExpiresAt <= due)
            .OrderBy(f => f.PickupExpiresAt)
            .Take(command.Limit)
            .ToListAsync(cancellationToken);
        foreach (var order in expiring.Where(f => f.ExpirePickup(now)))
        {
            var lines = order.ReadLines().Where(l => l.ToShip > l.Shipped).Select(l => new AllocatedLine(l.Sku, l.ToShip - l.Shipped)).ToArray();
            db.Publish(new PickupExpired(order.OrderId, order.Id, order.NodeCode, lines, now), order.OrderId.ToString());
        }

        return expiring.Count;
    }
}

/// <summary>The Hangfire jobs that expire pickups: a delayed job per second of pickup times, and a minutely sweep.</summary>
internal sealed class PickupExpiryJob(ISender sender, IBackgroundJobClient jobs, TimeProvider clock)
{
    public const string SweepJobId = "fulfillment-expire-pickups";

    public static void Schedule(IBackgroundJobClient jobs, DateTimeOffset to) =>
        jobs.Schedule<PickupExpiryJob>(job => job.ExpireByAsync(to, CancellationToken.None), to.AddSeconds(1));

    public async Task ExpireByAsync(DateTimeOffset to, CancellationToken cancellationToken)
    {
        while (await sender.Send(new ExpirePickups(200, to), cancellationToken) == 200)
        {
        }

        if (clock.GetUtcNow() < to)
        {
            Schedule(jobs, to); // Hangfire's schedule has whole-second resolution: it ran early
        }
    }

    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        while (await sender.Send(new ExpirePickups(200), cancellationToken) == 200)
        {
        }
    }
}
