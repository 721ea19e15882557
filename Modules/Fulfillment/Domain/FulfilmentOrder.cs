using System.Text.Json;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Fulfillment.Domain;

internal enum FulfilmentOrderStatus
{
    ReadyToPick,
    Picking,
    Packed,
    PartiallyShipped,
    Shipped,
    Delivered,
    Cancelled,

    /// <summary>A pickup order packed and waiting at its store for the customer (until its pickup time ends).</summary>
    ReadyForPickup,

    /// <summary>The customer took a pickup order at the store.</summary>
    PickedUp,

    /// <summary>The node gave up every unit it had not shipped (a rejection, or a pick that found none); they are re-sourced.</summary>
    Rejected,
}

/// <summary>A refused step of a fulfilment order (maps to 409 with the state it is in).</summary>
internal sealed class FulfilmentStepException(string code, string message) : InvalidOperationException(message)
{
    public string Code { get; } = code;
}

/// <summary>One line of a fulfilment order: what the node must pick and ship, and how far it got.</summary>
internal sealed class FulfilmentLine
{
    public required string Sku { get; init; }

    public int Quantity { get; init; }

    /// <summary>Reported by the picker; null until reported (packing without a report takes the full quantity).</summary>
    public int? Picked { get; set; }

    public int Shipped { get; set; }

    public int Delivered { get; set; }

    /// <summary>Units the order cancelled before they shipped.</summary>
    public int Cancelled { get; set; }

    /// <summary>Units the node gave up (a short pick, a rejection): re-sourced elsewhere or cancelled.</summary>
    public int Short { get; set; }

    /// <summary>What the node is to ship: ordered − cancelled − given up.</summary>
    public int ToShip => Quantity - Cancelled - Short;
}

/// <summary>
/// What one node must pick and ship for a confirmed order, and its lifecycle:
/// <c>ready-to-pick → picking → packed → (partially-)shipped → delivered</c>. A node's order can
/// leave in several shipments, each of part of the packed quantities.
/// </summary>
internal sealed class FulfilmentOrder
{
    public Guid Id { get; init; }

    public Guid OrderId { get; init; }

    public required string NodeCode { get; init; }

    public FulfilmentOrderStatus Status { get; private set; }

