using Microsoft.Extensions.Logging;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Contracts.Pricing;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Orders.Consumers;

/// <summary>
/// The process manager of the order pipeline: joins routing/reservation and pricing (they run in
/// parallel), then authorises payment, and confirms the order or compensates (release the
/// reservation when payment is declined or pricing fails; void the authorisation and release when
/// the order was cancelled meanwhile). Every step lands on the order's timeline. Concurrent steps
/// of one order meet on the order's optimistic concurrency token; the loser is redelivered.
/// </summary>
internal sealed class OrderPipeline(OrdersDbContext db, IModuleClient modules, TimeProvider clock, Features.OrderSettings settings, ILogger<OrderPipeline> logger)
{
    public async Task RoutedAsync(IReadOnlyList<Delivered<OrderRouted>> batch, CancellationToken cancellationToken)
    {
        var unit = new PipelineOrders(db);
        var orders = await unit.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var steps = new List<Step>(batch.Count);
        foreach (var delivered in batch)
        {
            if (orders.GetValueOrDefault(delivered.Message.OrderId) is { } order && Routed(order, delivered.Message))
            {
                steps.Add(new Step(order, delivered.Enter));
            }
        }

        await AdvanceAsync(steps, cancellationToken);
        await unit.SaveAsync(cancellationToken);
    }

    private bool Routed(Order order, OrderRouted message)
    {
        if (order.Reservation != StepState.Pending)
        {
            return false;
        }

        order.Reservation = StepState.Done;
        order.RoutingDecisionId = message.DecisionId;
        order.ReservedNodes = message.Allocations.Count;
        order.Fulfilment.AddRange(message.Allocations.Select(a => new FulfilmentAllocation
        {
            Node = a.Node,
            DistanceKm = a.DistanceKm,
            Lines = a.Lines.Select(l => new AllocatedSku { Sku = l.Sku, Quantity = l.Quantity }).ToList(),
        }));
        order.Record("reserved", $"fulfilment at {string.Join(", ", message.Allocations.Select(a => a.Node))}", clock.GetUtcNow());
        return true;
    }

    public async Task RoutingFailedAsync(IReadOnlyList<Delivered<OrderRoutingFailed>> batch, CancellationToken cancellationToken)
    {
        var unit = new PipelineOrders(db);
        var orders = await unit.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var releases = new List<ReleaseReservations>();
        foreach (var delivered in batch)
        {
            var message = delivered.Message;
            if (orders.GetValueOrDefault(message.OrderId) is not { Reservation: StepState.Pending } order)
            {
                continue;
            }

            order.Reservation = StepState.Failed;
            order.RoutingDecisionId = message.DecisionId;
            using var cause = delivered.Enter();
            Reject(order, message.Reason, message.Detail, releases);
        }

        await ReleaseAsync(releases, cancellationToken);
        await unit.SaveAsync(cancellationToken);
    }

    public async Task PricedAsync(IReadOnlyList<Delivered<OrderPriced>> batch, CancellationToken cancellationToken)
    {
        var unit = new PipelineOrders(db);
        var orders = await unit.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var steps = new List<Step>(batch.Count);
        foreach (var delivered in batch)
        {
            if (orders.GetValueOrDefault(delivered.Message.OrderId) is { } order && Priced(unit, order, delivered.Message))
            {
                steps.Add(new Step(order, delivered.Enter));
            }
        }

        await AdvanceAsync(steps, cancellationToken);
        await unit.SaveAsync(cancellationToken);
    }

    private bool Priced(PipelineOrders unit, Order order, OrderPriced message)
    {
        if (order.Pricing != StepState.Pending)
        {
            return false;
        }

        order.Pricing = StepState.Done;
        order.Total = message.Total;
        order.TaxTotal = message.TaxTotal;
        order.ShippingGross = message.ShippingGross;
        order.DiscountTotal = message.DiscountTotal;
        foreach (var priced in message.Lines)
        {
            unit.Price(order, priced.Sku, priced.UnitPrice, priced.Discount, priced.Net, priced.Tax, priced.Gross);
        }

        order.Discounts.AddRange(message.Promotions.Select(p => new AppliedDiscount { Code = p.Code, Name = p.Name, Kind = p.Kind, Amount = p.Amount, CouponCode = p.CouponCode }));
        order.Coupons.AddRange(message.Coupons.Select(c => new CouponResult { Code = c.Code, Status = c.Status, Reason = c.Reason }));
        var discounts = message.Promotions.Count == 0 ? string.Empty : $", discounts {string.Join(", ", message.Promotions.Select(p => $"{p.Code} -{p.Amount}"))}";
        var refused = message.Coupons.Where(c => c.Status != "applied").Select(c => $"{c.Code} ({c.Reason})").ToArray();
        order.Record("priced", $"total {message.Total} {message.Currency} ({message.PriceList}){discounts}{(refused.Length > 0 ? $"; coupons not applied: {string.Join(", ", refused)}" : string.Empty)}", clock.GetUtcNow());
        return true;
    }

