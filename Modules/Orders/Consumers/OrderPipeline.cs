using Microsoft.EntityFrameworkCore;
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
/// parallel), then authorises payment and confirms the reservations, and confirms the order or
/// ends it. Every step lands on the order's timeline; a message that no longer applies is recorded
/// as ignored. Concurrent changes of one order meet on the order's optimistic concurrency token: an
/// order changed while its step ran is not written, and the step runs again on what it is now.
/// The only module calls made before the order's own commit are idempotent steps whose answer the
/// pipeline needs to decide (authorise, confirm, reserve again), each answering with a state, so a
/// redelivery after a failed commit gets the same answers. Compensations are never called from
/// here: an order that ends publishes <see cref="OrderCancelled"/> or <see cref="OrderRejected"/>
/// with its commit, and Inventory and Payments release and void on that committed decision.
/// </summary>
internal sealed class OrderPipeline(OrdersDbContext db, IModuleClient modules, TimeProvider clock, Features.OrderSettings settings, ILogger<OrderPipeline> logger)
{
    public Task RoutedAsync(IReadOnlyList<Delivered<OrderRouted>> batch, CancellationToken cancellationToken) =>
        StepAsync(batch, m => m.OrderId, RoutedAsync, cancellationToken);

    private async Task RoutedAsync(OrderBatch unit, IReadOnlyDictionary<Guid, Order> orders, IReadOnlyList<Delivered<OrderRouted>> batch, CancellationToken cancellationToken)
    {
        var steps = new List<Step>(batch.Count);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var message = delivered.Message;
            if (orders.GetValueOrDefault(message.OrderId) is not { } order)
            {
                continue;
            }

            var allocations = message.Allocations.Select(a => new FulfilmentAllocation
            {
                Node = a.Node,
                DistanceKm = a.DistanceKm,
                Lines = a.Lines.Select(l => new AllocatedSku { Sku = l.Sku, Quantity = l.Quantity }).ToList(),
            }).ToArray();
            if (order.ReservationMade(message.DecisionId, allocations, now))
            {
                steps.Add(new Step(order, delivered.Enter));
            }
        }

