using FluentValidation;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Orders.Features;

/// <summary>An order by id; a channel-bound caller sees only its channel's orders (others are not found).</summary>
internal sealed record GetOrder(Guid OrderId, Caller? Caller = null) : IQuery<OrderView>;

internal sealed record ListOrders(
    OrderStatus? Status,
    SalesChannel? Channel,
    string? CustomerId,
    DateTimeOffset? From,
    DateTimeOffset? To,
    Guid? Cursor,
    int Limit,
    Caller? Caller = null) : IQuery<OrderPage>;

internal sealed record OrderView(
    Guid Id,
    string Number,
    string Status,
    string? StatusReason,
    string? PaymentHold,
    string Channel,
    string? Marketplace,
    string? ExternalOrderId,
    OrderCustomer Customer,
    string Currency,
    IReadOnlyList<OrderLineView> Lines,
    OrderAddress ShippingAddress,
    OrderDelivery Delivery,
    IReadOnlyList<string> CouponCodes,
    string PaymentMethod,
    DateTimeOffset PlacedAt,
    OrderSteps Steps,
    decimal? Total,
    decimal? TaxTotal,
    decimal? ShippingGross,
    decimal? DiscountTotal,
    IReadOnlyList<DiscountView> Discounts,
    IReadOnlyList<OrderCouponView> Coupons,
    Guid? RoutingDecisionId,
    string? RoutingDecisionUrl,
    IReadOnlyList<FulfilmentView> Fulfilment,
    IReadOnlyList<OrderShipmentView> Shipments,
    IReadOnlyList<OrderChangeView> Changes,
    IReadOnlyList<TimelineView> Timeline);

/// <summary>A change asked for after confirmation: <c>requested</c>, <c>applied</c> or <c>refused</c> (with the reason), and the totals before and after.</summary>
internal sealed record OrderChangeView(Guid ChangeId, string Status, string Reason, decimal PreviousTotal, decimal NewTotal, DateTimeOffset RequestedAt, DateTimeOffset? DecidedAt, string? RefusalReason, string? RefusalDetail);

/// <summary>A node the order ships from (or is picked up at), with its lines and distance to the destination.</summary>
internal sealed record FulfilmentView(string Node, double? DistanceKm, IReadOnlyList<AllocatedLine> Lines);

/// <summary>The progress of each pipeline step: pending, done or failed.</summary>
internal sealed record OrderSteps(string Reservation, string Pricing, string Payment);

/// <summary>A line; the prices are set once the order is priced (discount in the price list's terms, net or gross).</summary>
internal sealed record OrderLineView(int LineNumber, string Sku, int Quantity, decimal? MarketplaceUnitPrice, decimal? UnitPrice, decimal? Discount, decimal? Net, decimal? Tax, decimal? Gross, LineQuantities Quantities);

/// <summary>Where a line's units are: ordered, cancelled, shipped and delivered.</summary>
internal sealed record LineQuantities(int Ordered, int Cancelled, int Shipped, int Delivered);

/// <summary>A shipment of the order: node, lines, carrier and tracking, the share of the total it captures, and when it left and arrived.</summary>
internal sealed record OrderShipmentView(Guid ShipmentId, string Node, IReadOnlyList<AllocatedLine> Lines, string Carrier, string TrackingNumber, string? TrackingUrl, decimal CaptureAmount, DateTimeOffset ShippedAt, DateTimeOffset? DeliveredAt);

internal sealed record DiscountView(string Code, string Name, string Kind, decimal Amount, string? CouponCode);

/// <summary>What became of a coupon code on an order.</summary>
internal sealed record OrderCouponView(string Code, string Status, string? Reason);

internal sealed record TimelineView(DateTimeOffset At, string Event, string Status, string? Reason, string Cause, string? Actor);

internal sealed record OrderSummary(Guid Id, string Number, string Status, string Channel, string CustomerId, DateTimeOffset PlacedAt);

/// <summary>A page of orders, newest first; pass <see cref="NextCursor"/> back for the next page.</summary>
internal sealed record OrderPage(IReadOnlyList<OrderSummary> Items, Guid? NextCursor);

internal sealed class ListOrdersValidator : AbstractValidator<ListOrders>
{
    public ListOrdersValidator()
    {
        RuleFor(q => q.Limit).InclusiveBetween(1, 200);
        RuleFor(q => q.To).GreaterThan(q => q.From).When(q => q.From is not null && q.To is not null);
    }
}