    /// <summary>JSON: the lines (SKU, quantity, picked, shipped, delivered).</summary>
    public required string Lines { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? PickingStartedAt { get; private set; }

    public DateTimeOffset? PackedAt { get; private set; }

    public DateTimeOffset? ShippedAt { get; private set; }

    public DateTimeOffset? DeliveredAt { get; private set; }

    /// <summary>The customer collects it at the node (a store) rather than having it shipped.</summary>
    public bool IsPickup { get; init; }

    /// <summary>When a pickup order ready at its store stops waiting (unpicked units go back to stock, the lines are cancelled).</summary>
    public DateTimeOffset? PickupExpiresAt { get; private set; }

    /// <summary>Its pickup time ended; the cancellation of its units is asked for.</summary>
    public bool PickupExpired { get; private set; }

    public int? Parcels { get; private set; }

    public decimal? WeightKg { get; private set; }

    /// <summary>Set while the order's payment is on hold (<c>payment-reauthorisation-failed</c>): nothing of it ships or is handed over.</summary>
    public string? PaymentHold { get; set; }

    /// <summary>Shortages of this fulfilment order reported and not re-sourced yet (a cancellation of the order's units waits for them).</summary>
    public int PendingShortages { get; private set; }

    /// <summary>Units were given up: their re-sourcing is pending until <see cref="ShortageResolved"/>.</summary>
    public void ShortageReported() => PendingShortages++;

    /// <summary>A shortage of this fulfilment order was re-sourced (or found nothing to do).</summary>
    public void ShortageResolved() => PendingShortages = Math.Max(0, PendingShortages - 1);

    /// <summary>A change of the order's delivery being decided (its id): nothing is packed or shipped meanwhile.</summary>
    public Guid? PendingChange { get; set; }

    /// <summary>Why the node gave up what it had not shipped (<c>damaged-stock</c>, <c>node-closed</c>, <c>other</c>, or <c>short-pick</c>).</summary>
    public string? RejectionReason { get; private set; }

    public DateTimeOffset? RejectedAt { get; private set; }

    public uint Version { get; private set; }

    public static FulfilmentOrder Create(Guid orderId, string node, IEnumerable<(string Sku, int Quantity)> lines, DateTimeOffset at, bool pickup = false) => new()
    {
        Id = Guid.CreateVersion7(),
        OrderId = orderId,
        NodeCode = node,
        IsPickup = pickup,
        Status = FulfilmentOrderStatus.ReadyToPick,
        Lines = Write(lines.Select(l => new FulfilmentLine { Sku = l.Sku, Quantity = l.Quantity })),
        CreatedAt = at,
    };

    public IReadOnlyList<FulfilmentLine> ReadLines() =>
        JsonSerializer.Deserialize<FulfilmentLine[]>(Lines, MessageSerialization.Options) ?? [];

    private static string Write(IEnumerable<FulfilmentLine> lines) => JsonSerializer.Serialize(lines, MessageSerialization.Options);

    /// <summary>Picking starts; a repeat while picking changes nothing.</summary>
    public void StartPicking(DateTimeOffset at)
    {
        if (Status == FulfilmentOrderStatus.Picking)
        {
            return;
        }

        Require(FulfilmentOrderStatus.ReadyToPick, "start picking");
        Status = FulfilmentOrderStatus.Picking;
        PickingStartedAt = at;
    }

    /// <summary>
    /// The picker reports what was picked of each SKU (the quantity picked so far, not an increment,
    /// so a repeat changes nothing). A picked quantity below the ordered one is a short pick.
    /// </summary>
    public IReadOnlyList<(string Sku, int Ordered, int Picked)> ReportPicks(IReadOnlyList<(string Sku, int Picked)> picks)
    {
        if (Status == FulfilmentOrderStatus.ReadyToPick)
        {
            StartPicking(DateTimeOffset.UtcNow);
        }

        Require(FulfilmentOrderStatus.Picking, "report picks");
        var lines = ReadLines();
        foreach (var (sku, picked) in picks)
        {
            var line = lines.FirstOrDefault(l => l.Sku == sku)
                ?? throw new FulfilmentStepException("unknown-line", $"SKU {sku} is not a line of this fulfilment order.");
            if (picked > line.ToShip)
            {
                throw new FulfilmentStepException("over-pick", $"{picked} × {sku} picked, but the order holds {line.ToShip}.");
            }

            line.Picked = picked;
        }

        Lines = Write(lines);
        return lines.Where(l => l.Picked < l.ToShip).Select(l => (l.Sku, l.ToShip, l.Picked!.Value)).ToArray();
    }

    /// <summary>
    /// Packed for shipping with what was picked (lines without a report count as picked in full). A
    /// short pick gives up the units not picked (returned: the caller re-sources them); a pick that
    /// found nothing at all rejects the fulfilment order. A repeat changes nothing and returns nothing.
    /// </summary>
    public IReadOnlyList<(string Sku, int Quantity)> Pack(int? parcels, decimal? weightKg, DateTimeOffset at)
    {
        if (Status == FulfilmentOrderStatus.Packed)
        {
            return [];
        }

        if (Status == FulfilmentOrderStatus.ReadyToPick)
        {
            StartPicking(at);
        }

        Require(FulfilmentOrderStatus.Picking, "pack");
        RequireNoPendingChange();
        var lines = ReadLines();
        var shortage = lines.Where(l => l.Picked < l.ToShip).Select(l => (l.Sku, Quantity: l.ToShip - l.Picked!.Value)).ToArray();
        foreach (var (sku, quantity) in shortage)
        {
            lines.First(l => l.Sku == sku).Short += quantity;
        }

        foreach (var line in lines)
        {
            line.Picked = line.ToShip;
        }

        Lines = Write(lines);
        if (lines.All(l => l.ToShip == 0))
        {
            (Status, RejectionReason, RejectedAt) = (FulfilmentOrderStatus.Rejected, "short-pick", at);
            return shortage;
        }

        Status = FulfilmentOrderStatus.Packed;
        (PackedAt, Parcels, WeightKg) = (at, parcels, weightKg);
        return shortage;
    }

    /// <summary>
    /// The node cannot ship what it has not shipped yet (damaged stock, the node closed): every such
    /// unit is given up and returned (the caller re-sources them). Nothing shipped: the order is
    /// rejected; part shipped: it is shipped (delivered, when that has all arrived). A repeat changes
    /// nothing and returns nothing.
    /// </summary>
    public IReadOnlyList<(string Sku, int Quantity)> Reject(string reason, DateTimeOffset at)
    {
        if (RejectionReason is not null && Status is FulfilmentOrderStatus.Rejected or FulfilmentOrderStatus.Shipped or FulfilmentOrderStatus.Delivered)
        {
            return []; // given up before: a repeat
        }

        if (Status is not (FulfilmentOrderStatus.ReadyToPick or FulfilmentOrderStatus.Picking or FulfilmentOrderStatus.Packed
                or FulfilmentOrderStatus.PartiallyShipped or FulfilmentOrderStatus.ReadyForPickup) || PickupExpired)
        {
            throw new FulfilmentStepException("illegal-transition", PickupExpired
                ? "Its pickup time ended; its units go back to the store's stock."
                : $"A fulfilment order in state {Status.Kebab()} cannot be rejected: nothing is left to ship.");
        }

        var lines = ReadLines();
        var given = lines.Where(l => l.ToShip > l.Shipped).Select(l => (l.Sku, Quantity: l.ToShip - l.Shipped)).ToArray();
        foreach (var (sku, quantity) in given)
        {
            var line = lines.First(l => l.Sku == sku);
            line.Short += quantity;
            line.Picked = line.Picked is { } picked ? Math.Min(picked, line.ToShip) : null;
        }

        Lines = Write(lines);
        (RejectionReason, RejectedAt) = (reason, at);
        if (lines.Any(l => l.Shipped > 0))
        {
            var delivered = lines.All(l => l.Delivered == l.ToShip);
            Status = delivered ? FulfilmentOrderStatus.Delivered : FulfilmentOrderStatus.Shipped;
            ShippedAt ??= at;
            DeliveredAt = delivered ? DeliveredAt ?? at : DeliveredAt;
        }
        else
        {
            Status = FulfilmentOrderStatus.Rejected;
        }

        return given;
    }

    /// <summary>
    /// A shipment leaves with these quantities (all that is packed and not shipped when none are
    /// named); returns the lines it carries.
    /// </summary>
    public IReadOnlyList<(string Sku, int Quantity)> Ship(IReadOnlyList<(string Sku, int Quantity)>? quantities, DateTimeOffset at)
    {
        if (IsPickup)
        {
            throw new FulfilmentStepException("pickup-order", "The customer collects this order at the store: it is made ready for pickup, not shipped.");
        }

        if (Status is not (FulfilmentOrderStatus.Packed or FulfilmentOrderStatus.PartiallyShipped))
        {
            throw new FulfilmentStepException("illegal-transition", $"A fulfilment order in state {Status.Kebab()} cannot ship; it ships once packed.");
        }

        RequireNoPaymentHold();
        RequireNoPendingChange();

        var lines = ReadLines();
        var shipping = quantities ?? lines.Where(l => l.ToShip > l.Shipped).Select(l => (l.Sku, l.ToShip - l.Shipped)).ToArray();
        foreach (var (sku, quantity) in shipping)
        {
            var line = lines.FirstOrDefault(l => l.Sku == sku)
                ?? throw new FulfilmentStepException("unknown-line", $"SKU {sku} is not a line of this fulfilment order.");
            if (quantity > line.ToShip - line.Shipped)
            {
                throw new FulfilmentStepException("over-ship", $"{quantity} × {sku} to ship, but {line.ToShip - line.Shipped} are left to ship.");
            }

            line.Shipped += quantity;
        }

        Lines = Write(lines);
        var complete = lines.All(l => l.Shipped == l.ToShip);
        Status = complete ? FulfilmentOrderStatus.Shipped : FulfilmentOrderStatus.PartiallyShipped;
        if (complete)
        {
            ShippedAt = at;
        }

        return shipping;
    }

    /// <summary>
    /// Takes up to <paramref name="quantity"/> units of the SKU off what the node is to ship (only
    /// units not shipped) and returns how many. Nothing left to ship and nothing shipped: the
    /// fulfilment order is cancelled; nothing left to ship but some shipped: it is shipped (delivered,
    /// when that has all arrived).
    /// </summary>
    public int CancelUnits(string sku, int quantity, DateTimeOffset at)
    {
        var lines = ReadLines();
        var line = lines.FirstOrDefault(l => l.Sku == sku);
        if (line is null || Status is FulfilmentOrderStatus.Cancelled or FulfilmentOrderStatus.Delivered or FulfilmentOrderStatus.PickedUp)
        {
            return 0;
        }

        var taken = Math.Min(quantity, line.ToShip - line.Shipped);
        line.Cancelled += taken;
        line.Picked = line.Picked is { } picked ? Math.Min(picked, line.ToShip) : null;
        Lines = Write(lines);
        if (lines.All(l => l.ToShip == 0))
        {
            Status = FulfilmentOrderStatus.Cancelled;
        }
        else if (lines.All(l => l.Shipped == l.ToShip) && lines.Any(l => l.Shipped > 0))
        {
            var delivered = lines.All(l => l.Delivered == l.ToShip);
            Status = delivered ? FulfilmentOrderStatus.Delivered : FulfilmentOrderStatus.Shipped;
            ShippedAt ??= at;
            DeliveredAt = delivered ? DeliveredAt ?? at : DeliveredAt;
        }

        return taken;
    }

    /// <summary>
    /// Gives up to <paramref name="quantity"/> units of the SKU that the node has not packed or
    /// shipped (a count found them missing) and returns how many: only while ready to pick or being
    /// picked. Nothing left to ship: the fulfilment order is rejected with the reason.
    /// </summary>
    public int GiveUpUnits(string sku, int quantity, string reason, DateTimeOffset at)
    {
        var lines = ReadLines();
        if (Status is not (FulfilmentOrderStatus.ReadyToPick or FulfilmentOrderStatus.Picking) || lines.FirstOrDefault(l => l.Sku == sku) is not { } line)
        {
            return 0;
        }

        var taken = Math.Min(quantity, line.ToShip);
        line.Short += taken;
        line.Picked = line.Picked is { } picked ? Math.Min(picked, line.ToShip) : null;
        Lines = Write(lines);
        if (lines.All(l => l.ToShip == 0))
        {
            (Status, RejectionReason, RejectedAt) = (FulfilmentOrderStatus.Rejected, reason, at);
        }

        return taken;
    }

    /// <summary>A packed pickup order is ready at its store until <paramref name="hold"/> has passed; a repeat changes nothing.</summary>
    public void ReadyForPickup(TimeSpan hold, DateTimeOffset at)
    {
        if (Status == FulfilmentOrderStatus.ReadyForPickup)
        {
            return;
        }

        if (!IsPickup)
        {
            throw new FulfilmentStepException("not-a-pickup", "This fulfilment order ships; only a pickup order waits at its store.");
        }

        Require(FulfilmentOrderStatus.Packed, "be ready for pickup");
        Status = FulfilmentOrderStatus.ReadyForPickup;
        PickupExpiresAt = at + hold;
    }

    /// <summary>The customer took it: everything packed is handed over (returns the lines).</summary>
    public IReadOnlyList<(string Sku, int Quantity)> PickUp(DateTimeOffset at)
    {
        if (Status != FulfilmentOrderStatus.ReadyForPickup || PickupExpired)
        {
            throw new FulfilmentStepException("illegal-transition", PickupExpired
                ? "Its pickup time ended; the units go back to the store's stock."
                : $"A fulfilment order in state {Status.Kebab()} cannot be picked up; it is picked up once ready for pickup.");
        }

        RequireNoPaymentHold();
        var lines = ReadLines();
        var handed = lines.Where(l => l.ToShip > l.Shipped).Select(l => (l.Sku, l.ToShip - l.Shipped)).ToArray();
        foreach (var line in lines)
        {
            line.Shipped = line.ToShip;
            line.Delivered = line.ToShip;
        }

        Lines = Write(lines);
        Status = FulfilmentOrderStatus.PickedUp;
        (ShippedAt, DeliveredAt) = (at, at);
        return handed;
    }

    /// <summary>Its pickup time ended: true the first time (the caller asks for its units to be cancelled).</summary>
    public bool ExpirePickup(DateTimeOffset at)
    {
        if (Status != FulfilmentOrderStatus.ReadyForPickup || PickupExpired || PickupExpiresAt > at)
        {
            return false;
        }

        PickupExpired = true;
        return true;
    }

    /// <summary>A shipment of this order was delivered; the order is delivered once everything shipped has arrived.</summary>
    public void Delivered(IReadOnlyList<(string Sku, int Quantity)> shipment, DateTimeOffset at)
    {
        var lines = ReadLines();
        foreach (var (sku, quantity) in shipment)
        {
            lines.First(l => l.Sku == sku).Delivered += quantity;
        }

        Lines = Write(lines);
        if (Status == FulfilmentOrderStatus.Shipped && lines.All(l => l.Delivered == l.ToShip))
        {
            Status = FulfilmentOrderStatus.Delivered;
            DeliveredAt = at;
        }
    }

    private void RequireNoPendingChange()
    {
        if (PendingChange is { } change)
        {
            throw new FulfilmentStepException("order-change-pending", $"The order's delivery is being changed (change {change}): nothing is packed or shipped until it is decided.");
        }
    }

    private void RequireNoPaymentHold()
    {
        if (PaymentHold is not null)
        {
            throw new FulfilmentStepException("payment-on-hold", $"The order's payment is on hold ({PaymentHold}): nothing ships until it is lifted.");
        }
    }

    private void Require(FulfilmentOrderStatus expected, string step)
    {
        if (Status != expected)
        {
            throw new FulfilmentStepException("illegal-transition", $"A fulfilment order in state {Status.Kebab()} cannot {step}.");
        }
    }
}

internal enum ShipmentStatus
{
    Shipped,
    Delivered,
}

/// <summary>One parcel (or set of parcels) that left a node: its lines, carrier, tracking and times.</summary>
internal sealed class Shipment
{
    public Guid Id { get; init; }