    public async Task PricingFailedAsync(IReadOnlyList<Delivered<OrderPricingFailed>> batch, CancellationToken cancellationToken)
    {
        var unit = new PipelineOrders(db);
        var orders = await unit.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var releases = new List<ReleaseReservations>();
        foreach (var delivered in batch)
        {
            if (orders.GetValueOrDefault(delivered.Message.OrderId) is not { Pricing: StepState.Pending } order)
            {
                continue;
            }

            order.Pricing = StepState.Failed;
            using var cause = delivered.Enter();
            Reject(order, "pricing-failed", delivered.Message.Detail, releases);
        }

        await ReleaseAsync(releases, cancellationToken);
        await unit.SaveAsync(cancellationToken);
    }

    /// <summary>Once reserved and priced: hold if a rule says so, else authorise, then confirm or compensate.</summary>
    public Task AdvanceAsync(Order order, CancellationToken cancellationToken) => AdvanceAsync([new Step(order, null)], cancellationToken);

    /// <summary>
    /// Advances the orders of a batch together: one authorisation request for all that are ready,
    /// one confirmation request for all authorised, one release request for all that need one.
    /// </summary>
    private async Task AdvanceAsync(IReadOnlyList<Step> steps, CancellationToken cancellationToken)
    {
        var releases = new List<ReleaseReservations>();
        var ready = new List<Step>(steps.Count);
        foreach (var step in steps)
        {
            var order = step.Order;
            if (order.Status == OrderStatus.Cancelled || order.Status == OrderStatus.Rejected)
            {
                releases.Add(new ReleaseReservations(order.Id, order.StatusReason ?? "order-ended"));
                continue;
            }

            if (order.Status != OrderStatus.Pending || order.Reservation != StepState.Done || order.Pricing != StepState.Done || order.PaymentStep != StepState.Pending)
            {
                continue;
            }

            if (!order.HoldReleased && HoldReason(order) is { } hold)
            {
                order.MoveTo(OrderStatus.OnHold, hold, "hold rule", clock.GetUtcNow());
                continue;
            }

            ready.Add(step);
        }

        var authorized = new List<Step>(ready.Count);
        if (ready.Count > 0)
        {
            var authorizations = await modules.SendAsync(
                new AuthorizePaymentBatch(ready.Select(s => new AuthorizePayment(s.Order.Id, s.Order.Total!.Value, s.Order.Currency, s.Order.Payment.Method, s.Order.Payment.Token)).ToArray()),
                cancellationToken);
            var now = clock.GetUtcNow();
            for (var i = 0; i < ready.Count; i++)
            {
                var (order, authorization) = (ready[i].Order, authorizations[i]);
                if (!authorization.Authorized)
                {
                    order.PaymentStep = StepState.Failed;
                    order.Record("payment declined", authorization.DeclineReason ?? "declined", now);
                    order.MoveTo(OrderStatus.Cancelled, "payment-declined", $"payment declined: {authorization.DeclineReason}", now);
                    releases.Add(new ReleaseReservations(order.Id, "payment-declined"));
                    using var cause = ready[i].Enter();
                    db.Publish(new OrderCancelled(order.Id, "payment-declined", now), order.Id.ToString());
                    continue;
                }

                order.PaymentStep = StepState.Done;
                order.Record("payment authorized", $"payment {authorization.PaymentId}", now);
                authorized.Add(ready[i]);
            }
        }

        if (authorized.Count > 0)
        {
            var confirmations = await modules.SendAsync(new ConfirmReservationsBatch(authorized.Select(s => new ConfirmReservations(s.Order.Id)).ToArray()), cancellationToken);
            var now = clock.GetUtcNow();
            for (var i = 0; i < authorized.Count; i++)
            {
                var (step, confirmed) = (authorized[i], confirmations[i]);
                var order = step.Order;
                using var cause = step.Enter();
                if (confirmed < order.ReservedNodes)
                {
                    // The stock is no longer held (the reservation expired or was released meanwhile): the
                    // authorisation is voided and the order rejected, nothing stays held for it.
                    await modules.SendAsync(new VoidPayment(order.Id, "reservation-lost"), cancellationToken);
                    order.PaymentStep = StepState.Failed;
                    order.Record("payment voided", "the reservation was lost before confirmation", now);
                    Reject(order, "reservation-lost", $"{order.ReservedNodes - confirmed} of {order.ReservedNodes} reservations were no longer held at confirmation", releases);
                    continue;
                }

                order.MoveTo(OrderStatus.Confirmed, null, "reserved, priced and authorised", now);
                db.Publish(new OrderConfirmed(order.Id, order.Number, order.Currency, order.Total!.Value, now), order.Id.ToString());
                logger.LogInformation("Order {OrderId} confirmed", order.Id);
            }
        }

        await ReleaseAsync(releases, cancellationToken);
    }

