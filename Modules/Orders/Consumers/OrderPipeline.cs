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
/// parallel), then authorises payment, and confirms the order or compensates (release the
/// reservation when payment is declined or pricing fails; void the authorisation and release when
/// the order was cancelled meanwhile). Every step lands on the order's timeline. Concurrent steps
/// of one order meet on the order's optimistic concurrency token; the loser is redelivered.
/// </summary>
internal sealed class OrderPipeline(OrdersDbContext db, IModuleClient modules, TimeProvider clock, Features.OrderSettings settings, ILogger<OrderPipeline> logger)
{
    public async Task<Order?> LoadAsync(Guid orderId, CancellationToken cancellationToken) =>
        await db.Orders.SingleOrDefaultAsync(o => o.Id == orderId, cancellationToken);

    public async Task RoutedAsync(OrderRouted message, CancellationToken cancellationToken)
    {
        var order = await LoadAsync(message.OrderId, cancellationToken);
        if (order is null || order.Reservation != StepState.Pending)
        {
            return;
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
        await AdvanceAsync(order, cancellationToken);
    }

    public async Task RoutingFailedAsync(OrderRoutingFailed message, CancellationToken cancellationToken)
    {
        var order = await LoadAsync(message.OrderId, cancellationToken);
        if (order is null || order.Reservation != StepState.Pending)
        {
            return;
        }

        order.Reservation = StepState.Failed;
        order.RoutingDecisionId = message.DecisionId;
        await RejectAsync(order, message.Reason, message.Detail, cancellationToken);
    }

    public async Task PricedAsync(OrderPriced message, CancellationToken cancellationToken)
    {
        var order = await LoadAsync(message.OrderId, cancellationToken);
        if (order is null || order.Pricing != StepState.Pending)
        {
            return;
        }

        order.Pricing = StepState.Done;
        order.Total = message.Total;
        order.TaxTotal = message.TaxTotal;
        order.ShippingGross = message.ShippingGross;
        order.DiscountTotal = message.DiscountTotal;
        foreach (var priced in message.Lines)
        {
            var line = order.Lines.Single(l => l.Sku == priced.Sku);
            (line.UnitPrice, line.Discount, line.Net, line.Tax, line.Gross) = (priced.UnitPrice, priced.Discount, priced.Net, priced.Tax, priced.Gross);
        }

        order.Discounts.AddRange(message.Promotions.Select(p => new AppliedDiscount { Code = p.Code, Name = p.Name, Kind = p.Kind, Amount = p.Amount, CouponCode = p.CouponCode }));
        order.Coupons.AddRange(message.Coupons.Select(c => new CouponResult { Code = c.Code, Status = c.Status, Reason = c.Reason }));
        var discounts = message.Promotions.Count == 0 ? string.Empty : $", discounts {string.Join(", ", message.Promotions.Select(p => $"{p.Code} -{p.Amount}"))}";
        var refused = message.Coupons.Where(c => c.Status != "applied").Select(c => $"{c.Code} ({c.Reason})").ToArray();
        order.Record("priced", $"total {message.Total} {message.Currency} ({message.PriceList}){discounts}{(refused.Length > 0 ? $"; coupons not applied: {string.Join(", ", refused)}" : string.Empty)}", clock.GetUtcNow());
        await AdvanceAsync(order, cancellationToken);
    }

    public async Task PricingFailedAsync(OrderPricingFailed message, CancellationToken cancellationToken)
    {
        var order = await LoadAsync(message.OrderId, cancellationToken);
        if (order is null || order.Pricing != StepState.Pending)
        {
            return;
        }

        order.Pricing = StepState.Failed;
        await RejectAsync(order, "pricing-failed", message.Detail, cancellationToken);
    }

    /// <summary>Once reserved and priced: hold if a rule says so, else authorise, then confirm or compensate.</summary>
    public async Task AdvanceAsync(Order order, CancellationToken cancellationToken)
    {
        if (order.Status == OrderStatus.Cancelled || order.Status == OrderStatus.Rejected)
        {
            await modules.SendAsync(new ReleaseReservations(order.Id, order.StatusReason ?? "order-ended"), cancellationToken);
            return;
        }

        if (order.Status != OrderStatus.Pending || order.Reservation != StepState.Done || order.Pricing != StepState.Done || order.PaymentStep != StepState.Pending)
        {
            return;
        }

        if (!order.HoldReleased && HoldReason(order) is { } hold)
        {
            order.MoveTo(OrderStatus.OnHold, hold, "hold rule", clock.GetUtcNow());
            return;
        }

        var authorization = await modules.SendAsync(
            new AuthorizePayment(order.Id, order.Total!.Value, order.Currency, order.Payment.Method, order.Payment.Token),
            cancellationToken);
        var now = clock.GetUtcNow();
        if (!authorization.Authorized)
        {
            order.PaymentStep = StepState.Failed;
            order.Record("payment declined", authorization.DeclineReason ?? "declined", now);
            order.MoveTo(OrderStatus.Cancelled, "payment-declined", $"payment declined: {authorization.DeclineReason}", now);
            await modules.SendAsync(new ReleaseReservations(order.Id, "payment-declined"), cancellationToken);
            db.Publish(new OrderCancelled(order.Id, "payment-declined", now), order.Id.ToString());
            return;
        }

        order.PaymentStep = StepState.Done;
        order.Record("payment authorized", $"payment {authorization.PaymentId}", now);
        var confirmed = await modules.SendAsync(new ConfirmReservations(order.Id), cancellationToken);
        if (confirmed < order.ReservedNodes)
        {
            // The stock is no longer held (the reservation expired or was released meanwhile): the
            // authorisation is voided and the order rejected, nothing stays held for it.
            await modules.SendAsync(new VoidPayment(order.Id, "reservation-lost"), cancellationToken);
            order.PaymentStep = StepState.Failed;
            order.Record("payment voided", "the reservation was lost before confirmation", now);
            await RejectAsync(order, "reservation-lost", $"{order.ReservedNodes - confirmed} of {order.ReservedNodes} reservations were no longer held at confirmation", cancellationToken);
            return;
        }

        order.MoveTo(OrderStatus.Confirmed, null, "reserved, priced and authorised", now);
        db.Publish(new OrderConfirmed(order.Id, order.Number, order.Currency, order.Total!.Value, now), order.Id.ToString());
        logger.LogInformation("Order {OrderId} confirmed", order.Id);
    }

    private string? HoldReason(Order order) =>
        settings.HoldTotalAbove is { } limit && order.Total > limit ? "total-above-threshold"
        : settings.HoldReviewCountries.Contains(order.ShippingAddress.CountryCode) ? "country-under-review"
        : null;

    private async Task RejectAsync(Order order, string reason, string detail, CancellationToken cancellationToken)
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
            await modules.SendAsync(new ReleaseReservations(order.Id, reason), cancellationToken);
        }