        await AdvanceAsync(steps, cancellationToken);
    }

    public Task RoutingFailedAsync(IReadOnlyList<Delivered<OrderRoutingFailed>> batch, CancellationToken cancellationToken) =>
        StepAsync(batch, m => m.OrderId, RoutingFailed, cancellationToken);

    private Task RoutingFailed(OrderBatch unit, IReadOnlyDictionary<Guid, Order> orders, IReadOnlyList<Delivered<OrderRoutingFailed>> batch, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var message = delivered.Message;
            if (orders.GetValueOrDefault(message.OrderId) is { } order && order.ReservationFailed(message.DecisionId, message.Reason, message.Detail, now))
            {
                using var cause = delivered.Enter();
                Reject(order, message.Reason, message.Detail, now);
            }
        }

        return Task.CompletedTask;
    }

    public Task PricedAsync(IReadOnlyList<Delivered<OrderPriced>> batch, CancellationToken cancellationToken) =>
        StepAsync(batch, m => m.OrderId, PricedAsync, cancellationToken);

    private async Task PricedAsync(OrderBatch unit, IReadOnlyDictionary<Guid, Order> orders, IReadOnlyList<Delivered<OrderPriced>> batch, CancellationToken cancellationToken)
    {
        var steps = new List<Step>(batch.Count);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var message = delivered.Message;
            if (orders.GetValueOrDefault(message.OrderId) is not { } order)
            {
                continue;
            }

            var discounts = message.Promotions.Count == 0 ? string.Empty : $", discounts {string.Join(", ", message.Promotions.Select(p => $"{p.Code} -{p.Amount}"))}";
            var refused = message.Coupons.Where(c => c.Status != "applied").Select(c => $"{c.Code} ({c.Reason})").ToArray();
            var detail = $"total {message.Total} {message.Currency} ({message.PriceList}){discounts}{(refused.Length > 0 ? $"; coupons not applied: {string.Join(", ", refused)}" : string.Empty)}";
            var priced = order.PricedAt(
                message.Total,
                message.TaxTotal,
                message.ShippingGross,
                message.DiscountTotal,
                message.Promotions.Select(p => new AppliedDiscount { Code = p.Code, Name = p.Name, Kind = p.Kind, Amount = p.Amount, CouponCode = p.CouponCode }),
                message.Coupons.Select(c => new CouponResult { Code = c.Code, Status = c.Status, Reason = c.Reason }),
                detail,
                now);
            if (!priced)
            {
                continue;
            }

            foreach (var line in message.Lines)
            {
                unit.Price(order, line.Sku, line.UnitPrice, line.Discount, line.Net, line.Tax, line.Gross);
            }

            steps.Add(new Step(order, delivered.Enter));
        }

        await AdvanceAsync(steps, cancellationToken);
    }

    public Task PricingFailedAsync(IReadOnlyList<Delivered<OrderPricingFailed>> batch, CancellationToken cancellationToken) =>
        StepAsync(batch, m => m.OrderId, PricingFailed, cancellationToken);

    private Task PricingFailed(OrderBatch unit, IReadOnlyDictionary<Guid, Order> orders, IReadOnlyList<Delivered<OrderPricingFailed>> batch, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            if (orders.GetValueOrDefault(delivered.Message.OrderId) is { } order && order.PricingFailed(delivered.Message.Detail, now))
            {
                using var cause = delivered.Enter();
                Reject(order, "pricing-failed", delivered.Message.Detail, now);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Payments voided an ended order's authorisation: recorded on the timeline.</summary>
    public Task PaymentVoidedAsync(IReadOnlyList<Delivered<PaymentVoided>> batch, CancellationToken cancellationToken) =>
        StepAsync(
            batch,
            m => m.OrderId,
            (_, orders, deliveries, _) =>
            {
                var now = clock.GetUtcNow();
                foreach (var delivered in deliveries)
                {
                    if (orders.GetValueOrDefault(delivered.Message.OrderId) is { } order)
                    {
                        order.Record("payment voided", $"payment {delivered.Message.PaymentId}: {delivered.Message.Reason}", now);
                    }
                }

                return Task.CompletedTask;
            },
            cancellationToken);

    /// <summary>
    /// Runs one step for the orders of a batch and writes them. An order that changed since it was
    /// read (a cancel over HTTP committed meanwhile) is not written: its deliveries run the step
    /// again on the order as it is now (which usually records them as ignored), while the rest of
    /// the batch keeps what it did. The module calls of a repeated step are idempotent, so they
    /// answer as before. Bounded: after <see cref="MaxRounds"/> the batch fails and is redelivered.
    /// </summary>
    private async Task StepAsync<TEvent>(
        IReadOnlyList<Delivered<TEvent>> batch,
        Func<TEvent, Guid> orderOf,
        Func<OrderBatch, IReadOnlyDictionary<Guid, Order>, IReadOnlyList<Delivered<TEvent>>, CancellationToken, Task> step,
        CancellationToken cancellationToken)
    {
        var pending = batch;
        for (var round = 1; ; round++)
        {
            var unit = new OrderBatch(db);
            var orders = await unit.LoadAsync(pending.Select(d => orderOf(d.Message)), cancellationToken);
            await step(unit, orders, pending, cancellationToken);
            var conflicted = await unit.SaveAsync(cancellationToken);
            if (conflicted.Count == 0)
            {
                return;
            }

            if (round == MaxRounds)
            {
                throw new DbUpdateConcurrencyException($"{conflicted.Count} orders kept changing while the pipeline wrote them ({MaxRounds} rounds); the batch is retried.");
            }

            logger.LogDebug("{Count} orders changed while the pipeline worked on them; their step runs again", conflicted.Count);
            pending = pending.Where(d => conflicted.Contains(orderOf(d.Message))).ToArray();
        }
    }

    private const int MaxRounds = 5;

    /// <summary>Once reserved and priced: hold if a rule says so, else authorise, then confirm.</summary>
    public Task AdvanceAsync(Order order, CancellationToken cancellationToken) => AdvanceAsync([new Step(order, null)], cancellationToken);

    /// <summary>
    /// Advances the orders of a batch together: one authorisation request for all that are ready,
    /// one confirmation request for all authorised, and (rarely) one request that reserves again
    /// what was no longer held. Every answer is a state keyed by order id, so a repeat after a
    /// failed commit of this batch takes the same decisions.
    /// </summary>
    private async Task AdvanceAsync(IReadOnlyList<Step> steps, CancellationToken cancellationToken)
    {
        var ready = new List<Step>(steps.Count);
        var authorized = new List<Step>(steps.Count);
        foreach (var step in steps)
        {
            var order = step.Order;
            if (order.IsReadyToConfirm)
            {
                authorized.Add(step); // routed again after its stock was lost; its authorisation holds
                continue;
            }

            if (!order.IsReadyForPayment)
            {
                continue;
            }

            if (!order.HoldReleased && HoldReason(order) is { } hold)
            {
                order.Hold(hold, clock.GetUtcNow());
                continue;
            }

            ready.Add(step);
        }

        var authorizations = ready.Count == 0 ? [] : (await modules.SendAsync(
                new AuthorizePaymentBatch(ready.Select(s => new AuthorizePayment(s.Order.Id, s.Order.Total!.Value, s.Order.Currency, s.Order.Payment.Method, s.Order.Payment.Token)).ToArray()),
                cancellationToken))
            .ToDictionary(a => a.OrderId);
        var unavailable = new List<Guid>();
        var now = clock.GetUtcNow();
        foreach (var step in ready)
        {
            var (order, authorization) = (step.Order, authorizations[step.Order.Id]);
            switch (authorization.State)
            {
                case PaymentState.Authorized:
                    order.PaymentAuthorized(authorization.PaymentId!.Value, authorization.Amount, authorization.Currency, now);
                    authorized.Add(step);
                    break;
                case PaymentState.Declined:
                    using (step.Enter())
                    {
                        order.PaymentDeclined(authorization.DeclineReason, now);
                        db.Publish(new OrderCancelled(order.Id, "payment-declined", now), order.Id.ToString());
                    }

                    break;
                case PaymentState.Unavailable:
                    unavailable.Add(order.Id);
                    break;
                default:
                    // Voided or order-ended: Payments recorded this order's end, so the order read here is
                    // stale (it ended meanwhile); the row's version check runs its step again.
                    order.Ignore("payment", $"Payments answered {authorization.State.Kebab()}", now);
                    break;
            }
        }

        if (unavailable.Count > 0)
        {
            // The provider did not answer for these orders: nothing was authorised for them, and the
            // others' authorisations are committed in Payments, so a redelivery answers them the same.
            throw new DependencyUnavailableException($"The payment provider did not answer for {unavailable.Count} orders ({string.Join(", ", unavailable.Take(5))}); their step is retried.");
        }

        if (authorized.Count == 0)
        {
            return;
        }

        var confirmations = await ConfirmAsync(authorized.Select(s => s.Order), cancellationToken);
        var lost = authorized.Where(s => confirmations[s.Order.Id].State == ReservationState.Lost).ToArray();
        if (lost.Length > 0)
        {
            // The stock stopped being held meanwhile (a reservation expired during a hold, say): reserve
            // the same lines at the same nodes again; what is reserved is confirmed like the rest.
            await ReserveAgainAsync(lost.Select(s => s.Order), cancellationToken);
            foreach (var (orderId, answer) in await ConfirmAsync(lost.Select(s => s.Order), cancellationToken))
            {
                confirmations[orderId] = answer;
            }
        }

        now = clock.GetUtcNow();
        foreach (var step in authorized)
        {
            var order = step.Order;
            var confirmation = confirmations[order.Id];
            using var cause = step.Enter();
            switch (confirmation.State)
            {
                case ReservationState.Confirmed:
                    order.Confirm(now);
                    db.Publish(new OrderConfirmed(order.Id, order.Number, order.Currency, order.Total!.Value, now), order.Id.ToString());
                    if (settings.CapturesAtConfirmation(order.Channel.Kebab()))
                    {
                        db.Publish(new CaptureRequested(order.Id, order.Id, order.CaptureAtConfirmation(now), order.Currency, Final: true, now), order.Id.ToString());
                    }

                    logger.LogInformation("Order {OrderId} confirmed", order.Id);
                    break;
                case ReservationState.Lost:
                    var detail = $"no longer held and not available again at {string.Join(", ", confirmation.Missing)}";
                    if (order.RequestRerouting(confirmation.Missing, detail, now) is { } rerouting)
                    {
                        db.Publish(
                            new OrderReroutingRequested(
                                order.Id,
                                rerouting.Lines.Select(l => new OrderLineSnapshot(l.Sku, l.Quantity, null)).ToArray(),
                                new OrderAddress(order.ShippingAddress.Name, order.ShippingAddress.Lines, order.ShippingAddress.City, order.ShippingAddress.PostalCode, order.ShippingAddress.CountryCode, order.ShippingAddress.Latitude, order.ShippingAddress.Longitude),
                                new OrderDelivery(order.Delivery.Method, order.Delivery.ServiceLevel, order.Delivery.PickupLocation),
                                rerouting.Excluded,
                                now),
                            order.Id.ToString());
                    }
                    else if (order.ReservationLost(detail, now))
                    {
                        db.Publish(new OrderRejected(order.Id, "reservation-lost", detail, now), order.Id.ToString());
                    }

                    break;
                default:
                    order.Ignore("reservation", $"Inventory answered {confirmation.State.Kebab()}", now); // stale, as above
                    break;
            }
        }
    }

    private async Task<Dictionary<Guid, OrderReservations>> ConfirmAsync(IEnumerable<Order> orders, CancellationToken cancellationToken) =>
        (await modules.SendAsync(new ConfirmReservationsBatch(orders.Select(o => new ConfirmReservations(o.Id, o.Fulfilment.Select(f => f.Node).ToArray())).ToArray()), cancellationToken))
            .ToDictionary(c => c.OrderId);

    private async Task ReserveAgainAsync(IEnumerable<Order> orders, CancellationToken cancellationToken)
    {
        var requests = orders
            .SelectMany(o => o.Fulfilment.Select(f => new ReserveStock(o.Id, f.Node, f.Lines.Select(l => new ReservationLine(l.Sku, l.Quantity)).ToArray())))
            .ToArray();
        if (requests.Length == 0)
        {
            return;
        }

        var outcomes = await modules.SendAsync(new ReserveStockBatch(requests), cancellationToken);
        foreach (var outcome in outcomes.Where(o => o.State != ReservationState.Held))
        {
            logger.LogInformation("Order {OrderId} could not be reserved again at {Node}: {State}", outcome.OrderId, outcome.Location, outcome.State.Kebab());
        }
    }

    /// <summary>An order being advanced, and how to enter the message that moved it (for what it publishes).</summary>
    private sealed record Step(Order Order, Func<IDisposable>? Cause)
    {
        public IDisposable? Enter() => Cause?.Invoke();
    }

    private string? HoldReason(Order order) =>
        settings.HoldTotalAbove is { } limit && order.Total > limit ? "total-above-threshold"
        : settings.HoldReviewCountries.Contains(order.ShippingAddress.CountryCode) ? "country-under-review"
        : null;

    /// <summary>Rejects the order (unless it already ended) and publishes the rejection that Inventory, Payments and Pricing compensate on.</summary>
    private void Reject(Order order, string reason, string detail, DateTimeOffset now)
    {
        if (order.Reject(reason, detail, now))
        {
            db.Publish(new OrderRejected(order.Id, reason, detail, now), order.Id.ToString());
        }
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

internal sealed class OnPaymentVoided(OrderPipeline pipeline) : IIntegrationEventBatchHandler<PaymentVoided>
{
    public Task HandleAsync(IReadOnlyList<Delivered<PaymentVoided>> batch, CancellationToken cancellationToken) =>
        pipeline.PaymentVoidedAsync(batch, cancellationToken);
}
