using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Orders.Domain;

internal enum OrderStatus
{
    Pending,
    OnHold,
    Confirmed,
    Rejected,
    Cancelled,

    /// <summary>Some of the order has shipped, the rest has not yet.</summary>
    PartiallyShipped,

    /// <summary>Everything has shipped; nothing has arrived yet.</summary>
    Shipped,

    /// <summary>Everything has shipped and part of it has arrived.</summary>
    PartiallyDelivered,

    Delivered,

    /// <summary>Delivered, and the return window has closed.</summary>
    Completed,
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

/// <summary>A refused change of lines or of the delivery (maps to 409 with the code, naming the field).</summary>
internal sealed class LineChangeException(string code, string message, string field = "lines") : InvalidOperationException(message)
{
    public string Code { get; } = code;

    public string Field { get; } = field;
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
        [OrderStatus.Confirmed] = [OrderStatus.PartiallyShipped, OrderStatus.Shipped, OrderStatus.PartiallyDelivered, OrderStatus.Delivered],
        [OrderStatus.PartiallyShipped] = [OrderStatus.Shipped, OrderStatus.PartiallyDelivered, OrderStatus.Delivered],
        [OrderStatus.Shipped] = [OrderStatus.PartiallyDelivered, OrderStatus.Delivered],
        [OrderStatus.PartiallyDelivered] = [OrderStatus.Delivered],
        [OrderStatus.Delivered] = [OrderStatus.Completed],
        [OrderStatus.Completed] = [],
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

    public required Address ShippingAddress { get; set; }

    public required Delivery Delivery { get; set; }

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

    /// <summary>Confirmed, or further along (shipping, delivered): the pipeline's steps are behind it.</summary>
    public bool IsConfirmed => Status is OrderStatus.Confirmed or OrderStatus.PartiallyShipped or OrderStatus.Shipped
        or OrderStatus.PartiallyDelivered or OrderStatus.Delivered or OrderStatus.Completed;

    /// <summary>The shipments of the order, as Fulfillment reported them, with the share of the total each one captures.</summary>
    public List<OrderShipment> Shipments { get; init; } = [];

    /// <summary>Units cancelled after confirmation, per change, node and SKU.</summary>
    public List<LineCancellation> Cancellations { get; init; } = [];

    /// <summary>Requests to cancel units, and whether the nodes have answered them.</summary>
    public List<CancellationRequest> CancellationRequests { get; init; } = [];

    /// <summary>Changes asked for after confirmation (more units, new lines, the delivery), each requested, then applied or refused.</summary>
    public List<OrderChange> Changes { get; init; } = [];

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
        if (HasEnded || IsConfirmed || Reservation != StepState.Pending)
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
        if (IsConfirmed || Reservation != StepState.Pending)
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
        if (HasEnded || IsConfirmed || Pricing != StepState.Pending)
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
        if (IsConfirmed || Pricing != StepState.Pending)
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

    /// <summary>
    /// Set when the payment of a confirmed order is on hold (<c>payment-reauthorisation-failed</c>):
    /// what is left to ship cannot be captured until operations act.
    /// </summary>
    public string? PaymentHold { get => _paymentHold; init => _paymentHold = value; }

    private string? _paymentHold;

    /// <summary>The payment went on hold after confirmation (recorded; a repeat changes nothing).</summary>
    public void HoldPayment(string reason, string cause, DateTimeOffset at)
    {
        if (PaymentHold == reason)
        {
            return;
        }

        _paymentHold = reason;
        UpdatedAt = at;
        Record($"payment on hold: {reason}", cause, at);
    }