    public Guid FulfilmentOrderId { get; init; }

    public Guid OrderId { get; init; }

    public required string NodeCode { get; init; }

    public ShipmentStatus Status { get; set; }

    public required string Carrier { get; init; }

    public required string Service { get; init; }

    public required string TrackingNumber { get; init; }

    public string? TrackingUrl { get; init; }

    public int? Parcels { get; init; }

    public decimal? WeightKg { get; init; }

    /// <summary>JSON: the lines (SKU, quantity).</summary>
    public required string Lines { get; init; }

    /// <summary>The caller's key: a repeated request with it answers this shipment.</summary>
    public required string IdempotencyKey { get; init; }

    /// <summary>SHA-256 of the request that created the shipment (a key reused for another request is refused).</summary>
    public required string RequestHash { get; init; }

    public DateTimeOffset ShippedAt { get; init; }

    public DateTimeOffset? DeliveredAt { get; set; }

    public IReadOnlyList<(string Sku, int Quantity)> ReadLines() =>
        (JsonSerializer.Deserialize<ShipmentLine[]>(Lines, MessageSerialization.Options) ?? []).Select(l => (l.Sku, l.Quantity)).ToArray();

    public static string WriteLines(IEnumerable<(string Sku, int Quantity)> lines) =>
        JsonSerializer.Serialize(lines.Select(l => new ShipmentLine(l.Sku, l.Quantity)), MessageSerialization.Options);

    private sealed record ShipmentLine(string Sku, int Quantity);
}
