using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Fulfillment.Features.Shipping;

/// <summary>A fulfilment order: one node's part of an order, its lines with their progress, its shipments and the time of each step.</summary>
internal sealed record FulfilmentOrderView(
    Guid Id,
    Guid OrderId,
    string Node,
    string Status,
    bool IsPickup,
    DateTimeOffset? PickupExpiresAt,
    IReadOnlyList<FulfilmentLineView> Lines,
    IReadOnlyList<ShipmentView> Shipments,
    int? Parcels,
    decimal? WeightKg,
    string? RejectionReason,
    string? PaymentHold,
    DateTimeOffset CreatedAt,
    DateTimeOffset? PickingStartedAt,
    DateTimeOffset? PackedAt,
    DateTimeOffset? ShippedAt,
    DateTimeOffset? DeliveredAt,
    DateTimeOffset? RejectedAt);

/// <summary>A line: ordered, picked (null until reported), shipped, delivered, cancelled, and given up by the node (<c>short</c>: re-sourced or cancelled).</summary>
internal sealed record FulfilmentLineView(string Sku, int Quantity, int? Picked, int Shipped, int Delivered, int Cancelled, int Short);

internal sealed record ShipmentLineView(string Sku, int Quantity);

internal sealed record ShipmentView(
    Guid Id,
    Guid FulfilmentOrderId,
    Guid OrderId,
    string Node,
    string Status,
    string Carrier,
    string Service,
    string TrackingNumber,
    string? TrackingUrl,
    int? Parcels,
    decimal? WeightKg,
    IReadOnlyList<ShipmentLineView> Lines,
    DateTimeOffset ShippedAt,
    DateTimeOffset? DeliveredAt);

/// <summary>The fulfilment orders of an order (one per node).</summary>
internal sealed record GetFulfilmentOrders(Guid OrderId) : IQuery<IReadOnlyList<FulfilmentOrderView>>;

internal sealed record GetFulfilmentOrder(Guid Id) : IQuery<FulfilmentOrderView>;

/// <summary>A node's work queue: its fulfilment orders in a state, oldest first.</summary>
internal sealed record ListFulfilmentOrders(string Node, FulfilmentOrderStatus? Status, int Limit) : IQuery<IReadOnlyList<FulfilmentOrderView>>;

internal static class FulfilmentViews
{
    public static FulfilmentOrderView Of(FulfilmentOrder f, IEnumerable<Shipment> shipments) => new(
        f.Id, f.OrderId, f.NodeCode, f.Status.Kebab(), f.IsPickup, f.PickupExpiresAt,
        f.ReadLines().Select(l => new FulfilmentLineView(l.Sku, l.Quantity, l.Picked, l.Shipped, l.Delivered, l.Cancelled, l.Short)).ToArray(),
        shipments.Where(s => s.FulfilmentOrderId == f.Id).OrderBy(s => s.ShippedAt).Select(Of).ToArray(),
        f.Parcels, f.WeightKg, f.RejectionReason, f.PaymentHold, f.CreatedAt, f.PickingStartedAt, f.PackedAt, f.ShippedAt, f.DeliveredAt, f.RejectedAt);

    public static ShipmentView Of(Shipment s) => new(
        s.Id, s.FulfilmentOrderId, s.OrderId, s.NodeCode, s.Status.Kebab(), s.Carrier, s.Service, s.TrackingNumber, s.TrackingUrl, s.Parcels, s.WeightKg,
        s.ReadLines().Select(l => new ShipmentLineView(l.Sku, l.Quantity)).ToArray(), s.ShippedAt, s.DeliveredAt);

    /// <summary>Runs a step of the domain and turns a refused step into a 409 problem naming the reason.</summary>
    public static T Step<T>(Func<T> step)
    {
        try
        {
            return step();
        }
        catch (FulfilmentStepException refused)
        {
            throw ProblemException.Conflict(refused.Code, "The fulfilment step is not possible now", refused.Message);
        }
    }