internal sealed class OrderQueryHandlers(OrdersDbContext db) :
    IQueryHandler<GetOrder, OrderView>,
    IQueryHandler<ListOrders, OrderPage>
{
    public async ValueTask<OrderView> Handle(GetOrder query, CancellationToken cancellationToken)
    {
        // The split queries (the row, its lines, timeline, shipments) read one snapshot: without it, a
        // change committed between them showed its timeline entry beside the row as it was before.
        await using var snapshot = await db.Database.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var order = await db.Orders.AsNoTracking().AsSplitQuery().SingleOrDefaultAsync(o => o.Id == query.OrderId, cancellationToken);
        var view = OrderViews.Of(OrderAccess.Visible(order, query.OrderId, query.Caller));
        return query.Caller is { IsChannelBound: true }
            ? view with { Timeline = view.Timeline.Select(t => t with { Actor = null }).ToArray() } // operators' key names are not a shop's business
            : view;
    }

    public async ValueTask<OrderPage> Handle(ListOrders query, CancellationToken cancellationToken)
    {
        var orders = db.Orders.AsNoTracking().IgnoreAutoIncludes();
        if (query.Status is { } status)
        {
            orders = orders.Where(o => o.Status == status);
        }

        if (query.Channel is { } channel)
        {
            orders = orders.Where(o => o.Channel == channel);
        }

        if (OrderAccess.ChannelOf(query.Caller) is { } own)
        {
            orders = orders.Where(o => o.Channel == own);
            if (query.Caller!.Marketplace is { } marketplace)
            {
                orders = orders.Where(o => o.Marketplace == marketplace);
            }
        }

        if (query.CustomerId is { } customer)
        {
            orders = orders.Where(o => o.Customer.Id == customer);
        }

        if (query.From is { } from)
        {
            orders = orders.Where(o => o.PlacedAt >= from);
        }

        if (query.To is { } to)
        {
            orders = orders.Where(o => o.PlacedAt < to);
        }

        if (query.Cursor is { } cursor)
        {
            orders = orders.Where(o => o.Id.CompareTo(cursor) < 0); // ids are time-ordered (UUID v7): keyset on the key
        }

        var page = await orders.OrderByDescending(o => o.Id).Take(query.Limit + 1)
            .Select(o => new { o.Id, o.Number, o.Status, o.Channel, CustomerId = o.Customer.Id, o.PlacedAt })
            .ToListAsync(cancellationToken);
        var items = page.Take(query.Limit).Select(o => new OrderSummary(o.Id, o.Number, o.Status.Kebab(), o.Channel.Kebab(), o.CustomerId, o.PlacedAt)).ToArray();
        return new OrderPage(items, page.Count > query.Limit ? items[^1].Id : null);
    }
}

/// <summary>What a channel-bound caller may see: the orders of its channel (and marketplace), on every lookup.</summary>
internal static class OrderAccess
{
    public static SalesChannel? ChannelOf(Caller? caller) =>
        caller?.Channel is { } channel && Enum.TryParse<SalesChannel>(channel, ignoreCase: true, out var parsed) ? parsed : null;

    /// <summary>The order, or 404 when there is none or the caller may not see it (the same answer: nothing leaks).</summary>
    public static Order Visible(Order? order, Guid id, Caller? caller) =>
        order is not null && (caller is null || caller.MaySee(order.Channel.Kebab(), order.Marketplace))
            ? order
            : throw ProblemException.NotFound("Order", $"There is no order {id}.");
}

/// <summary>How an order is shown over the API.</summary>
internal static class OrderViews
{
    public static OrderView Of(Order o) => new(
        o.Id,
        o.Number,
        o.Status.Kebab(),
        o.StatusReason,
        o.PaymentHold,
        o.Channel.Kebab(),
        o.Marketplace,
        o.ExternalOrderId,
        new OrderCustomer(o.Customer.Id, o.Customer.Email, o.Customer.Name),
        o.Currency,
        o.Lines.OrderBy(l => l.LineNumber).Select(l => new OrderLineView(l.LineNumber, l.Sku, l.Quantity, l.MarketplaceUnitPrice, l.UnitPrice, l.Discount, l.Net, l.Tax, l.Gross,
            new LineQuantities(l.Quantity, l.CancelledQuantity, l.ShippedQuantity, l.DeliveredQuantity))).ToArray(),
        new OrderAddress(o.ShippingAddress.Name, o.ShippingAddress.Lines, o.ShippingAddress.City, o.ShippingAddress.PostalCode, o.ShippingAddress.CountryCode,
            o.ShippingAddress.Latitude, o.ShippingAddress.Longitude),
        new OrderDelivery(o.Delivery.Method, o.Delivery.ServiceLevel, o.Delivery.PickupLocation),
        o.CouponCodes,
        o.Payment.Method,
        o.PlacedAt,
        new OrderSteps(o.Reservation.Kebab(), o.Pricing.Kebab(), o.PaymentStep.Kebab()),
        o.Total,
        o.TaxTotal,
        o.ShippingGross,
        o.DiscountTotal,
        o.Discounts.Select(d => new DiscountView(d.Code, d.Name, d.Kind, d.Amount, d.CouponCode)).ToArray(),
        o.Coupons.Select(c => new OrderCouponView(c.Code, c.Status, c.Reason)).ToArray(),
        o.RoutingDecisionId,
        o.RoutingDecisionId is null ? null : $"/api/v1/fulfillment/routing-decisions?orderId={o.Id}",
        o.Fulfilment.Select(f => new FulfilmentView(f.Node, f.DistanceKm, f.Lines.Select(l => new AllocatedLine(l.Sku, l.Quantity)).ToArray())).ToArray(),
        o.Shipments.OrderBy(s => s.ShippedAt).Select(s => new OrderShipmentView(s.ShipmentId, s.Node, s.Lines.Select(l => new AllocatedLine(l.Sku, l.Quantity)).ToArray(),
            s.Carrier, s.TrackingNumber, s.TrackingUrl, s.CaptureAmount, s.ShippedAt, s.DeliveredAt)).ToArray(),
        o.Changes.OrderBy(c => c.RequestedAt).Select(c => new OrderChangeView(c.ChangeId, c.Status.Kebab(), c.Reason, c.PreviousTotal, c.NewTotal, c.RequestedAt, c.DecidedAt, c.RefusalReason, c.RefusalDetail)).ToArray(),
        o.Timeline.OrderBy(t => t.At).Select(t => new TimelineView(t.At, t.Event, t.Status.Kebab(), t.Reason, t.Cause, t.Actor)).ToArray());
}