        db.Publish(new OrderRejected(order.Id, reason, detail, now), order.Id.ToString());
    }
}

internal sealed class OnOrderRouted(OrderPipeline pipeline) : IIntegrationEventHandler<OrderRouted>
{
    public Task HandleAsync(OrderRouted message, MessageContext context, CancellationToken cancellationToken) =>
        pipeline.RoutedAsync(message, cancellationToken);
}

internal sealed class OnOrderRoutingFailed(OrderPipeline pipeline) : IIntegrationEventHandler<OrderRoutingFailed>
{
    public Task HandleAsync(OrderRoutingFailed message, MessageContext context, CancellationToken cancellationToken) =>
        pipeline.RoutingFailedAsync(message, cancellationToken);
}

internal sealed class OnOrderPriced(OrderPipeline pipeline) : IIntegrationEventHandler<OrderPriced>
{
    public Task HandleAsync(OrderPriced message, MessageContext context, CancellationToken cancellationToken) =>
        pipeline.PricedAsync(message, cancellationToken);
}

internal sealed class OnOrderPricingFailed(OrderPipeline pipeline) : IIntegrationEventHandler<OrderPricingFailed>
{
    public Task HandleAsync(OrderPricingFailed message, MessageContext context, CancellationToken cancellationToken) =>
        pipeline.PricingFailedAsync(message, cancellationToken);
}
