using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using OmsModular.Modules.Notifications.Domain;
using OmsModular.Modules.Notifications.Features;
using OmsModular.Modules.Notifications.Features.Templates;
using OmsModular.Modules.Notifications.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Notifications.Consumers;

/// <summary>
/// The customer-visible order events. <c>orders.order-placed</c> keeps who to tell (name, e-mail,
/// locale); every later event becomes, in the same commit as its inbox row, a webhook message (with
/// a delivery owed to each enabled endpoint that wants its type; also the pull feed) and a rendered
/// e-mail stored before it is sent, keyed by the event's message id, its type and the recipient. A
/// cancellation or rejection supersedes the order's "confirmed" e-mail that has not gone out yet.
/// Nothing here calls out: the senders deliver what is stored, so a slow SMTP server or receiver
/// never holds back a consumer, and this module holds back no other.
/// </summary>
internal sealed class CustomerEvents(
    NotificationsDbContext db,
    TemplateRenderer renderer,
    NotificationSettings settings,
    NotificationSignals signals,
    TimeProvider clock,
    ILogger<CustomerEvents> logger) :
    IIntegrationEventBatchHandler<OrderPlaced>,
    IIntegrationEventBatchHandler<OrderConfirmed>,
    IIntegrationEventBatchHandler<OrderShipped>,
    IIntegrationEventBatchHandler<OrderDelivered>,
    IIntegrationEventBatchHandler<OrderCancelled>,
    IIntegrationEventBatchHandler<OrderRejected>,
    IIntegrationEventBatchHandler<PaymentRefunded>,
    IIntegrationEventBatchHandler<OrderLinesCancelled>,
    IIntegrationEventBatchHandler<OrderChanged>,
    IIntegrationEventBatchHandler<OrderChangeRefused>,
    IIntegrationEventBatchHandler<PaymentReauthorizationFailed>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderPlaced>> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.Message.OrderId).Distinct().ToArray();
        var known = (await db.Contacts.AsNoTracking().Where(c => ids.Contains(c.OrderId)).Select(c => c.OrderId).ToListAsync(cancellationToken)).ToHashSet();
        foreach (var placed in batch.Select(d => d.Message).Where(m => known.Add(m.OrderId)))
        {
            db.Contacts.Add(new OrderContact
            {
                OrderId = placed.OrderId,
                OrderNumber = placed.OrderNumber,
                CustomerName = placed.Customer.Name,
                Email = placed.Customer.Email,
                Locale = settings.LocaleOf(placed.ShippingAddress.CountryCode),
                Channel = placed.Channel,
                Currency = placed.Currency,
                PlacedAt = placed.PlacedAt,
            });
        }
    }

    public Task HandleAsync(IReadOnlyList<Delivered<OrderConfirmed>> batch, CancellationToken cancellationToken) =>
        TellAsync(batch, EventTypes.Confirmed, m => m.OrderId, m => new { orderId = m.OrderId, orderNumber = m.OrderNumber, total = m.Total, currency = m.Currency, confirmedAt = m.ConfirmedAt }, cancellationToken);

    /// <summary>A parcel left (a pickup at a store sends no "on its way" e-mail: its "delivered" one follows at once; the webhook goes either way).</summary>
    public Task HandleAsync(IReadOnlyList<Delivered<OrderShipped>> batch, CancellationToken cancellationToken) =>
        TellAsync(batch, EventTypes.Shipped, m => m.OrderId, m => new
        {
            orderId = m.OrderId, orderNumber = m.OrderNumber, shipmentId = m.ShipmentId, lines = m.Lines, carrier = m.Carrier,
            trackingNumber = m.TrackingNumber, trackingUrl = m.TrackingUrl, orderStatus = m.OrderStatus, shippedAt = m.ShippedAt,
        }, cancellationToken, email: m => m.Carrier != "pickup");

    public Task HandleAsync(IReadOnlyList<Delivered<OrderDelivered>> batch, CancellationToken cancellationToken) =>
        TellAsync(batch, EventTypes.Delivered, m => m.OrderId, m => new
        {
            orderId = m.OrderId, orderNumber = m.OrderNumber, shipmentId = m.ShipmentId, lines = m.Lines, orderStatus = m.OrderStatus, deliveredAt = m.DeliveredAt,
        }, cancellationToken);

    public Task HandleAsync(IReadOnlyList<Delivered<OrderCancelled>> batch, CancellationToken cancellationToken) =>
        TellAsync(batch, EventTypes.Cancelled, m => m.OrderId, m => new { orderId = m.OrderId, reason = m.Reason, cancelledAt = m.CancelledAt }, cancellationToken);

    public Task HandleAsync(IReadOnlyList<Delivered<OrderRejected>> batch, CancellationToken cancellationToken) =>
        TellAsync(batch, EventTypes.Rejected, m => m.OrderId, m => new { orderId = m.OrderId, reason = m.Reason, detail = m.Detail, rejectedAt = m.RejectedAt }, cancellationToken);

    public Task HandleAsync(IReadOnlyList<Delivered<PaymentRefunded>> batch, CancellationToken cancellationToken) =>
        TellAsync(batch, EventTypes.Refunded, m => m.OrderId, m => new
        {
            orderId = m.OrderId, refundId = m.RefundId, amount = m.Amount, refundedTotal = m.RefundedTotal, currency = m.Currency, reason = m.Reason, refundedAt = m.RefundedAt,
        }, cancellationToken);

    public Task HandleAsync(IReadOnlyList<Delivered<OrderLinesCancelled>> batch, CancellationToken cancellationToken) =>
        TellAsync(batch.Where(d => !d.Message.OrderEnded).ToArray(), EventTypes.LinesCancelled, m => m.OrderId, m => new
        {
            orderId = m.OrderId, orderNumber = m.OrderNumber, changeId = m.ChangeId, lines = m.Lines.Select(l => new { sku = l.Sku, quantity = l.Quantity }),
            amount = m.Amount, total = m.NewTotal, currency = m.Currency, reason = m.Reason, orderStatus = m.OrderStatus, cancelledAt = m.CancelledAt,
        }, cancellationToken);

    /// <summary>The order was changed as asked: the lines with more units (units now, units added), the delivery when it changed, and the totals.</summary>
    public Task HandleAsync(IReadOnlyList<Delivered<OrderChanged>> batch, CancellationToken cancellationToken) =>
        TellAsync(batch, EventTypes.Changed, m => m.OrderId, m => new
        {
            orderId = m.OrderId, orderNumber = m.OrderNumber, changeId = m.ChangeId,
            lines = m.Lines.Select(l => new { sku = l.Sku, quantity = l.Quantity, added = l.Quantity - l.QuantityBefore }),
            delivery = m.DeliveryChanged
                ? new { name = m.ShippingAddress.Name, lines = m.ShippingAddress.Lines, city = m.ShippingAddress.City, postalCode = m.ShippingAddress.PostalCode, countryCode = m.ShippingAddress.CountryCode, method = m.Delivery.Method, serviceLevel = m.Delivery.ServiceLevel }
                : null,
            previousTotal = m.PreviousTotal, total = m.NewTotal, currency = m.Currency, reason = m.Reason, orderStatus = m.OrderStatus, changedAt = m.ChangedAt,
        }, cancellationToken);

    /// <summary>A change the customer asked for could not be made: the order stays as it was.</summary>
    public Task HandleAsync(IReadOnlyList<Delivered<OrderChangeRefused>> batch, CancellationToken cancellationToken) =>
        TellAsync(batch, EventTypes.ChangeRefused, m => m.OrderId, m => new
        {
            orderId = m.OrderId, orderNumber = m.OrderNumber, changeId = m.ChangeId, reason = m.Reason, detail = m.Detail, total = m.Total, currency = m.Currency, refusedAt = m.RefusedAt,
        }, cancellationToken);

    /// <summary>Operations are told (a webhook, no e-mail to the customer) that an order's payment is on hold.</summary>
    public Task HandleAsync(IReadOnlyList<Delivered<PaymentReauthorizationFailed>> batch, CancellationToken cancellationToken) =>
        TellAsync(batch, EventTypes.PaymentOnHold, m => m.OrderId, m => new
        {
            orderId = m.OrderId, paymentId = m.PaymentId, hold = "payment-reauthorisation-failed", reason = m.Reason, amount = m.Amount, currency = m.Currency, expiresAt = m.ExpiresAt,
        }, cancellationToken, email: _ => false);

    private async Task TellAsync<TEvent>(IReadOnlyList<Delivered<TEvent>> batch, string eventType, Func<TEvent, Guid> orderOf, Func<TEvent, object> dataOf, CancellationToken cancellationToken, Func<TEvent, bool>? email = null)
    {
        var orderIds = batch.Select(d => orderOf(d.Message)).Distinct().ToArray();
        var contacts = await db.Contacts.AsNoTracking().Where(c => orderIds.Contains(c.OrderId)).ToDictionaryAsync(c => c.OrderId, cancellationToken);
        var endpoints = await db.Endpoints.AsNoTracking().Where(e => e.Status == EndpointStatus.Enabled).ToListAsync(cancellationToken);
        var now = clock.GetUtcNow();
        var data = batch.Select(d => JsonSerializer.SerializeToElement(dataOf(d.Message), MessageSerialization.Options)).ToArray();

        // The e-mails first: rendering is done before the feed's lock is taken.
        for (var i = 0; i < batch.Count; i++)
        {
            var orderId = orderOf(batch[i].Message);
            if (email is not null && !email(batch[i].Message))
            {
                continue;
            }

            if (contacts.TryGetValue(orderId, out var contact))
            {
                await StoreEmailAsync(contact, eventType, batch[i].Context.MessageId, data[i], now, cancellationToken);
            }
            else
            {
                logger.LogWarning("No contact is known for order {OrderId}: the {EventType} e-mail is not sent (the webhook is)", orderId, eventType);
            }
        }

        // The feed's cursor is the messages' sequence: one writer at a time, so they commit in sequence
        // order and a reader past a cursor never misses a message committed later below it.
        await db.LockAsync("event-feed", cancellationToken);
        var superseded = EventTypes.SupersededBy(eventType);
        for (var i = 0; i < batch.Count; i++)
        {
            var orderId = orderOf(batch[i].Message);
            var messageId = $"msg_{batch[i].Context.MessageId:N}";
            db.Messages.Add(new WebhookMessage
            {
                Id = messageId,
                EventType = eventType,
                OrderId = orderId,
                Payload = JsonSerializer.Serialize(new { type = eventType, timestamp = now, data = data[i] }, MessageSerialization.Options),
                CreatedAt = now,
            });
            foreach (var endpoint in endpoints.Where(e => e.Wants(eventType)))
            {
                db.Deliveries.Add(new WebhookDelivery { Id = Guid.CreateVersion7(), EndpointId = endpoint.Id, MessageId = messageId, Status = DeliveryStatus.Pending, NextAttemptAt = now, CreatedAt = now });
            }

            if (superseded.Count > 0)
            {
                await db.Emails.Where(e => e.OrderId == orderId && e.Status == NotificationStatus.Pending && superseded.Contains(e.EventType))
                    .ExecuteUpdateAsync(u => u.SetProperty(e => e.Status, NotificationStatus.Superseded).SetProperty(e => e.LastError, $"superseded by {eventType}"), cancellationToken);
            }
        }

        signals.WebhookStored();
        signals.EmailStored();
    }

    private async Task StoreEmailAsync(OrderContact contact, string eventType, Guid messageId, JsonElement data, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var email = new EmailNotification
        {
            Id = Guid.CreateVersion7(),
            IdempotencyKey = $"{messageId:N}:{eventType}:{contact.Email.ToLowerInvariant()}",
            OrderId = contact.OrderId,
            EventType = eventType,
            Recipient = contact.Email,
            Locale = contact.Locale,
            Subject = string.Empty,
            Html = string.Empty,
            Text = string.Empty,
            Status = NotificationStatus.Pending,
            NextAttemptAt = now,
            CreatedAt = now,
        };
        if (await db.Emails.AsNoTracking().AnyAsync(e => e.IdempotencyKey == email.IdempotencyKey, cancellationToken))
        {
            return; // stored before: never twice
        }

        if (!MimeKit.MailboxAddress.TryParse(contact.Email, out _))
        {
            db.Emails.Add(Failed(email, $"'{contact.Email}' is not an address an e-mail can be sent to"));
            return;
        }

        var source = await TemplateBook.FindAsync(db, eventType, "email", contact.Locale, settings.DefaultLocale, cancellationToken);
        if (source is null)
        {
            db.Emails.Add(Failed(email, $"no email template for {eventType} in {contact.Locale} or a fallback"));
            return;
        }

        try
        {
            var rendered = await renderer.RenderAsync(source.Subject, source.Html, source.Text, NotificationModel.Build(contact, eventType, data));
            db.Emails.Add(new EmailNotification
            {
                Id = email.Id,
                IdempotencyKey = email.IdempotencyKey,
                OrderId = email.OrderId,
                EventType = eventType,
                Recipient = email.Recipient,
                Locale = source.Locale,
                Subject = rendered.Subject.Length > 1000 ? rendered.Subject[..1000] : rendered.Subject,
                Html = rendered.Html,
                Text = rendered.Text,
                Status = NotificationStatus.Pending,
                NextAttemptAt = now,
                CreatedAt = now,
            });
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            db.Emails.Add(Failed(email, $"the {source.Locale} template for {eventType} does not render: {exception.Message}"));
        }
    }

    private static EmailNotification Failed(EmailNotification email, string reason)
    {
        email.Status = NotificationStatus.Failed;
        email.LastError = reason.Length > 1000 ? reason[..1000] : reason;
        return email;
    }
}
