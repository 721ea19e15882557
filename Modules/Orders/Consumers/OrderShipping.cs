using Hangfire;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Modules.Orders.Features;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.Jobs;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Orders.Consumers;

/// <summary>
/// The order after confirmation: shipments and deliveries reported by Fulfillment move its lines'
/// quantities and its state, and each shipment commits, with the order, the capture of its share
/// (<see cref="CaptureRequested"/>, carried out by Payments) and the customer-visible
/// <see cref="OrderShipped"/> / <see cref="OrderDelivered"/>. A shipment is recorded once (by its
/// id, on the order itself), so a redelivered event requests no second capture. The order row's
/// version guards against a concurrent change: the batch is then retried on what the order is now.
/// </summary>
internal sealed class OrderShipping(
    OrdersDbContext db,
    TimeProvider clock,
    OrderSettings settings,
    IBackgroundJobClient jobs,
    DueWindows windows,
    ILogger<OrderShipping> logger) :
    IIntegrationEventBatchHandler<ShipmentShipped>,
    IIntegrationEventBatchHandler<ShipmentDelivered>,
    IIntegrationEventBatchHandler<PaymentCaptured>,
    IIntegrationEventBatchHandler<PaymentRefunded>,
    IIntegrationEventBatchHandler<PaymentReauthorized>,
    IIntegrationEventBatchHandler<PaymentReauthorizationFailed>,
    IIntegrationEventBatchHandler<UnitsCancelled>,
    IIntegrationEventBatchHandler<PickupExpired>,
    IIntegrationEventBatchHandler<ShortageResolved>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<ShipmentShipped>> batch, CancellationToken cancellationToken)
    {
        var orders = await db.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var shipped = delivered.Message;
            if (orders.GetValueOrDefault(shipped.OrderId) is not { } order)
            {
                continue;
            }

            using var cause = delivered.Enter();
            var lines = shipped.Lines.Select(l => (l.Sku, l.Quantity)).ToArray();
            if (order.Ship(shipped.ShipmentId, shipped.Node, lines, shipped.Carrier, shipped.TrackingNumber, shipped.TrackingUrl, shipped.ShippedAt, now) is not { } capture)
            {
                continue;
            }

            if (capture.Amount > 0)
            {
                db.Publish(new CaptureRequested(order.Id, shipped.ShipmentId, capture.Amount, order.Currency, capture.Final, now), order.Id.ToString());
            }

            db.Publish(
                new OrderShipped(order.Id, order.Number, shipped.ShipmentId, lines.Select(l => new OrderEventLine(l.Sku, l.Quantity)).ToArray(),
                    shipped.Carrier, shipped.TrackingNumber, shipped.TrackingUrl, order.Status.Kebab(), shipped.ShippedAt),
                order.Id.ToString());
        }
    }

    public async Task HandleAsync(IReadOnlyList<Delivered<ShipmentDelivered>> batch, CancellationToken cancellationToken)
    {
        var orders = await db.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var message = delivered.Message;
            if (orders.GetValueOrDefault(message.OrderId) is not { } order)
            {
                continue;
            }

            using var cause = delivered.Enter();
            if (order.Deliver(message.ShipmentId, message.DeliveredAt, now))
            {
                db.Publish(
                    new OrderDelivered(order.Id, order.Number, message.ShipmentId, message.Lines.Select(l => new OrderEventLine(l.Sku, l.Quantity)).ToArray(), order.Status.Kebab(), message.DeliveredAt),
                    order.Id.ToString());
            }
        }

        ScheduleCompletions(orders.Values);
    }

    /// <summary>Orders that are delivered now get a job when their return window closes (the minutely sweep backs it up).</summary>
    private void ScheduleCompletions(IEnumerable<Order> orders)
    {
        foreach (var order in orders.Where(o => o.Status == OrderStatus.Delivered && o.DeliveredAt is not null))
        {
            try
            {
                OrderCompletionJob.ScheduleFor(jobs, windows, order.DeliveredAt!.Value + settings.ReturnWindow(order.Channel.Kebab()));
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                logger.LogWarning(exception, "The completion of order {OrderId} could not be scheduled; the minutely sweep completes it", order.Id);
            }
        }
    }

    /// <summary>Payments captured a share: recorded on the order's timeline.</summary>
    public async Task HandleAsync(IReadOnlyList<Delivered<PaymentCaptured>> batch, CancellationToken cancellationToken)
    {
        var orders = await db.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var message = delivered.Message;
            orders.GetValueOrDefault(message.OrderId)?.Record(
                "payment captured",
                $"capture {message.CaptureId}: {message.Amount} {message.Currency} (captured {message.CapturedTotal} {message.Currency} in all)",
                now);
        }
    }

    /// <summary>Payments authorised the uncaptured remainder anew before the authorisation lapsed: recorded on the timeline.</summary>
    public async Task HandleAsync(IReadOnlyList<Delivered<PaymentReauthorized>> batch, CancellationToken cancellationToken)
    {
        var orders = await db.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var message in batch.Select(d => d.Message))
        {
            var order = orders.GetValueOrDefault(message.OrderId);
            order?.Record("payment re-authorised", $"{message.Amount} {message.Currency} until {message.ExpiresAt:O}", now);
            order?.ReleasePaymentHold("the remainder was authorised anew", now);
        }
    }

    /// <summary>Re-authorising the remainder was declined: the order is on payment hold until operations act.</summary>
    public async Task HandleAsync(IReadOnlyList<Delivered<PaymentReauthorizationFailed>> batch, CancellationToken cancellationToken)
    {
        var orders = await db.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var message in batch.Select(d => d.Message))
        {
            orders.GetValueOrDefault(message.OrderId)?.HoldPayment(
                "payment-reauthorisation-failed",
                $"{message.Reason}: {message.Amount} {message.Currency} not authorised anew; the authorisation lapses at {message.ExpiresAt:O}",
                now);
        }
    }

    /// <summary>Payments refunded part of the order: recorded on the order's timeline.</summary>
    public async Task HandleAsync(IReadOnlyList<Delivered<PaymentRefunded>> batch, CancellationToken cancellationToken)
    {
        var orders = await db.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var message = delivered.Message;
            orders.GetValueOrDefault(message.OrderId)?.Record(
                "refunded",
                $"refund {message.RefundId} ({message.Reason}): {message.Amount} {message.Currency} (refunded {message.RefundedTotal} {message.Currency} in all)",
                now);
        }
    }

    /// <summary>
    /// The nodes answered a cancellation request: what they took off changes the order (total, lines,
    /// state), and its consequences are committed with it: <see cref="OrderLinesCancelled"/> (Inventory
    /// releases, Payments lowers the authorisation, the customer is told), a last capture when nothing
    /// is left to ship, or <see cref="OrderCancelled"/> when every line is cancelled.
    /// </summary>
    public async Task HandleAsync(IReadOnlyList<Delivered<UnitsCancelled>> batch, CancellationToken cancellationToken)
    {
        var orders = await db.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var message = delivered.Message;
            if (orders.GetValueOrDefault(message.OrderId) is not { } order)
            {
                continue;
            }

            using var cause = delivered.Enter();
            var result = order.ApplyCancellation(
                message.ChangeId,
                message.Cancelled.Select(c => (c.Sku, c.Quantity, c.Node)).ToArray(),
                message.Refused.Select(r => (r.Sku, r.Quantity)).ToArray(),
                now);
            if (result is null)
            {
                continue;
            }

            PublishCancellation(order, message.ChangeId, result, message.Reason, releasedAtNode: false, now);
        }

        ScheduleCompletions(orders.Values);
    }

    /// <summary>
    /// Fulfillment re-sourced units a node gave up: recorded on the order; the units no node has are
    /// cancelled with their consequences (as a customer's cancellation: the authorisation lowered,
    /// the customer told; the node released them already).
    /// </summary>
    public async Task HandleAsync(IReadOnlyList<Delivered<ShortageResolved>> batch, CancellationToken cancellationToken)
    {
        var orders = await db.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var message = delivered.Message;
            if (orders.GetValueOrDefault(message.OrderId) is not { } order)
            {
                continue;
            }

            using var cause = delivered.Enter();
            var result = order.ResolveShortage(
                message.ShortageId,
                message.Node,
                message.Reason,
                message.Resourced.SelectMany(a => a.Lines.Select(l => (a.Node, l.Sku, l.Quantity))).ToArray(),
                message.Unavailable.Select(l => (l.Sku, l.Quantity)).ToArray(),
                now);
            if (result is not null)
            {
                PublishCancellation(order, message.ShortageId, result, "out-of-stock", releasedAtNode: true, now);
            }
        }
    }

    /// <summary>
    /// The consequences of cancelled units, committed with the order: <see cref="OrderLinesCancelled"/>,
    /// and <see cref="OrderCancelled"/> when nothing is left or a last capture when what is left has shipped.
    /// </summary>
    private void PublishCancellation(Order order, Guid changeId, Order.LinesCancelled result, string reason, bool releasedAtNode, DateTimeOffset now)
    {
        var partition = order.Id.ToString();
        db.Publish(
            new OrderLinesCancelled(order.Id, order.Number, changeId, result.Lines.Select(l => new CancelledLine(l.Sku, l.Quantity, l.Node, releasedAtNode)).ToArray(),
                result.Amount, result.NewTotal, order.Currency, reason, order.Status.Kebab(), result.OrderEnded, now),
            partition);
        if (result.OrderEnded)
        {
            db.Publish(new OrderCancelled(order.Id, reason, now), partition);
        }
        else if (result.FinalCapture is > 0m)
        {
            db.Publish(new CaptureRequested(order.Id, changeId, result.FinalCapture.Value, order.Currency, Final: true, now), partition);
        }
    }

    /// <summary>
    /// A pickup order was not picked up in time: Orders asks for its units to be cancelled (named by
    /// the fulfilment order, so a redelivery asks nothing again); the store's answer cancels the lines,
    /// or the order when nothing else is left.
    /// </summary>
    public async Task HandleAsync(IReadOnlyList<Delivered<PickupExpired>> batch, CancellationToken cancellationToken)
    {
        var orders = await db.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var delivered in batch)
        {
            var message = delivered.Message;
            if (orders.GetValueOrDefault(message.OrderId) is not { } order || message.Lines.Count == 0)
            {
                continue;
            }

            var changeId = message.FulfilmentOrderId; // one expiry per fulfilment order
            if (order.CancellationRequests.Any(r => r.ChangeId == changeId))
            {
                continue;
            }

            using var cause = delivered.Enter();
            // What is still open of it (a customer's cancellation may have asked for part meanwhile).
            var lines = message.Lines.Select(l => (l.Sku, Quantity: Math.Min(l.Quantity, order.OpenUnits(l.Sku)))).Where(l => l.Quantity > 0).ToArray();
            if (lines.Length == 0)
            {
                order.Ignore("pickup expired", $"at {message.Node}: nothing left open", now);
                continue;
            }

            try
            {
                order.RequestCancellation(changeId, lines, "pickup-expired", now);
            }
            catch (Exception refused) when (refused is LineChangeException or IllegalTransitionException)
            {
                order.Ignore("pickup expired", $"at {message.Node}: {refused.Message}", now);
                continue;
            }

            db.Publish(new LineCancellationRequested(order.Id, changeId, lines.Select(l => new OrderEventLine(l.Sku, l.Quantity)).ToArray(), "pickup-expired", now), order.Id.ToString());
        }
    }
}
