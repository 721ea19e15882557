namespace OmsModular.Shared.Contracts.Fulfillment;

/// <summary>What one node ships (or hands over) for an order.</summary>
public sealed record NodeAllocation(string Node, IReadOnlyList<AllocatedLine> Lines, double? DistanceKm);

public sealed record AllocatedLine(string Sku, int Quantity);

/// <summary>The order's lines are planned at one or more nodes and reserved there.</summary>
[IntegrationEvent("fulfillment.order-routed", 1)]
public sealed record OrderRouted(Guid OrderId, Guid DecisionId, IReadOnlyList<NodeAllocation> Allocations) : IIntegrationEvent;

/// <summary>No plan could be made or reserved (reason: <c>out-of-stock</c>, <c>pickup-location-short</c>, <c>no-node</c>).</summary>
[IntegrationEvent("fulfillment.order-routing-failed", 1)]
public sealed record OrderRoutingFailed(Guid OrderId, Guid DecisionId, string Reason, string Detail) : IIntegrationEvent;

/// <summary>Which of these codes name a fulfilment node (active or not): stock can be kept only at a node.</summary>
public sealed record FindNodes(IReadOnlyList<string> Codes) : IModuleRequest<FoundNodes>;

public sealed record FoundNodes(IReadOnlyList<string> Codes);

/// <summary>
/// A shipment left a node: these lines (SKU, quantity) of the order, with the carrier, service and
/// tracking. Each shipment is published once; its id names it everywhere (the capture of its share,
/// the stock it takes out of the node).
/// </summary>
[IntegrationEvent("fulfillment.shipment-shipped", 1)]
public sealed record ShipmentShipped(
    Guid ShipmentId,
    Guid OrderId,
    Guid FulfilmentOrderId,
    string Node,
    IReadOnlyList<AllocatedLine> Lines,
    string Carrier,
    string Service,
    string TrackingNumber,
    string? TrackingUrl,
    DateTimeOffset ShippedAt) : IIntegrationEvent;

/// <summary>A shipment reached the customer (reported by the node, an operator or the carrier's tracking callback).</summary>
[IntegrationEvent("fulfillment.shipment-delivered", 1)]
public sealed record ShipmentDelivered(Guid ShipmentId, Guid OrderId, string Node, IReadOnlyList<AllocatedLine> Lines, DateTimeOffset DeliveredAt) : IIntegrationEvent;

/// <summary>
/// The answer to <c>orders.line-cancellation-requested.v1</c>: the units the nodes took off their
/// fulfilment orders (each with its node), and those they could not (already packed or shipped).
/// </summary>
[IntegrationEvent("fulfillment.units-cancelled", 1)]
public sealed record UnitsCancelled(Guid OrderId, Guid ChangeId, IReadOnlyList<CancelledUnits> Cancelled, IReadOnlyList<AllocatedLine> Refused, string Reason, DateTimeOffset CancelledAt) : IIntegrationEvent;

/// <summary>Units of a SKU taken off one node's fulfilment order.</summary>
public sealed record CancelledUnits(string Sku, int Quantity, string Node);

/// <summary>
/// A pickup order waited at its store past its pickup time without being picked up: Orders asks for
/// its units to be cancelled (the store then gives them back to its stock and the customer is told).
/// </summary>
[IntegrationEvent("fulfillment.pickup-expired", 1)]
public sealed record PickupExpired(Guid OrderId, Guid FulfilmentOrderId, string Node, IReadOnlyList<AllocatedLine> Lines, DateTimeOffset ExpiredAt) : IIntegrationEvent;

/// <summary>
/// A node gave up units of a fulfilment order it could not pick or ship: a short pick (the picker
/// found fewer than were reserved) or a rejection (damaged stock, the node closed). Inventory
/// releases the node's reservation for them (and, when <see cref="WriteOff"/>, takes them off its on
/// hand: the count was wrong or the goods are damaged); Fulfillment re-sources them. Once per
/// <see cref="ShortageId"/>. Reasons: <c>short-pick</c>, <c>damaged-stock</c>, <c>node-closed</c>,
/// <c>other</c>, and <c>stock-count</c> (a count left the node's on hand below what it had reserved:
/// Inventory released the units already, <see cref="Released"/>).
/// </summary>
[IntegrationEvent("fulfillment.units-short", 1)]
public sealed record UnitsShort(
    Guid OrderId,
    Guid ShortageId,
    Guid FulfilmentOrderId,
    string Node,
    IReadOnlyList<AllocatedLine> Lines,
    string Reason,
    bool WriteOff,
    DateTimeOffset ReportedAt,
    bool Released = false) : IIntegrationEvent;

/// <summary>
/// What became of units a node gave up (<see cref="UnitsShort"/>, same <see cref="ShortageId"/>):
/// re-sourced at other nodes (reserved there, new fulfilment orders made) and those no node has
/// (<see cref="Unavailable"/>), which Orders cancels (the customer is told, the payment lowered).
/// </summary>
[IntegrationEvent("fulfillment.shortage-resolved", 1)]
public sealed record ShortageResolved(
    Guid OrderId,
    Guid ShortageId,
    Guid DecisionId,
    string Node,
    string Reason,
    IReadOnlyList<NodeAllocation> Resourced,
    IReadOnlyList<AllocatedLine> Unavailable,
    DateTimeOffset ResolvedAt) : IIntegrationEvent;

/// <summary>
/// Fulfillment is ready for a requested order change (same <see cref="ChangeId"/>): the added units
/// are reserved at <see cref="Allocations"/> (the decision <see cref="DecisionId"/> explains it), and
/// the order's unshipped fulfilment orders wait for the change to be decided when it changes the delivery.
/// </summary>
[IntegrationEvent("fulfillment.order-change-prepared", 1)]
public sealed record OrderChangePrepared(Guid OrderId, Guid ChangeId, Guid DecisionId, IReadOnlyList<NodeAllocation> Allocations, DateTimeOffset PreparedAt) : IIntegrationEvent;

/// <summary>
/// Fulfillment cannot carry out a requested order change: reason <c>out-of-stock</c> (no node has the
/// added units: <see cref="Unavailable"/>), <c>packed</c> (a fulfilment order whose delivery would change
/// is packed), <c>already-shipped</c> (nothing is left to ship to a new delivery) or <c>order-ended</c>.
/// Nothing is held for the change.
/// </summary>
[IntegrationEvent("fulfillment.order-change-unavailable", 1)]
public sealed record OrderChangeUnavailable(Guid OrderId, Guid ChangeId, string Reason, string Detail, IReadOnlyList<AllocatedLine> Unavailable, DateTimeOffset At) : IIntegrationEvent;
