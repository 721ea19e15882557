using System.Text.Json.Serialization;
namespace OmsModular.Shared.Contracts.Inventory;

/// <summary>One line to reserve: a SKU and a whole quantity.</summary>
public sealed record ReservationLine([property: JsonRequired] string Sku, [property: JsonRequired] int Quantity);

/// <summary>What was missing for a line when a reservation failed.</summary>
public sealed record Shortfall(string Sku, int Requested, int Available);

/// <summary>Available-to-promise of a SKU at one location (on hand − reserved − safety stock, never below zero).</summary>
public sealed record LocationAvailability(string Sku, string Location, int OnHand, int Reserved, int SafetyStock, int Available);

// ---- module API ----

/// <summary>Availability of a set of SKUs at every location that stocks them.</summary>
public sealed record GetAvailability(IReadOnlyList<string> Skus) : IModuleRequest<AvailabilityResult>;

public sealed record AvailabilityResult(IReadOnlyList<LocationAvailability> Locations);

/// <summary>
/// Reserves every line at one location, all or nothing. Idempotent by (order, location): while the
/// order's reservation there holds, a repeat answers with it and has no second effect; after a
/// release or expiry it reserves anew (a deliberate re-reservation). An order whose end (cancelled,
/// rejected) Inventory has recorded is never reserved again: the answer is <c>order-ended</c>.
/// With a <paramref name="Reference"/> it is a further reservation of the order there (units
/// re-sourced after confirmation), idempotent by (order, location, reference) and made confirmed.
/// </summary>
public sealed record ReserveStock(Guid OrderId, string Location, IReadOnlyList<ReservationLine> Lines, TimeSpan? Hold = null, Guid? Reference = null)
    : IModuleRequest<ReservationOutcome>;

/// <summary>
/// The state of the order's reservation at the location after the request: held (as
/// <see cref="ReservationId"/>), short (with the shortfall per line) or order-ended.
/// </summary>
public sealed record ReservationOutcome(Guid OrderId, string Location, ReservationState State, Guid? ReservationId, IReadOnlyList<Shortfall> Shortfalls);

/// <summary>The states a reservation request or an order's reservations can be in, as answered by Inventory.</summary>
public enum ReservationState
{
    /// <summary>Held at the location (a reservation request).</summary>
    Held,

    /// <summary>Not enough stock at the location (a reservation request; nothing was reserved).</summary>
    Short,

    /// <summary>Every location asked for holds a confirmed reservation.</summary>
    Confirmed,

    /// <summary>A location asked for holds nothing live any more (expired or released).</summary>
    Lost,

    /// <summary>Nothing is held for the order.</summary>
    Released,

    /// <summary>Inventory has recorded the order's end: nothing is held and nothing will be.</summary>
    OrderEnded,
}

/// <summary>
/// Releases every reservation the order holds (active or confirmed). Idempotent: the answer is the
/// order's state afterwards (<c>released</c>: nothing is held), however often it is sent. With a
/// <paramref name="Reference"/>, only the reservations made under it are released.
/// </summary>
public sealed record ReleaseReservations(Guid OrderId, string Reason, Guid? Reference = null) : IModuleRequest<OrderReservations>;

/// <summary>
/// Keeps the order's reservations at the given locations (they no longer expire). Idempotent: a
/// repeat answers <c>confirmed</c> again with no second effect. <c>lost</c> when a location holds
/// nothing live any more (expired or released; nothing is confirmed then), <c>order-ended</c>
/// when Inventory has recorded the order's end.
/// </summary>
public sealed record ConfirmReservations(Guid OrderId, IReadOnlyList<string> Locations) : IModuleRequest<OrderReservations>;

/// <summary>
/// What Inventory holds for one order after a request: the state (<c>confirmed</c>, <c>lost</c>,
/// <c>released</c>, <c>order-ended</c>), the locations still held, and the locations asked for that hold nothing.
/// </summary>
public sealed record OrderReservations(Guid OrderId, ReservationState State, IReadOnlyList<string> HeldAt, IReadOnlyList<string> Missing);

/// <summary>
/// Many <see cref="ReserveStock"/> requests in one call and one transaction (a caller that works in
/// batches pays for one round of calls, not one per order). Each request is still all or nothing on
/// its own; requests are decided in the order given; each answer names its order and location.
/// </summary>
public sealed record ReserveStockBatch(IReadOnlyList<ReserveStock> Requests) : IModuleRequest<IReadOnlyList<ReservationOutcome>>;

/// <summary>Many <see cref="ReleaseReservations"/> in one call; one answer per order, keyed by its id.</summary>
public sealed record ReleaseReservationsBatch(IReadOnlyList<ReleaseReservations> Requests) : IModuleRequest<IReadOnlyList<OrderReservations>>;

/// <summary>Many <see cref="ConfirmReservations"/> in one call; one answer per order, keyed by its id.</summary>
public sealed record ConfirmReservationsBatch(IReadOnlyList<ConfirmReservations> Requests) : IModuleRequest<IReadOnlyList<OrderReservations>>;

// ---- events ----

[IntegrationEvent("inventory.stock-reserved", 1)]
public sealed record StockReserved(Guid ReservationId, Guid OrderId, string Location, IReadOnlyList<ReservationLine> Lines, DateTimeOffset ExpiresAt)
    : IIntegrationEvent;

[IntegrationEvent("inventory.stock-reservation-failed", 1)]
public sealed record StockReservationFailed(Guid OrderId, string Location, IReadOnlyList<Shortfall> Shortfalls) : IIntegrationEvent;

[IntegrationEvent("inventory.stock-released", 1)]
public sealed record StockReleased(Guid ReservationId, Guid OrderId, string Location, IReadOnlyList<ReservationLine> Lines, string Reason)
    : IIntegrationEvent;

[IntegrationEvent("inventory.stock-level-changed", 1)]
public sealed record StockLevelChanged(string Sku, string Location, int OnHand, int Reserved, int SafetyStock, int Available, string Cause)
    : IIntegrationEvent;

/// <summary>
/// A stock sync or adjustment left on hand below what the location has reserved. Inventory handles
/// it itself, on locked numbers: it gives up reservations until reserved fits on hand again.
/// </summary>
[IntegrationEvent("inventory.stock-shortfall", 1)]
public sealed record StockShortfall(string Sku, string Location, int OnHand, int Reserved, DateTimeOffset DetectedAt) : IIntegrationEvent;

/// <summary>
/// A count left on hand below reserved, and a confirmed order's reservation at the location lost
/// these units (the latest orders lose first): Fulfillment takes them off the node's fulfilment
/// order and re-sources them. Once per order, location and count.
/// </summary>
[IntegrationEvent("inventory.reserved-units-lost", 1)]
public sealed record ReservedUnitsLost(Guid OrderId, string Location, string Sku, int Quantity, string Reason, DateTimeOffset LostAt) : IIntegrationEvent;
