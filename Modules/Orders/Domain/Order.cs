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

    private StepState _reservation;
    private StepState _pricing;
    private StepState _paymentStep;
    private decimal? _total;
    private decimal? _taxTotal;
    private decimal? _shippingGross;
    private decimal? _discountTotal;
    private Guid? _routingDecisionId;
    private int _reservedNodes;
    private bool _holdReleased;
    private string? _actor;
    private int _reroutes;

    /// <summary>Routing and reservation at the chosen node(s).</summary>
    public StepState Reservation { get => _reservation; init => _reservation = value; }

    public StepState Pricing { get => _pricing; init => _pricing = value; }

    public StepState PaymentStep { get => _paymentStep; init => _paymentStep = value; }

    public decimal? Total { get => _total; init => _total = value; }

    public decimal? TaxTotal { get => _taxTotal; init => _taxTotal = value; }

    public decimal? ShippingGross { get => _shippingGross; init => _shippingGross = value; }

    public decimal? DiscountTotal { get => _discountTotal; init => _discountTotal = value; }

    public List<AppliedDiscount> Discounts { get; init; } = [];

    public List<CouponResult> Coupons { get; init; } = [];

    public Guid? RoutingDecisionId { get => _routingDecisionId; init => _routingDecisionId = value; }

    /// <summary>How many nodes hold a reservation for the order (one per node of the routing decision).</summary>
    public int ReservedNodes { get => _reservedNodes; init => _reservedNodes = value; }

    /// <summary>Where the order ships from (or is picked up): the routing decision's nodes and their lines.</summary>
    public List<FulfilmentAllocation> Fulfilment { get; init; } = [];

    /// <summary>A person released the order from a hold: the hold rules do not apply again.</summary>
    public bool HoldReleased { get => _holdReleased; init => _holdReleased = value; }

    /// <summary>How often the order was routed again because its stock was lost (at most once).</summary>
    public int Reroutes { get => _reroutes; init => _reroutes = value; }

    /// <summary>Cancelled or rejected: no step changes it; Inventory and Payments release what it held on the end event.</summary>
    public bool HasEnded => Status is OrderStatus.Cancelled or OrderStatus.Rejected;

    /// <summary>Routed again after its stock was lost, its payment already authorised: only the confirmation is left.</summary>
    public bool IsReadyToConfirm =>
        Status == OrderStatus.Pending && Reservation == StepState.Done && Pricing == StepState.Done && PaymentStep == StepState.Done;

    /// <summary>Reserved, priced and waiting for its payment (not on hold, not ended).</summary>
    public bool IsReadyForPayment =>
        Status == OrderStatus.Pending && Reservation == StepState.Done && Pricing == StepState.Done && PaymentStep == StepState.Pending;

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
        Timeline.Add(new TimelineEntry { At = at, Event = what, Status = Status, Cause = cause.Length > 1000 ? cause[..999] + "…" : cause, Actor = _actor });

    /// <summary>Who makes the changes that follow (a key or token of a request); none: the system.</summary>
    public void ActingAs(string? actor) => _actor = actor;

    /// <summary>
    /// A message that no longer applies (late, repeated, or after the order ended) is recorded as
    /// ignored and changes nothing else: the state machine is total.
    /// </summary>
    public void Ignore(string what, string detail, DateTimeOffset at) =>
        Record($"{what} (ignored)", $"order {Status.Kebab()}{(Status == OrderStatus.Pending ? string.Empty : StatusReason is null ? string.Empty : $" ({StatusReason})")}; {detail}", at);

    /// <summary>Routing reserved the order's stock at these nodes. False (recorded as ignored) when the step no longer applies.</summary>
    public bool ReservationMade(Guid decisionId, IReadOnlyList<FulfilmentAllocation> allocations, DateTimeOffset at)
    {
        var nodes = string.Join(", ", allocations.Select(a => a.Node));
        if (HasEnded || Status == OrderStatus.Confirmed || Reservation != StepState.Pending)
        {
            Ignore("reserved", $"fulfilment at {nodes}; reservation step {Reservation.Kebab()}", at);
            return false;
        }

        _reservation = StepState.Done;
        _routingDecisionId = decisionId;
        _reservedNodes = allocations.Count;
        Fulfilment.Clear();
        Fulfilment.AddRange(allocations);
        Record("reserved", $"fulfilment at {nodes}", at);
        return true;
    }

    /// <summary>Routing found no way to fulfil the order. False (recorded as ignored) when the step no longer applies.</summary>
    /// <remarks>On an order that ended meanwhile the step is marked failed (true of it) but nothing else changes.</remarks>
    public bool ReservationFailed(Guid decisionId, string reason, string detail, DateTimeOffset at)
    {
        if (Status == OrderStatus.Confirmed || Reservation != StepState.Pending)
        {
            Ignore($"routing failed: {reason}", detail, at);
            return false;
        }

        _reservation = StepState.Failed;
        _routingDecisionId = decisionId;
        if (HasEnded)
        {
            Ignore($"routing failed: {reason}", detail, at);
            return false;
        }

        return true;
    }

    /// <summary>The order was priced. False (recorded as ignored) when the step no longer applies.</summary>
    public bool PricedAt(decimal total, decimal taxTotal, decimal shippingGross, decimal discountTotal, IEnumerable<AppliedDiscount> discounts, IEnumerable<CouponResult> coupons, string detail, DateTimeOffset at)
    {
        if (HasEnded || Status == OrderStatus.Confirmed || Pricing != StepState.Pending)
        {
            Ignore("priced", detail, at);
            return false;
        }

        _pricing = StepState.Done;
        (_total, _taxTotal, _shippingGross, _discountTotal) = (total, taxTotal, shippingGross, discountTotal);
        Discounts.Clear();
        Discounts.AddRange(discounts);
        Coupons.Clear();
        Coupons.AddRange(coupons);
        Record("priced", detail, at);
        return true;
    }

    /// <summary>Pricing could not price the order. False (recorded as ignored) when the step no longer applies.</summary>
    /// <remarks>On an order that ended meanwhile the step is marked failed (true of it) but nothing else changes.</remarks>
    public bool PricingFailed(string detail, DateTimeOffset at)
    {
        if (Status == OrderStatus.Confirmed || Pricing != StepState.Pending)
        {
            Ignore("pricing failed", detail, at);
            return false;
        }

        _pricing = StepState.Failed;
        if (HasEnded)
        {
            Ignore("pricing failed", detail, at);
            return false;
        }

        return true;
    }

    /// <summary>A hold rule stops the order before payment until a person releases it.</summary>
    public void Hold(string reason, DateTimeOffset at) => MoveTo(OrderStatus.OnHold, reason, "hold rule", at);

    /// <summary>A person released the order from its hold: the hold rules do not apply again.</summary>
    public void ReleaseHold(string releasedBy, DateTimeOffset at)
    {
        MoveTo(OrderStatus.Pending, null, $"released by {releasedBy}", at);
        _holdReleased = true;
    }

    public void PaymentAuthorized(Guid paymentId, decimal amount, string currency, DateTimeOffset at)
    {
        _paymentStep = StepState.Done;
        Record("payment authorized", $"payment {paymentId}: {amount} {currency}", at);
    }

    /// <summary>The payment was declined: the order is cancelled (its reservation is released by Inventory once this commits).</summary>
    public void PaymentDeclined(string? reason, DateTimeOffset at)
    {
        _paymentStep = StepState.Failed;
        Record("payment declined", reason ?? "declined", at);
        End(OrderStatus.Cancelled, "payment-declined", $"payment declined: {reason}", at);
    }

    /// <summary>Reserved, priced and authorised: the order is confirmed.</summary>
    public void Confirm(DateTimeOffset at) => MoveTo(OrderStatus.Confirmed, null, "reserved, priced and authorised", at);

    /// <summary>
    /// The stock was not held any more at confirmation and could not be reserved again: the order
    /// is rejected (the authorisation is voided by Payments once this commits).
    /// </summary>
    public bool ReservationLost(string detail, DateTimeOffset at)
    {
        _paymentStep = StepState.Failed;
        return Reject("reservation-lost", detail, at);
    }

    /// <summary>
    /// The stock is lost and could not be reserved again where it was: the order goes back to routing
    /// (once), keeping its authorisation. Returns the lines to route and the nodes to avoid.
    /// </summary>
    public (IReadOnlyList<(string Sku, int Quantity)> Lines, IReadOnlyList<string> Excluded)? RequestRerouting(IReadOnlyList<string> lostAt, string detail, DateTimeOffset at)
    {
        if (Status != OrderStatus.Pending || Reservation != StepState.Done || _reroutes > 0)
        {
            return null;
        }

        var lines = Fulfilment.SelectMany(f => f.Lines).GroupBy(l => l.Sku, StringComparer.Ordinal).Select(g => (g.Key, g.Sum(l => l.Quantity))).ToArray();
        var excluded = lostAt.Distinct(StringComparer.Ordinal).ToArray(); // only where the stock was lost: the other nodes may take their share again
        _reroutes++;
        _reservation = StepState.Pending;
        _reservedNodes = 0;
        Fulfilment.Clear();
        UpdatedAt = at;
        Record("re-routing", detail, at);
        return (lines, excluded);
    }

    /// <summary>Rejects the order; false (recorded as ignored) when it had ended already.</summary>
    public bool Reject(string reason, string detail, DateTimeOffset at)
    {
        if (!CanMove(Status, OrderStatus.Rejected))
        {
            Ignore(reason, detail, at);
            return false;
        }

        End(OrderStatus.Rejected, reason, detail, at);
        return true;
    }

    /// <summary>Cancels the order, or refuses an illegal transition.</summary>
    public void Cancel(string reason, string cause, DateTimeOffset at) => End(OrderStatus.Cancelled, reason, cause, at);

    /// <summary>The order ends: coupon uses it carried are given back (by Pricing, on the same event).</summary>
    private void End(OrderStatus status, string reason, string cause, DateTimeOffset at)
    {
        MoveTo(status, reason, cause, at);
        for (var i = 0; i < Coupons.Count; i++)
        {
            if (Coupons[i].Status == "applied")
            {
                Coupons[i] = new CouponResult { Code = Coupons[i].Code, Status = "released", Reason = $"order-{status.Kebab()}" };
            }
        }
    }

    /// <summary>Moves the order to another state, or refuses an illegal transition.</summary>
    private void MoveTo(OrderStatus next, string? reason, string cause, DateTimeOffset at)
    {
        if (!CanMove(Status, next))
        {
            throw new IllegalTransitionException(Status, next);
        }

        var from = Status;
        Status = next;
        StatusReason = reason;
        UpdatedAt = at;
        Timeline.Add(new TimelineEntry { At = at, Event = $"{from.Kebab()} -> {next.Kebab()}", Status = next, Reason = reason, Cause = cause, Actor = _actor });
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

    /// <summary>The API key or token subject whose request made the change; null for the system.</summary>
    public string? Actor { get; init; }
}

/// <summary>The first answer given to an idempotency key, kept to answer repeats exactly.</summary>
internal sealed class IdempotencyRecord
{
    public required string Key { get; init; }

    public required string RequestHash { get; init; }

    public Guid OrderId { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}