    /// <summary>The payment's hold was lifted (its remainder was authorised anew); nothing changes when it was not on hold.</summary>
    public void ReleasePaymentHold(string cause, DateTimeOffset at)
    {
        if (_paymentHold is null)
        {
            return;
        }

        Record($"payment hold lifted: {_paymentHold}", cause, at);
        _paymentHold = null;
        UpdatedAt = at;
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

    /// <summary>When everything of it had arrived (its return window runs from then).</summary>
    public DateTimeOffset? DeliveredAt { get => _deliveredAt; init => _deliveredAt = value; }

    private DateTimeOffset? _deliveredAt;

    /// <summary>Its return window closed: a delivered order is completed (false, and nothing changes, in any other state).</summary>
    public bool Complete(TimeSpan returnWindow, DateTimeOffset at)
    {
        if (Status != OrderStatus.Delivered || _deliveredAt is null || _deliveredAt + returnWindow > at)
        {
            return false;
        }

        MoveTo(OrderStatus.Completed, null, $"the return window of {returnWindow} closed", at);
        return true;
    }

    /// <summary>Its whole total is captured when it is confirmed (its channel's setting), not per shipment.</summary>
    public bool CapturedAtConfirmation { get => _capturedAtConfirmation; init => _capturedAtConfirmation = value; }

    private bool _capturedAtConfirmation;

    /// <summary>Confirmed, and its whole total is captured now: shipments capture nothing more; cancelled units are refunded.</summary>
    public decimal CaptureAtConfirmation(DateTimeOffset at)
    {
        _capturedAtConfirmation = true;
        Record("capture at confirmation", $"the whole total, {_total} {Currency}, is captured now (the channel's setting)", at);
        return _total!.Value;
    }

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

    /// <summary>
    /// A shipment left: its lines' shipped quantities go up, the order moves to partially-shipped or
    /// shipped, and the share of the total it captures is returned (null, recorded as ignored, when
    /// the shipment was recorded before or the order is not confirmed). The share is each line's
    /// gross (its discounts allocated already) in proportion to the units shipped, rounded so that a
    /// line's shares add up to its gross, plus the shipping charge on the first shipment; the
    /// shipment that ships the last unit captures exactly what is left of the total.
    /// </summary>
    public (decimal Amount, bool Final)? Ship(Guid shipmentId, string node, IReadOnlyList<(string Sku, int Quantity)> lines, string carrier, string trackingNumber, string? trackingUrl, DateTimeOffset shippedAt, DateTimeOffset at)
    {
        if (Shipments.Any(s => s.ShipmentId == shipmentId))
        {
            Ignore("shipped", $"shipment {shipmentId} recorded before", at);
            return null;
        }

        if (!IsConfirmed || Status == OrderStatus.Completed)
        {
            Ignore("shipped", $"shipment {shipmentId} from {node}", at);
            return null;
        }

        if (_total is null || Lines.Any(l => l.Gross is null))
        {
            throw new InvalidOperationException($"Order {Id} shipped (shipment {shipmentId}) without being priced: no share of its total can be captured.");
        }

        var digits = OmsModular.Shared.Infrastructure.ReferenceData.Currencies.MinorUnits(Currency);
        var amount = Shipments.Count == 0 ? _shippingGross ?? 0m : 0m;
        foreach (var (sku, quantity) in lines)
        {
            var line = Lines.FirstOrDefault(l => l.Sku == sku)
                ?? throw new InvalidOperationException($"Shipment {shipmentId} carries {sku}, which order {Id} does not hold.");
            // One cursor over the line's units, shipped or cancelled: a line's shares add up to its gross.
            var before = line.ShippedQuantity + line.CancelledQuantity;
            var shipped = Math.Min(quantity, line.Quantity - before);
            if (shipped < quantity)
            {
                throw new InvalidOperationException($"Shipment {shipmentId} carries {quantity} × {sku}, but only {line.Quantity - before} of order {Id} are neither shipped nor cancelled.");
            }

            var gross = line.Gross!.Value;
            amount += Math.Round(gross * (before + shipped) / line.Quantity, digits, MidpointRounding.AwayFromZero)
                      - Math.Round(gross * before / line.Quantity, digits, MidpointRounding.AwayFromZero);
            line.ShippedQuantity += shipped;
        }

        var final = Lines.All(l => l.ShippedQuantity + l.CancelledQuantity >= l.Quantity);
        var left = _total.Value - Shipments.Sum(s => s.CaptureAmount);
        amount = final ? left : Math.Min(amount, left); // the last share: exactly what is left; never more than is left
        amount = Math.Max(0m, amount);

        if (_capturedAtConfirmation)
        {
            amount = 0m; // captured in full at confirmation
        }

        Shipments.Add(new OrderShipment
        {
            ShipmentId = shipmentId,
            Node = node,
            Skus = lines.Select(l => l.Sku).ToList(),
            Quantities = lines.Select(l => l.Quantity).ToList(),
            Carrier = carrier,
            TrackingNumber = trackingNumber,
            TrackingUrl = trackingUrl,
            CaptureAmount = amount,
            ShippedAt = shippedAt,
        });
        Record("shipped", $"shipment {shipmentId} from {node} ({string.Join(", ", lines.Select(l => $"{l.Quantity} × {l.Sku}"))}) with {carrier} {trackingNumber}; capture {amount} {Currency}{(final ? " (final)" : string.Empty)}", at);
        MoveToFulfilmentState(at);
        return (amount, final);
    }

    /// <summary>
    /// A shipment arrived; false (recorded as ignored) when it was delivered before. A shipment not
    /// recorded yet (its shipped event failed and waits) is an error, so the delivery waits for it
    /// instead of being lost.
    /// </summary>
    public bool Deliver(Guid shipmentId, DateTimeOffset deliveredAt, DateTimeOffset at)
    {
        var shipment = Shipments.FirstOrDefault(s => s.ShipmentId == shipmentId)
            ?? throw new InvalidOperationException($"Shipment {shipmentId} of order {Id} was delivered before it was recorded as shipped; the delivery waits for it.");
        if (shipment.DeliveredAt is not null)
        {
            Ignore("delivered", $"shipment {shipmentId} delivered before", at);
            return false;
        }

        shipment.DeliveredAt = deliveredAt;
        foreach (var line in shipment.Lines)
        {
            var orderLine = Lines.First(l => l.Sku == line.Sku);
            orderLine.DeliveredQuantity = Math.Min(orderLine.ShippedQuantity, orderLine.DeliveredQuantity + line.Quantity);
        }

        Record("delivered", $"shipment {shipmentId} ({string.Join(", ", shipment.Lines.Select(l => $"{l.Quantity} × {l.Sku}"))})", at);
        MoveToFulfilmentState(at);
        return true;
    }

    /// <summary>What a line cancellation did: the units per node, the value off the total, and a last capture when the cancellation leaves nothing to ship.</summary>
    public sealed record LinesCancelled(IReadOnlyList<(string Sku, int Quantity, string Node)> Lines, decimal Amount, decimal NewTotal, bool OrderEnded, decimal? FinalCapture);

    /// <summary>Units of the SKU neither shipped, nor cancelled, nor asked to be by a request not answered yet.</summary>
    public int OpenUnits(string sku) =>
        Lines.FirstOrDefault(l => l.Sku == sku) is { } line
            ? line.Quantity - line.ShippedQuantity - line.CancelledQuantity - CancellationRequests.Where(r => !r.Answered).SelectMany(r => r.Lines).Where(l => l.Sku == sku).Sum(l => l.Quantity)
            : 0;

    /// <summary>
    /// A request to cancel units that have not shipped (as far as Orders knows): refused for more units
    /// than are open (not shipped, not cancelled, not asked for by an earlier request still open). The
    /// nodes decide what they can still take off (Fulfillment answers); nothing changes here until then.
    /// </summary>
    public void RequestCancellation(Guid changeId, IReadOnlyList<(string Sku, int Quantity)> lines, string reason, DateTimeOffset at, string? requestHash = null)
    {
        if (!IsConfirmed || Status is OrderStatus.Delivered or OrderStatus.Completed)
        {
            throw new IllegalTransitionException(Status, OrderStatus.Cancelled);
        }

        foreach (var (sku, quantity) in lines)
        {
            var line = Lines.FirstOrDefault(l => l.Sku == sku) ?? throw new LineChangeException("unknown-line", $"SKU {sku} is not a line of order {Number}.");
            var open = OpenUnits(sku);
            if (quantity > open)
            {
                throw new LineChangeException("lines-already-shipped", $"{quantity} × {sku} to cancel, but {open} of {line.Quantity} have not shipped and are not cancelled or asked to be.");
            }
        }

        CancellationRequests.Add(new CancellationRequest
        {
            ChangeId = changeId,
            Skus = lines.Select(l => l.Sku).ToList(),
            Quantities = lines.Select(l => l.Quantity).ToList(),
            Reason = reason,
            At = at,
            RequestHash = requestHash,
        });
        UpdatedAt = at;
        Record("line cancellation requested", $"change {changeId} ({reason}): {string.Join(", ", lines.Select(l => $"{l.Quantity} × {l.Sku}"))}", at);
    }

    /// <summary>
    /// A node gave up units (a short pick, a rejection) and Fulfillment re-sourced what it could: the
    /// re-sourcing is recorded, and the units no node has are cancelled now (the node has given them
    /// up already), each at most what is still neither shipped nor cancelled of its line, as a change
    /// named by the shortage. Null when nothing was cancelled (recorded).
    /// </summary>
    public LinesCancelled? ResolveShortage(
        Guid shortageId,
        string node,
        string reason,
        IReadOnlyList<(string Node, string Sku, int Quantity)> resourced,
        IReadOnlyList<(string Sku, int Quantity)> unavailable,
        DateTimeOffset at)
    {
        if (CancellationRequests.Any(r => r.ChangeId == shortageId))
        {
            Ignore("shortage resolved", $"shortage {shortageId} recorded before", at);
            return null;
        }

        if (resourced.Count > 0)
        {
            Record("re-sourced", $"{reason} at {node}: {string.Join(", ", resourced.Select(r => $"{r.Quantity} × {r.Sku} from {r.Node}"))}", at);
            UpdatedAt = at;
        }

        var lines = unavailable
            .Select(u => (u.Sku, Quantity: Lines.FirstOrDefault(l => l.Sku == u.Sku) is { } line ? Math.Min(u.Quantity, line.Quantity - line.ShippedQuantity - line.CancelledQuantity) : 0))
            .Where(u => u.Quantity > 0)
            .ToArray();
        if (lines.Length == 0 || HasEnded)
        {
            return null;
        }

        CancellationRequests.Add(new CancellationRequest
        {
            ChangeId = shortageId,
            Skus = lines.Select(l => l.Sku).ToList(),
            Quantities = lines.Select(l => l.Quantity).ToList(),
            Reason = "out-of-stock",
            At = at,
        });
        Record("out of stock", $"{reason} at {node}: no node has {string.Join(", ", lines.Select(l => $"{l.Quantity} × {l.Sku}"))}", at);
        return ApplyCancellation(shortageId, lines.Select(l => (l.Sku, l.Quantity, node)).ToArray(), [], at);
    }

    /// <summary>
    /// The nodes took these units off (each at its node): each cancelled unit takes its share of the
    /// line's gross off the total, on the same cursor as the shipments' shares (a line's shipped and
    /// cancelled shares add up to its gross). When nothing is left to ship and nothing shipped, the
    /// order is cancelled; when nothing is left to ship but some shipped, a last capture takes what is
    /// left of the total. Null (recorded) when the request was answered before or nothing could be taken off.
    /// </summary>
    public LinesCancelled? ApplyCancellation(Guid changeId, IReadOnlyList<(string Sku, int Quantity, string Node)> cancelled, IReadOnlyList<(string Sku, int Quantity)> refused, DateTimeOffset at)
    {
        var request = CancellationRequests.FirstOrDefault(r => r.ChangeId == changeId);
        if (request is null || request.Answered)
        {
            Ignore("units cancelled", $"change {changeId} {(request is null ? "unknown" : "answered before")}", at);
            return null;
        }

        request.Answered = true;
        var reason = request.Reason;
        // Units of a SKU taken off several fulfilment orders of one node are one cancellation there.
        cancelled = cancelled.GroupBy(c => (c.Sku, c.Node)).Select(g => (g.Key.Sku, g.Sum(c => c.Quantity), g.Key.Node)).ToArray();
        if (refused.Count > 0)
        {
            Record("line cancellation refused", $"change {changeId}: {string.Join(", ", refused.Select(l => $"{l.Quantity} × {l.Sku}"))} already packed or shipped", at);
        }

        if (cancelled.Count == 0 || HasEnded)
        {
            UpdatedAt = at;
            return null;
        }

        var digits = OmsModular.Shared.Infrastructure.ReferenceData.Currencies.MinorUnits(Currency);
        var removed = 0m;
        foreach (var group in cancelled.GroupBy(c => c.Sku))
        {
            var line = Lines.First(l => l.Sku == group.Key);
            var quantity = Math.Min(group.Sum(c => c.Quantity), line.Quantity - line.ShippedQuantity - line.CancelledQuantity);
            var position = line.ShippedQuantity + line.CancelledQuantity; // one cursor over the line's units, shipped or cancelled
            var gross = line.Gross ?? 0m;
            removed += Math.Round(gross * (position + quantity) / line.Quantity, digits, MidpointRounding.AwayFromZero)
                       - Math.Round(gross * position / line.Quantity, digits, MidpointRounding.AwayFromZero);
            line.CancelledQuantity += quantity;
        }

        var nothingOpen = Lines.All(l => l.ShippedQuantity + l.CancelledQuantity >= l.Quantity);
        var shippedAny = Shipments.Count > 0;
        decimal? finalCapture = null;
        if (nothingOpen && !shippedAny)
        {
            removed = _total ?? 0m; // everything, the shipping charge with it: the order ends
        }

        var newTotal = (_total ?? 0m) - removed;
        if (nothingOpen && shippedAny && !_capturedAtConfirmation) // captured at confirmation: Payments refunds what the units cost instead
        {
            var captured = Shipments.Sum(s => s.CaptureAmount);
            if (newTotal < captured)
            {
                removed -= captured - newTotal; // never below what the shipments captured
                newTotal = captured;
            }

            finalCapture = newTotal - captured;
        }

        foreach (var (sku, quantity, node) in cancelled)
        {
            Cancellations.Add(new LineCancellation { ChangeId = changeId, Sku = sku, Quantity = quantity, Node = node, Reason = reason, At = at });
        }

        _total = newTotal;
        UpdatedAt = at;
        Record("lines cancelled", $"change {changeId} ({reason}): {string.Join(", ", cancelled.Select(t => $"{t.Quantity} × {t.Sku} at {t.Node}"))}; total {newTotal} {Currency} (−{removed})", at);
        if (nothingOpen && !shippedAny)
        {
            End(OrderStatus.Cancelled, reason, "every line cancelled", at, everyLineCancelled: true);
            return new LinesCancelled(cancelled, removed, newTotal, OrderEnded: true, null);
        }

        MoveToFulfilmentState(at);
        return new LinesCancelled(cancelled, removed, newTotal, OrderEnded: false, finalCapture);
    }

    /// <summary>A change of the order not decided yet, or a cancellation of units not answered yet: another change waits for it.</summary>
    public bool HasChangeInFlight => Changes.Any(c => c.Status == OrderChangeStatus.Requested) || CancellationRequests.Any(r => !r.Answered);

    /// <summary>
    /// The lines as a change would leave them (SKU → new quantity of units not cancelled): units are
    /// only added here (a lower quantity is a cancellation). Refused (409) for an order that is not
    /// confirmed or has shipped everything, a change in flight, more units of a line that has shipped
    /// in full, lines of a marketplace order, or a delivery change of a pickup order; once something
    /// has shipped, also for another service level (the shipping charge went with the first shipment)
    /// or an address in another country (the shipped units were taxed for the old one).
    /// </summary>
    public IReadOnlyList<(string Sku, int Added)> CheckChange(IReadOnlyList<(string Sku, int Quantity)> lines, bool deliveryChanged, bool serviceLevelChanged, string? countryCode)
    {
        if (Status is not (OrderStatus.Confirmed or OrderStatus.PartiallyShipped))
        {
            throw new IllegalTransitionException(Status, Status);
        }

        if (HasChangeInFlight)
        {
            throw new LineChangeException("change-in-progress", $"An earlier change of order {Number} is not decided yet; send this one when it is.");
        }

        if (deliveryChanged && Delivery.Method == "pickup")
        {
            throw new LineChangeException("pickup-order", $"Order {Number} is picked up at {Delivery.PickupLocation}; its delivery cannot be changed.", serviceLevelChanged ? "serviceLevel" : "shippingAddress");
        }

        if (Shipments.Count > 0 && serviceLevelChanged)
        {
            throw new LineChangeException("partially-shipped", $"Part of order {Number} has shipped, and its shipping charge with it: the service level is changed before the first shipment leaves.", "serviceLevel");
        }

        if (Shipments.Count > 0 && countryCode is not null && countryCode != ShippingAddress.CountryCode)
        {
            throw new LineChangeException("partially-shipped", $"Part of order {Number} has shipped, taxed for {ShippingAddress.CountryCode}: what is left ships within that country.", "shippingAddress.countryCode");
        }

        var added = new List<(string Sku, int Added)>();
        foreach (var (sku, quantity) in lines)
        {
            var line = Lines.FirstOrDefault(l => l.Sku == sku);
            var now = line is null ? 0 : line.Quantity - line.CancelledQuantity;
            if (quantity == now)
            {
                continue;
            }

            if (quantity < now)
            {
                throw new LineChangeException("lower-quantity", $"{sku}: {quantity} is fewer than the {now} ordered; units are taken off by cancelling them (cancel-lines).");
            }

            if (Channel == SalesChannel.Marketplace)
            {
                throw new LineChangeException("marketplace-order", $"Order {Number} came from {Marketplace}: its lines change there.");
            }

            if (line is not null && line.ShippedQuantity >= now && now > 0)
            {
                throw new LineChangeException("line-shipped", $"Every unit of {sku} has shipped; order the further units as a new order.");
            }

            added.Add((sku, quantity - now));
        }

        return added;
    }

    /// <summary>Records a requested change, priced already; nothing else changes until Fulfillment and Payments have answered.</summary>
    public void RequestChange(OrderChange change, DateTimeOffset at)
    {
        Changes.Add(change);
        UpdatedAt = at;
        Record("change requested", $"change {change.ChangeId} ({change.Reason}): {change.Describe()}; total {_total} → {change.NewTotal} {Currency}", at);
    }

    /// <summary>
    /// Why a prepared change can no longer be applied: the order ended, or something changed its lines
    /// or total since the change was priced (a cancellation of units), or nothing is left to ship to a new delivery. Null: it applies.
    /// </summary>
    public (string Reason, string Detail)? ChangeObstacle(OrderChange change)
    {
        var proposal = change.Read();
        if (HasEnded)
        {
            return ("order-ended", $"Order {Number} is {Status.Kebab()}.");
        }

        if (_total != proposal.BasisTotal || proposal.Lines.Any(p => Lines.FirstOrDefault(l => l.Sku == p.Sku) is { } line && line.CancelledQuantity != p.Cancelled))
        {
            return ("order-changed", $"Order {Number} changed after this change was priced (total {_total} instead of {proposal.BasisTotal}); ask for it again.");
        }

        if (Status is not (OrderStatus.Confirmed or OrderStatus.PartiallyShipped))
        {
            return ("already-shipped", $"Order {Number} has shipped everything meanwhile ({Status.Kebab()}).");
        }

        // Part of the order shipped after the change was asked for: the rules for a partly shipped order apply now.
        if (Shipments.Count > 0 && (proposal.ServiceLevel is not null || (proposal.Address is { } address && address.CountryCode != ShippingAddress.CountryCode)))
        {
            return ("partially-shipped", $"Part of order {Number} shipped meanwhile: its service level and its country stay as they were.");
        }

        var captured = Shipments.Sum(s => s.CaptureAmount);
        if (!_capturedAtConfirmation && proposal.Total < captured)
        {
            return ("below-captured", $"Order {Number}'s shipments captured {captured} {Currency} meanwhile, more than the {proposal.Total} {Currency} the change would leave.");
        }

        return null;
    }

    /// <summary>
    /// Applies a requested change: the lines' quantities and prices, the new lines, where the added
    /// units ship from, the delivery and the totals as priced. False (recorded as ignored) when it
    /// was decided before.
    /// </summary>
    public bool ApplyChange(Guid changeId, IReadOnlyList<(string Node, string Sku, int Quantity, double? DistanceKm)> allocations, DateTimeOffset at)
    {
        var change = Changes.FirstOrDefault(c => c.ChangeId == changeId);
        if (change is not { Status: OrderChangeStatus.Requested })
        {
            Ignore("change applied", $"change {changeId} {(change is null ? "unknown" : $"{change.Status.Kebab()} before")}", at);
            return false;
        }

        var proposal = change.Read();
        foreach (var proposed in proposal.Lines)
        {
            var line = Lines.FirstOrDefault(l => l.Sku == proposed.Sku);
            if (line is null)
            {
                line = new OrderLine { LineNumber = Lines.Count == 0 ? 1 : Lines.Max(l => l.LineNumber) + 1, Sku = proposed.Sku };
                Lines.Add(line);
            }

            line.Quantity = proposed.Quantity;
            (line.UnitPrice, line.Discount, line.Net, line.Tax, line.Gross) = (proposed.UnitPrice, proposed.Discount, proposed.Net, proposed.Tax, proposed.Gross);
        }

        foreach (var node in allocations.GroupBy(a => a.Node, StringComparer.Ordinal))
        {
            Fulfilment.Add(new FulfilmentAllocation
            {
                Node = node.Key,
                DistanceKm = node.First().DistanceKm,
                Lines = node.Select(a => new AllocatedSku { Sku = a.Sku, Quantity = a.Quantity }).ToList(),
            });
        }

        if (proposal.Address is { } address)
        {
            ShippingAddress = address;
        }

        if (proposal.ServiceLevel is { } serviceLevel)
        {
            Delivery = new Delivery { Method = Delivery.Method, ServiceLevel = serviceLevel, PickupLocation = Delivery.PickupLocation };
        }

        (_total, _taxTotal, _shippingGross, _discountTotal) = (proposal.Total, proposal.TaxTotal, proposal.ShippingGross, proposal.DiscountTotal);
        Discounts.Clear();
        Discounts.AddRange(proposal.Discounts);
        Coupons.Clear();
        Coupons.AddRange(proposal.Coupons);
        (change.Status, change.DecidedAt) = (OrderChangeStatus.Applied, at);
        UpdatedAt = at;
        var previous = _actor;
        ActingAs(change.Actor);
        Record("changed", $"change {changeId} ({change.Reason}): {change.Describe()}{(allocations.Count == 0 ? string.Empty : $", from {string.Join(", ", allocations.Select(a => $"{a.Quantity} × {a.Sku} at {a.Node}"))}")}; total {change.PreviousTotal} → {proposal.Total} {Currency}", at);
        ActingAs(previous);
        return true;
    }

    /// <summary>Refuses a requested change: the order stays as it was. False (recorded as ignored) when it was decided before.</summary>
    public bool RefuseChange(Guid changeId, string reason, string detail, DateTimeOffset at)
    {
        var change = Changes.FirstOrDefault(c => c.ChangeId == changeId);
        if (change is not { Status: OrderChangeStatus.Requested })
        {
            Ignore("change refused", $"change {changeId} {(change is null ? "unknown" : $"{change.Status.Kebab()} before")}", at);
            return false;
        }

        (change.Status, change.DecidedAt, change.RefusalReason, change.RefusalDetail) = (OrderChangeStatus.Refused, at, reason, detail.Length > 500 ? detail[..499] + "…" : detail);
        UpdatedAt = at;
        var previous = _actor;
        ActingAs(change.Actor);
        Record("change refused", $"change {changeId}: {reason}: {detail}", at);
        ActingAs(previous);
        return true;
    }

    /// <summary>The state the lines' quantities say: partially-shipped, shipped, partially-delivered or delivered.</summary>
    private void MoveToFulfilmentState(DateTimeOffset at)
    {
        var open = Lines.Where(l => l.Quantity > l.CancelledQuantity).ToArray();
        var next = open.Any(l => l.ShippedQuantity + l.CancelledQuantity < l.Quantity) ? (open.Any(l => l.ShippedQuantity > 0) ? OrderStatus.PartiallyShipped : OrderStatus.Confirmed)
            : open.All(l => l.DeliveredQuantity + l.CancelledQuantity >= l.Quantity) ? OrderStatus.Delivered
            : open.Any(l => l.DeliveredQuantity > 0) ? OrderStatus.PartiallyDelivered
            : OrderStatus.Shipped;
        if (next == OrderStatus.Delivered)
        {
            _deliveredAt ??= Shipments.Max(s => s.DeliveredAt) ?? at; // when the last parcel arrived, as reported
        }

        if (next != Status)
        {
            MoveTo(next, null, next switch
            {
                OrderStatus.PartiallyShipped => "part of the order shipped",
                OrderStatus.Shipped => "everything shipped",
                OrderStatus.PartiallyDelivered => "part of the order delivered",
                _ => "everything delivered",
            }, at);
        }
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

    /// <summary>
    /// The order ends: coupon uses it carried are given back (by Pricing, on the same event). A
    /// confirmed order ends only when every line was cancelled (<paramref name="everyLineCancelled"/>).
    /// </summary>
    private void End(OrderStatus status, string reason, string cause, DateTimeOffset at, bool everyLineCancelled = false)
    {
        MoveTo(status, reason, cause, at, everyLineCancelled && Status == OrderStatus.Confirmed);
        for (var i = 0; i < Coupons.Count; i++)
        {
            if (Coupons[i].Status == "applied")
            {
                Coupons[i] = new CouponResult { Code = Coupons[i].Code, Status = "released", Reason = $"order-{status.Kebab()}" };
            }
        }
    }

    /// <summary>Moves the order to another state, or refuses an illegal transition.</summary>
    private void MoveTo(OrderStatus next, string? reason, string cause, DateTimeOffset at, bool allowed = false)
    {
        if (!allowed && !CanMove(Status, next))
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

    /// <summary>Units ordered (cancelled ones included); an order change can raise it.</summary>
    public int Quantity { get; set; }

    public decimal? MarketplaceUnitPrice { get; init; }

    /// <summary>Set when the order is priced: unit price, discount (the list's terms), net, tax and gross.</summary>
    public decimal? UnitPrice { get; set; }

    public decimal? Discount { get; set; }

    public decimal? Net { get; set; }

    public decimal? Tax { get; set; }

    public decimal? Gross { get; set; }

    public int ShippedQuantity { get; set; }

    public int DeliveredQuantity { get; set; }

    /// <summary>Units of the line cancelled after capture (order changes); none are shipped.</summary>
    public int CancelledQuantity { get; set; }
}

/// <summary>A request to cancel units (the lines asked for), answered once Fulfillment said what the nodes took off.</summary>
internal sealed class CancellationRequest
{
    public Guid ChangeId { get; init; }

    public List<string> Skus { get; init; } = [];

    public List<int> Quantities { get; init; } = [];

    public IEnumerable<(string Sku, int Quantity)> Lines => Skus.Zip(Quantities);

    public required string Reason { get; init; }

    public DateTimeOffset At { get; init; }

    public bool Answered { get; set; }

    /// <summary>SHA-256 of the request as a client sent it (none for a system's request): a repeat of its key with another body is refused.</summary>
    public string? RequestHash { get; init; }
}

/// <summary>Units of a line cancelled at a node by one change, with the reason.</summary>
internal sealed class LineCancellation
{
    public Guid ChangeId { get; init; }

    public required string Sku { get; init; }

    public required string Node { get; init; }

    public int Quantity { get; init; }

    public required string Reason { get; init; }

    public DateTimeOffset At { get; init; }
}

/// <summary>A shipment of the order as Fulfillment reported it, with the share of the total it captures.</summary>
internal sealed class OrderShipment
{
    public Guid ShipmentId { get; init; }

    public required string Node { get; init; }

    /// <summary>The SKUs shipped, one per line (with <see cref="Quantities"/> at the same positions).</summary>
    public List<string> Skus { get; init; } = [];

    public List<int> Quantities { get; init; } = [];

    public IEnumerable<(string Sku, int Quantity)> Lines => Skus.Zip(Quantities);

    public required string Carrier { get; init; }

    public required string TrackingNumber { get; init; }

    public string? TrackingUrl { get; init; }

    public decimal CaptureAmount { get; init; }

    public DateTimeOffset ShippedAt { get; init; }

    public DateTimeOffset? DeliveredAt { get; set; }
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

internal enum OrderChangeStatus
{
    Requested,
    Applied,
    Refused,
}

/// <summary>A change of a confirmed order: what it asks for, priced (<see cref="Proposal"/>), and what became of it.</summary>
internal sealed class OrderChange
{
    public Guid ChangeId { get; init; }

    public OrderChangeStatus Status { get; set; }

    public required string Reason { get; init; }

    /// <summary>The key or token subject that asked for it (the timeline names it).</summary>
    public string? Actor { get; init; }

    public decimal PreviousTotal { get; init; }

    public decimal NewTotal { get; init; }

    /// <summary>SHA-256 of the request as sent: a repeat of its key with another body is refused.</summary>
    public required string RequestHash { get; init; }

    /// <summary>JSON of <see cref="ChangeProposal"/>: the order as the change leaves it.</summary>
    public required string Proposal { get; init; }

    public DateTimeOffset RequestedAt { get; init; }

    public DateTimeOffset? DecidedAt { get; set; }

    public string? RefusalReason { get; set; }

    public string? RefusalDetail { get; set; }

    public ChangeProposal Read() => System.Text.Json.JsonSerializer.Deserialize<ChangeProposal>(Proposal, MessageSerialization.Options)!;

    public string Describe()
    {
        var proposal = Read();
        var parts = proposal.Lines.Where(l => l.Added > 0).Select(l => $"+{l.Added} × {l.Sku}").ToList();
        if (proposal.Address is { } address)
        {
            parts.Add($"ship to {address.City} ({address.CountryCode})");
        }

        if (proposal.ServiceLevel is { } level)
        {
            parts.Add($"service level {level}");
        }

        return string.Join(", ", parts);
    }
}

/// <summary>
/// The order as a change leaves it: every line priced again (<see cref="ProposedLine.Added"/> units
/// more), the new address and service level (null: unchanged), the totals, and what the order was
/// when the change was priced (<see cref="BasisTotal"/> and each line's cancelled units), so a change
/// priced on an order that moved since is refused rather than applied.
/// </summary>
internal sealed record ChangeProposal(
    IReadOnlyList<ProposedLine> Lines,
    Address? Address,
    string? ServiceLevel,
    decimal Total,
    decimal TaxTotal,
    decimal ShippingGross,
    decimal DiscountTotal,
    IReadOnlyList<AppliedDiscount> Discounts,
    IReadOnlyList<CouponResult> Coupons,
    decimal BasisTotal);

internal sealed record ProposedLine(string Sku, int QuantityBefore, int Quantity, int Added, int Cancelled, decimal UnitPrice, decimal Discount, decimal Net, decimal Tax, decimal Gross);
