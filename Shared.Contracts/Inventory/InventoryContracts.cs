namespace OmsModular.Shared.Contracts.Inventory;

/// <summary>One line to reserve: a SKU and a whole quantity.</summary>
public sealed record ReservationLine(string Sku, int Quantity);

/// <summary>What was missing for a line when a reservation failed.</summary>
public sealed record Shortfall(string Sku, int Requested, int Available);

/// <summary>Available-to-promise of a SKU at one location (on hand − reserved − safety stock, never below zero).</summary>
public sealed record LocationAvailability(string Sku, string Location, int OnHand, int Reserved, int SafetyStock, int Available);

// ---- module API ----

/// <summary>Availability of a set of SKUs at every location that stocks them.</summary>
public sealed record GetAvailability(IReadOnlyList<string> Skus) : IModuleRequest<AvailabilityResult>;

public sealed record AvailabilityResult(IReadOnlyList<LocationAvailability> Locations);

/// <summary>
/// Reserves every line at one location, all or nothing. Repeating the request for the same order
/// and location while its reservation holds has no second effect (the first outcome is returned);
/// after a release or expiry it reserves anew (re-planning).
/// </summary>
public sealed record ReserveStock(Guid OrderId, string Location, IReadOnlyList<ReservationLine> Lines, TimeSpan? Hold = null)
    : IModuleRequest<ReservationOutcome>;

public sealed record ReservationOutcome(bool Reserved, Guid? ReservationId, IReadOnlyList<Shortfall> Shortfalls);

/// <summary>Releases every active reservation of the order (a compensation); no effect when there is none.</summary>
public sealed record ReleaseReservations(Guid OrderId, string Reason) : IModuleRequest<int>;

/// <summary>Keeps the order's reservations (they no longer expire).</summary>
public sealed record ConfirmReservations(Guid OrderId) : IModuleRequest<int>;

/// <summary>
/// Many <see cref="ReserveStock"/> requests in one call and one transaction (a caller that works in
/// batches pays for one round of calls, not one per order). Each request is still all or nothing on
/// its own and is answered in the same position; requests are decided in the order given.
/// </summary>
public sealed record ReserveStockBatch(IReadOnlyList<ReserveStock> Requests) : IModuleRequest<IReadOnlyList<ReservationOutcome>>;

/// <summary>Many <see cref="ReleaseReservations"/> in one call; answers how many reservations each released.</summary>
public sealed record ReleaseReservationsBatch(IReadOnlyList<ReleaseReservations> Requests) : IModuleRequest<IReadOnlyList<int>>;

/// <summary>Many <see cref="ConfirmReservations"/> in one call; answers how many reservations each confirmed.</summary>
public sealed record ConfirmReservationsBatch(IReadOnlyList<ConfirmReservations> Requests) : IModuleRequest<IReadOnlyList<int>>;

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