    public static async Task<FulfilmentOrder> FindAsync(FulfillmentDbContext db, Guid id, CancellationToken cancellationToken) =>
        await db.FulfilmentOrders.SingleOrDefaultAsync(f => f.Id == id, cancellationToken)
        ?? throw ProblemException.NotFound("Fulfilment order", $"No fulfilment order {id}.");

    /// <summary>The view of a fulfilment order being changed: its shipments as tracked now (saved, changed or new).</summary>
    public static async Task<FulfilmentOrderView> ViewAsync(FulfillmentDbContext db, FulfilmentOrder order, CancellationToken cancellationToken)
    {
        var saved = await db.Shipments.Where(s => s.FulfilmentOrderId == order.Id).ToListAsync(cancellationToken);
        var added = db.ChangeTracker.Entries<Shipment>().Where(e => e.State == EntityState.Added).Select(e => e.Entity);
        return Of(order, saved.Concat(added).Distinct());
    }
}

internal sealed class FulfilmentOrderQueries(FulfillmentDbContext db) :
    IQueryHandler<GetFulfilmentOrders, IReadOnlyList<FulfilmentOrderView>>,
    IQueryHandler<GetFulfilmentOrder, FulfilmentOrderView>,
    IQueryHandler<ListFulfilmentOrders, IReadOnlyList<FulfilmentOrderView>>
{
    public async ValueTask<IReadOnlyList<FulfilmentOrderView>> Handle(GetFulfilmentOrders query, CancellationToken cancellationToken)
    {
        var orders = await db.FulfilmentOrders.AsNoTracking().Where(f => f.OrderId == query.OrderId).OrderBy(f => f.NodeCode).ToListAsync(cancellationToken);
        var shipments = await db.Shipments.AsNoTracking().Where(s => s.OrderId == query.OrderId).ToListAsync(cancellationToken);
        return orders.Select(f => FulfilmentViews.Of(f, shipments)).ToArray();
    }

    public async ValueTask<FulfilmentOrderView> Handle(GetFulfilmentOrder query, CancellationToken cancellationToken)
    {
        var order = await db.FulfilmentOrders.AsNoTracking().SingleOrDefaultAsync(f => f.Id == query.Id, cancellationToken)
            ?? throw ProblemException.NotFound("Fulfilment order", $"No fulfilment order {query.Id}.");
        return FulfilmentViews.Of(order, await db.Shipments.AsNoTracking().Where(s => s.FulfilmentOrderId == order.Id).ToListAsync(cancellationToken));
    }

    public async ValueTask<IReadOnlyList<FulfilmentOrderView>> Handle(ListFulfilmentOrders query, CancellationToken cancellationToken)
    {
        var orders = db.FulfilmentOrders.AsNoTracking().Where(f => f.NodeCode == query.Node);
        if (query.Status is { } status)
        {
            orders = orders.Where(f => f.Status == status);
        }

        var page = await orders.OrderBy(f => f.CreatedAt).ThenBy(f => f.Id).Take(query.Limit).ToListAsync(cancellationToken);
        var ids = page.Select(f => f.Id).ToArray();
        var shipments = await db.Shipments.AsNoTracking().Where(s => ids.Contains(s.FulfilmentOrderId)).ToListAsync(cancellationToken);
        return page.Select(f => FulfilmentViews.Of(f, shipments)).ToArray();
    }
}

internal sealed record GetShipment(Guid Id) : IQuery<ShipmentView>;

internal sealed class ShipmentQueries(FulfillmentDbContext db) : IQueryHandler<GetShipment, ShipmentView>
{
    public async ValueTask<ShipmentView> Handle(GetShipment query, CancellationToken cancellationToken) =>
        FulfilmentViews.Of(await db.Shipments.AsNoTracking().SingleOrDefaultAsync(s => s.Id == query.Id, cancellationToken)
            ?? throw ProblemException.NotFound("Shipment", $"No shipment {query.Id}."));
}
