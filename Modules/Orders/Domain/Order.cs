using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Orders.Domain;

internal enum OrderStatus
{
    Pending,
    OnHold,
    Confirmed,
    Rejected,
    Cancelled,
}

internal enum StepState
{
    Pending,
    Done,
    Failed,
}

internal enum SalesChannel
{
    Web,
    App,
    Marketplace,
    Store,
}

/// <summary>A refused state change (maps to 409 with the current and requested state).</summary>
internal sealed class IllegalTransitionException(OrderStatus from, OrderStatus to)
    : InvalidOperationException($"An order in state {from.Kebab()} cannot become {to.Kebab()}.")
{
    public OrderStatus From { get; } = from;

    public OrderStatus To { get; } = to;
}

/// <summary>The order aggregate: what was captured, its state machine and its timeline.</summary>
internal sealed class Order
{
    private static readonly Dictionary<OrderStatus, OrderStatus[]> Allowed = new()
    {
        [OrderStatus.Pending] = [OrderStatus.OnHold, OrderStatus.Confirmed, OrderStatus.Rejected, OrderStatus.Cancelled],
        [OrderStatus.OnHold] = [OrderStatus.Pending, OrderStatus.Rejected, OrderStatus.Cancelled],
        [OrderStatus.Confirmed] = [],
        [OrderStatus.Rejected] = [],
        [OrderStatus.Cancelled] = [],
    };

    public Guid Id { get; init; }

    public required string Number { get; init; }

    public SalesChannel Channel { get; init; }

    public string? Marketplace { get; init; }

    public string? ExternalOrderId { get; init; }

    public required Customer Customer { get; init; }

    public required string Currency { get; init; }

    public List<OrderLine> Lines { get; init; } = [];

    public required Address ShippingAddress { get; init; }

    public required Delivery Delivery { get; init; }

    public List<string> CouponCodes { get; init; } = [];

    public required PaymentInstruction Payment { get; init; }

    public OrderStatus Status { get; private set; } = OrderStatus.Pending;

    public string? StatusReason { get; private set; }

    public DateTimeOffset PlacedAt { get; init; }

    /// <summary>Routing and reservation at the chosen node(s).</summary>
    public StepState Reservation { get; set; }

    public StepState Pricing { get; set; }

    public StepState PaymentStep { get; set; }

    public decimal? Total { get; set; }

    public decimal? TaxTotal { get; set; }

    public decimal? ShippingGross { get; set; }

    public decimal? DiscountTotal { get; set; }

    public List<AppliedDiscount> Discounts { get; init; } = [];

    public List<CouponResult> Coupons { get; init; } = [];

    public Guid? RoutingDecisionId { get; set; }

    /// <summary>How many nodes hold a reservation for the order (one per node of the routing decision).</summary>
    public int ReservedNodes { get; set; }

    /// <summary>Where the order ships from (or is picked up): the routing decision's nodes and their lines.</summary>
    public List<FulfilmentAllocation> Fulfilment { get; init; } = [];

    /// <summary>A person released the order from a hold: the hold rules do not apply again.</summary>
    public bool HoldReleased { get; set; }

    public DateTimeOffset UpdatedAt { get; private set; }

    public List<TimelineEntry> Timeline { get; init; } = [];

    public uint Version { get; private set; }

    public static bool CanMove(OrderStatus from, OrderStatus to) => Allowed[from].Contains(to);

    /// <summary>Sets the state read from the order's row (for SQL reads; EF sets these itself).</summary>
    public Order Restore(OrderStatus status, string? statusReason, DateTimeOffset updatedAt, uint version)
    {
        (Status, StatusReason, UpdatedAt, Version) = (status, statusReason, updatedAt, version);
        return this;
    }

    public void Record(string what, string cause, DateTimeOffset at) =>
        Timeline.Add(new TimelineEntry { At = at, Event = what, Status = Status, Cause = cause.Length > 1000 ? cause[..999] + "…" : cause });

    /// <summary>Moves the order to another state, or refuses an illegal transition.</summary>
    public void MoveTo(OrderStatus next, string? reason, string cause, DateTimeOffset at)
    {
        if (!CanMove(Status, next))
        {
            throw new IllegalTransitionException(Status, next);
        }

        var from = Status;
        Status = next;
        StatusReason = reason;
        UpdatedAt = at;
        Timeline.Add(new TimelineEntry { At = at, Event = $"{from.Kebab()} -> {next.Kebab()}", Status = next, Reason = reason, Cause = cause });
    }
}

internal sealed class OrderLine
{
    public int LineNumber { get; init; }

    public required string Sku { get; init; }

    public int Quantity { get; init; }

    public decimal? MarketplaceUnitPrice { get; init; }

    /// <summary>Set when the order is priced: unit price, discount (the list's terms), net, tax and gross.</summary>
    public decimal? UnitPrice { get; set; }

    public decimal? Discount { get; set; }

    public decimal? Net { get; set; }

    public decimal? Tax { get; set; }

    public decimal? Gross { get; set; }
}

/// <summary>A promotion that changed the order's price.</summary>
internal sealed class AppliedDiscount
{
    public required string Code { get; init; }

    public required string Name { get; init; }

    public required string Kind { get; init; }

    public decimal Amount { get; init; }

    public string? CouponCode { get; init; }
}

/// <summary>What one node ships for the order.</summary>
internal sealed class FulfilmentAllocation
{
    public required string Node { get; init; }

    public double? DistanceKm { get; init; }

    public List<AllocatedSku> Lines { get; init; } = [];
}

internal sealed class AllocatedSku
{
    public required string Sku { get; init; }

    public int Quantity { get; init; }
}

/// <summary>What became of a coupon code the order carried.</summary>
internal sealed class CouponResult
{
    public required string Code { get; init; }

    public required string Status { get; init; }

    public string? Reason { get; init; }
}

internal sealed class Customer
{
    public required string Id { get; init; }

    public required string Email { get; init; }

    public required string Name { get; init; }
}

internal sealed class Address
{
    public required string Name { get; init; }

    public List<string> Lines { get; init; } = [];

    public required string City { get; init; }

    public required string PostalCode { get; init; }

    public required string CountryCode { get; init; }

    public double? Latitude { get; init; }

    public double? Longitude { get; init; }
}

internal sealed class Delivery
{
    public required string Method { get; init; }

    public string? ServiceLevel { get; init; }

    public string? PickupLocation { get; init; }
}

internal sealed class PaymentInstruction
{
    public required string Method { get; init; }

    public required string Token { get; init; }
}

internal sealed class TimelineEntry
{
    public DateTimeOffset At { get; init; }

    public required string Event { get; init; }

    public OrderStatus Status { get; init; }

    public string? Reason { get; init; }

    public required string Cause { get; init; }
}

/// <summary>The first answer given to an idempotency key, kept to answer repeats exactly.</summary>
internal sealed class IdempotencyRecord
{
    public required string Key { get; init; }

    public required string RequestHash { get; init; }

    public Guid OrderId { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}