    private Task ReleaseAsync(IReadOnlyList<ReleaseReservations> releases, CancellationToken cancellationToken) =>
        releases.Count == 0 ? Task.CompletedTask : modules.SendAsync(new ReleaseReservationsBatch(releases), cancellationToken);

    /// <summary>An order being advanced, and how to enter the message that moved it (for what it publishes).</summary>
    private sealed record Step(Order Order, Func<IDisposable>? Cause)
    {
        public IDisposable? Enter() => Cause?.Invoke();
    }

    private string? HoldReason(Order order) =>
        settings.HoldTotalAbove is { } limit && order.Total > limit ? "total-above-threshold"
        : settings.HoldReviewCountries.Contains(order.ShippingAddress.CountryCode) ? "country-under-review"
        : null;

    /// <summary>Rejects the order (unless it already ended); a reservation it holds is added to <paramref name="releases"/>.</summary>
    private void Reject(Order order, string reason, string detail, List<ReleaseReservations> releases)
    {
        var now = clock.GetUtcNow();
        if (!Order.CanMove(order.Status, OrderStatus.Rejected))
        {
            order.Record($"{reason} (ignored)", detail, now); // already cancelled or rejected
            return;
        }

        order.MoveTo(OrderStatus.Rejected, reason, detail, now);
        if (order.Reservation == StepState.Done)
        {
            releases.Add(new ReleaseReservations(order.Id, reason));
        }

        db.Publish(new OrderRejected(order.Id, reason, detail, now), order.Id.ToString());
    }
}

internal sealed class OnOrderRouted(OrderPipeline pipeline) : IIntegrationEventBatchHandler<OrderRouted>
{
    public Task HandleAsync(IReadOnlyList<Delivered<OrderRouted>> batch, CancellationToken cancellationToken) =>
        pipeline.RoutedAsync(batch, cancellationToken);
}

internal sealed class OnOrderRoutingFailed(OrderPipeline pipeline) : IIntegrationEventBatchHandler<OrderRoutingFailed>
{
    public Task HandleAsync(IReadOnlyList<Delivered<OrderRoutingFailed>> batch, CancellationToken cancellationToken) =>
        pipeline.RoutingFailedAsync(batch, cancellationToken);
}

internal sealed class OnOrderPriced(OrderPipeline pipeline) : IIntegrationEventBatchHandler<OrderPriced>
{
    public Task HandleAsync(IReadOnlyList<Delivered<OrderPriced>> batch, CancellationToken cancellationToken) =>
        pipeline.PricedAsync(batch, cancellationToken);
}

internal sealed class OnOrderPricingFailed(OrderPipeline pipeline) : IIntegrationEventBatchHandler<OrderPricingFailed>
{
    public Task HandleAsync(IReadOnlyList<Delivered<OrderPricingFailed>> batch, CancellationToken cancellationToken) =>
        pipeline.PricingFailedAsync(batch, cancellationToken);
}
