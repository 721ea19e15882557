namespace OmsModular.Modules.Inventory.Domain;

/// <summary>Stock of one SKU at one location (a fulfilment node, by its code).</summary>
internal sealed class StockLevel
{
    public required string Sku { get; init; }

    public required string Location { get; init; }

    public int OnHand { get; set; }

    public int Reserved { get; set; }

    public int SafetyStock { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>Available-to-promise: on hand − reserved − safety stock, never below zero.</summary>
    public int Available => Math.Max(0, OnHand - Reserved - SafetyStock);
}

internal enum MovementKind
{
    Sync,
    Receipt,
    Damage,
    Count,
    Correction,
    Reserve,
    Release,

    /// <summary>A shipment left the location: on hand and reserved go down together.</summary>
    Ship,
}

/// <summary>The stock ledger: every change of on-hand or reserved, with its cause.</summary>
internal sealed class StockMovement
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public required string Sku { get; init; }

    public required string Location { get; init; }

    public MovementKind Kind { get; init; }

    public int OnHandDelta { get; init; }

    public int ReservedDelta { get; init; }

    public string? Reference { get; init; }

    /// <summary>The API key or token subject whose request made the change; null for the system.</summary>
    public string? Actor { get; init; }

    public DateTimeOffset OccurredAt { get; init; } = DateTimeOffset.UtcNow;
}

internal enum ReservationStatus
{
    Active,
    Confirmed,
    Released,
    Expired,

    /// <summary>Every line left the location in shipments: nothing is held any more.</summary>
    Shipped,
}

/// <summary>A reservation of an order's lines at one location; unique per (order, location).</summary>
internal sealed class Reservation
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public Guid OrderId { get; init; }

    public required string Location { get; init; }

    /// <summary>Null for the order's reservation at the location; else the re-sourcing that made this further one.</summary>
    public Guid? Reference { get; init; }

    public ReservationStatus Status { get; set; }

    public DateTimeOffset CreatedAt { get; init; } = DateTimeOffset.UtcNow;

    public DateTimeOffset ExpiresAt { get; set; }

    public DateTimeOffset? EndedAt { get; set; }

    public string? EndReason { get; set; }

    public List<ReservedLine> Lines { get; init; } = [];

    public bool Holds => Status is ReservationStatus.Active or ReservationStatus.Confirmed;

    /// <summary>
    /// Takes up to <paramref name="quantity"/> held units of the SKU off the order's reservations at
    /// the node (its own first, then those of re-sourcings, oldest first), handing each line and its
    /// share to <paramref name="take"/>; returns how many were taken.
    /// </summary>
    public static int TakeHeld(IEnumerable<Reservation> reservations, Guid orderId, string node, string sku, int quantity, Action<ReservedLine, int> take)
    {
        var left = quantity;
        foreach (var line in reservations
                     .Where(r => r.OrderId == orderId && r.Location == node && r.Holds)
                     .OrderBy(r => r.Reference is null ? 0 : 1).ThenBy(r => r.CreatedAt)
                     .SelectMany(r => r.Lines.Where(l => l.Sku == sku && l.Held > 0)))
        {
            var share = Math.Min(left, line.Held);
            take(line, share);
            left -= share;
            if (left == 0)
            {
                break;
            }
        }

        return quantity - left;
    }

    /// <summary>Ends a reservation that holds nothing more: <c>shipped</c> when part of it shipped, else <c>released</c>.</summary>
    public void EndIfEmpty(string reason, DateTimeOffset at)
    {
        if (!Holds || Lines.Any(l => l.Held > 0))
        {
            return;
        }

        Status = Lines.Any(l => l.Shipped > 0) ? ReservationStatus.Shipped : ReservationStatus.Released;
        EndedAt = at;
        EndReason = reason;
    }
}

internal sealed class ReservedLine
{
    public required string Sku { get; init; }

    public int Quantity { get; init; }

    /// <summary>How much of the line has shipped.</summary>
    public int Shipped { get; set; }

    /// <summary>How much of the line was released because its units were cancelled or the node gave them up.</summary>
    public int Released { get; set; }

    /// <summary>What the reservation still holds of the line: <see cref="Quantity"/> − <see cref="Shipped"/> − <see cref="Released"/>.</summary>
    public int Held => Quantity - Shipped - Released;
}

/// <summary>
/// An order Inventory knows has ended (cancelled or rejected): its reservations were released and
/// it is never reserved again, so a late or repeated request cannot hold stock for it.
/// </summary>
internal sealed class EndedOrder
{
    public Guid OrderId { get; init; }

    public required string Reason { get; init; }

    public DateTimeOffset EndedAt { get; init; }
}
