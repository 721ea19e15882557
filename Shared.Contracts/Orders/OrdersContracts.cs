namespace OmsModular.Shared.Contracts.Orders;

public sealed record OrderCustomer(string Id, string Email, string Name);

public sealed record OrderAddress(string Name, IReadOnlyList<string> Lines, string City, string PostalCode, string CountryCode, double? Latitude, double? Longitude);

/// <summary>A line as captured: SKU, whole quantity, and the price paid on a marketplace when there is one.</summary>
public sealed record OrderLineSnapshot(string Sku, int Quantity, decimal? MarketplaceUnitPrice);

/// <summary>How the order reaches the customer: shipped with a service level, or picked up at a store node.</summary>
public sealed record OrderDelivery(string Method, string? ServiceLevel, string? PickupLocation);

/// <summary>
/// An order was captured and committed by the Orders module: the start of the pipeline
/// (routing and reservation, pricing, payment authorisation).
/// </summary>
[IntegrationEvent("orders.order-placed", 1)]
public sealed record OrderPlaced(
    Guid OrderId,
    string OrderNumber,
    string Channel,
    string? Marketplace,
    string? ExternalOrderId,
    OrderCustomer Customer,
    string Currency,
    IReadOnlyList<OrderLineSnapshot> Lines,
    OrderAddress ShippingAddress,
    OrderDelivery Delivery,
    IReadOnlyList<string> CouponCodes,
    string PaymentMethod,
    DateTimeOffset PlacedAt) : IIntegrationEvent;

/// <summary>An order was cancelled (compensations follow in the modules that hold something for it).</summary>
[IntegrationEvent("orders.order-cancelled", 1)]
public sealed record OrderCancelled(Guid OrderId, string Reason, DateTimeOffset CancelledAt) : IIntegrationEvent;

/// <summary>Stock is reserved, the order priced and its payment authorised: the order is confirmed.</summary>
[IntegrationEvent("orders.order-confirmed", 1)]
public sealed record OrderConfirmed(Guid OrderId, string OrderNumber, string Currency, decimal Total, DateTimeOffset ConfirmedAt) : IIntegrationEvent;

/// <summary>A business problem found after capture rejected the order (reason: out-of-stock, pricing-failed, …).</summary>
[IntegrationEvent("orders.order-rejected", 1)]
public sealed record OrderRejected(Guid OrderId, string Reason, string Detail, DateTimeOffset RejectedAt) : IIntegrationEvent;

/// <summary>
/// An order's stock is no longer held and could not be reserved again where it was: Fulfillment is
/// asked to route it again (never to the nodes named in <see cref="ExcludedNodes"/>). Answered with
/// <c>fulfillment.order-routed.v1</c> or <c>fulfillment.order-routing-failed.v1</c> like a first routing.
/// </summary>
[IntegrationEvent("orders.order-rerouting-requested", 1)]
public sealed record OrderReroutingRequested(
    Guid OrderId,
    IReadOnlyList<OrderLineSnapshot> Lines,
    OrderAddress ShippingAddress,
    OrderDelivery Delivery,
    IReadOnlyList<string> ExcludedNodes,
    DateTimeOffset RequestedAt) : IIntegrationEvent;

/// <summary>
/// Orders decided that a shipment's share of the order total is due: Payments captures
/// <see cref="Amount"/> under the order's authorisation, once per <see cref="CaptureId"/> (the
/// shipment's id). The shares of an order add up to its total exactly; <see cref="Final"/> marks
/// the last one (nothing is left to capture after it).
/// </summary>
[IntegrationEvent("orders.capture-requested", 1)]
public sealed record CaptureRequested(Guid OrderId, Guid CaptureId, decimal Amount, string Currency, bool Final, DateTimeOffset RequestedAt) : IIntegrationEvent;

/// <summary>A line of a customer-visible order event: the SKU and the quantity it concerns.</summary>
public sealed record OrderEventLine(string Sku, int Quantity);

/// <summary>
/// A shipment of the order left (customer-visible): its lines, carrier and tracking, and the order's
/// state after it (<c>partially-shipped</c> or <c>shipped</c>).
/// </summary>
[IntegrationEvent("orders.order-shipped", 1)]
public sealed record OrderShipped(
    Guid OrderId,
    string OrderNumber,
    Guid ShipmentId,
    IReadOnlyList<OrderEventLine> Lines,
    string Carrier,
    string TrackingNumber,
    string? TrackingUrl,
    string OrderStatus,
    DateTimeOffset ShippedAt) : IIntegrationEvent;

/// <summary>A shipment of the order reached the customer (customer-visible); the order's state after it (<c>partially-delivered</c> or <c>delivered</c>).</summary>
[IntegrationEvent("orders.order-delivered", 1)]
public sealed record OrderDelivered(Guid OrderId, string OrderNumber, Guid ShipmentId, IReadOnlyList<OrderEventLine> Lines, string OrderStatus, DateTimeOffset DeliveredAt) : IIntegrationEvent;

/// <summary>The lines of an order with what each costs (gross, its discounts allocated) and how much of it has shipped.</summary>
public sealed record GetOrderLines(Guid OrderId) : IModuleRequest<OrderLineAmounts>;

/// <summary>An order's currency and lines; <see cref="Found"/> is false (and the lines empty) for an order Orders does not know.</summary>
public sealed record OrderLineAmounts(Guid OrderId, bool Found, string Currency, IReadOnlyList<OrderLineAmount> Lines);

public sealed record OrderLineAmount(string Sku, int Quantity, decimal Gross, int Shipped);

/// <summary>
/// Units of a line cancelled at the node that was to ship them. <paramref name="ReleasedAtNode"/>:
/// the node gave them up before (a shortage) and its reservation released them already.
/// </summary>
public sealed record CancelledLine(string Sku, int Quantity, string Node, bool ReleasedAtNode = false);

/// <summary>
/// A customer or an operator asked to cancel units of a confirmed order's lines that have not
/// shipped. Fulfillment, which knows what the nodes have packed and shipped, takes off what it still
/// can and answers with <c>fulfillment.units-cancelled.v1</c> (same <see cref="ChangeId"/>).
/// </summary>
[IntegrationEvent("orders.line-cancellation-requested", 1)]
public sealed record LineCancellationRequested(Guid OrderId, Guid ChangeId, IReadOnlyList<OrderEventLine> Lines, string Reason, DateTimeOffset RequestedAt) : IIntegrationEvent;

/// <summary>
/// Units of the order that had not shipped were cancelled (customer-visible): the lines and the node
/// each came from, the value they took off the total (<see cref="Amount"/>) and the total after it.
/// Inventory releases them at their nodes and Payments reduces the authorisation to
/// <see cref="NewTotal"/> (unless the order ended: then its end voids it); once per <see cref="ChangeId"/>.
/// </summary>
[IntegrationEvent("orders.order-lines-cancelled", 1)]
public sealed record OrderLinesCancelled(
    Guid OrderId,
    string OrderNumber,
    Guid ChangeId,
    IReadOnlyList<CancelledLine> Lines,
    decimal Amount,
    decimal NewTotal,
    string Currency,
    string Reason,
    string OrderStatus,
    bool OrderEnded,
    DateTimeOffset CancelledAt) : IIntegrationEvent;

/// <summary>Everything of the order was delivered and its return window closed: the order is <c>completed</c>.</summary>
[IntegrationEvent("orders.order-completed", 1)]
public sealed record OrderCompleted(Guid OrderId, string OrderNumber, DateTimeOffset DeliveredAt, DateTimeOffset CompletedAt) : IIntegrationEvent;

/// <summary>
/// A customer or an operator asked to change a confirmed order before it ships (more units of a
/// line, a new line, the shipping address or the service level), priced already. Fulfillment plans
/// and reserves <see cref="AddedUnits"/> (under <see cref="ChangeId"/>) and, when
/// <see cref="DeliveryChanged"/>, holds the order's unshipped fulfilment orders until the change is
/// decided; it answers with <c>fulfillment.order-change-prepared.v1</c> or
/// <c>fulfillment.order-change-unavailable.v1</c>.
/// </summary>
[IntegrationEvent("orders.order-change-requested", 1)]
public sealed record OrderChangeRequested(
    Guid OrderId,
    Guid ChangeId,
    IReadOnlyList<OrderEventLine> AddedUnits,
    OrderAddress ShippingAddress,
    OrderDelivery Delivery,
    bool DeliveryChanged,
    DateTimeOffset RequestedAt) : IIntegrationEvent;

/// <summary>Units a change added, and the node reserved to ship them.</summary>
public sealed record AddedUnits(string Sku, int Quantity, string Node);

/// <summary>A line of an applied order change: its quantity before and after, and what it costs now.</summary>
public sealed record ChangedLine(string Sku, int QuantityBefore, int Quantity, decimal Gross);

/// <summary>
/// A change of the order was applied (customer-visible): the lines it changed, where the added units
/// ship from (reserved there already), the delivery now and the totals before and after. Fulfillment
/// makes fulfilment orders of <see cref="Allocations"/> and lets the held ones go on; when
/// <see cref="NewTotal"/> is below <see cref="PreviousTotal"/>, Payments lowers the authorisation by the
/// difference and refunds what was captured beyond the new total (a raise was authorised before the
/// change was applied). Once per <see cref="ChangeId"/>.
/// </summary>
[IntegrationEvent("orders.order-changed", 1)]
public sealed record OrderChanged(
    Guid OrderId,
    string OrderNumber,
    Guid ChangeId,
    IReadOnlyList<ChangedLine> Lines,
    IReadOnlyList<AddedUnits> Allocations,
    OrderAddress ShippingAddress,
    OrderDelivery Delivery,
    bool DeliveryChanged,
    decimal PreviousTotal,
    decimal NewTotal,
    string Currency,
    string Reason,
    string OrderStatus,
    DateTimeOffset ChangedAt) : IIntegrationEvent;

/// <summary>
/// A requested change of the order was refused and the order stays as it was (reason
/// <c>out-of-stock</c>, <c>payment-declined</c>, <c>packed</c>, <c>already-shipped</c>,
/// <c>order-changed</c>, <c>order-ended</c>). Fulfillment releases what it reserved for the change and
/// lets the held fulfilment orders go on; Payments takes back what it raised the authorisation by for
/// it. <see cref="Total"/> is the order's total, unchanged. Once per <see cref="ChangeId"/>.
/// </summary>
[IntegrationEvent("orders.order-change-refused", 1)]
public sealed record OrderChangeRefused(Guid OrderId, string OrderNumber, Guid ChangeId, string Reason, string Detail, decimal Total, string Currency, DateTimeOffset RefusedAt) : IIntegrationEvent;
