namespace OmsModular.Modules.Notifications.Domain;

/// <summary>
/// The customer-visible event types Notifications tells about (templates and webhook subscriptions
/// name them): <c>order.confirmed</c>, <c>order.shipped</c>, <c>order.delivered</c>,
/// <c>order.cancelled</c>, <c>order.rejected</c>, <c>order.refunded</c>, <c>order.lines-cancelled</c>,
/// <c>order.changed</c>, <c>order.change-refused</c>.
/// </summary>
internal static class EventTypes
{
    public const string Confirmed = "order.confirmed";
    public const string Shipped = "order.shipped";
    public const string Delivered = "order.delivered";
    public const string Cancelled = "order.cancelled";
    public const string Rejected = "order.rejected";
    public const string Refunded = "order.refunded";
    public const string LinesCancelled = "order.lines-cancelled";
    public const string Changed = "order.changed";
    public const string ChangeRefused = "order.change-refused";

    /// <summary>For operations, not the customer (no e-mail): re-authorising an order's payment was declined.</summary>
    public const string PaymentOnHold = "order.payment-on-hold";

    /// <summary>The customer's events: each has e-mail templates.</summary>
    public static IReadOnlyList<string> All { get; } = [Confirmed, Shipped, Delivered, Cancelled, Rejected, Refunded, LinesCancelled, Changed, ChangeRefused];

    /// <summary>What a webhook endpoint can subscribe to: the customer's events and those for operations.</summary>
    public static IReadOnlyList<string> Webhooks { get; } = [.. All, PaymentOnHold];

    /// <summary>The e-mails a later event makes wrong while they wait: an order that ended is no longer "confirmed".</summary>
    public static IReadOnlyList<string> SupersededBy(string eventType) => eventType is Cancelled or Rejected ? [Confirmed] : [];
}

/// <summary>Who to tell about an order, kept from its capture (<c>orders.order-placed</c>): the only order data Notifications holds.</summary>
internal sealed class OrderContact
{
    public Guid OrderId { get; init; }

    public required string OrderNumber { get; init; }

    public required string CustomerName { get; init; }

    public required string Email { get; init; }

    public required string Locale { get; init; }

    public required string Channel { get; init; }

    public required string Currency { get; init; }

    public DateTimeOffset PlacedAt { get; init; }
}

/// <summary>A template of one event type, channel and locale, in Liquid: subject, HTML and plain-text parts.</summary>
internal sealed class Template
{
    public Guid Id { get; init; }

    public required string EventType { get; init; }

    public required string Channel { get; init; }

    public required string Locale { get; init; }

    public required string Subject { get; set; }

    public required string Html { get; set; }

    public required string Text { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

internal enum NotificationStatus
{
    /// <summary>Stored, waiting to be sent (first time or again after a transient failure).</summary>
    Pending,
    Sent,

    /// <summary>Given up: a permanent refusal (an SMTP 5xx), the last attempt failed, or there was nothing to send (no template).</summary>
    Failed,

    /// <summary>A later event made it wrong before it went out (a "confirmed" for an order cancelled meanwhile): never sent.</summary>
    Superseded,
}

/// <summary>An e-mail to one recipient about one event, rendered and stored before it is sent.</summary>
internal sealed class EmailNotification
{
    public Guid Id { get; init; }

    /// <summary>The event's message id, its type and the recipient: a redelivered event finds the same key and sends nothing twice.</summary>
    public required string IdempotencyKey { get; init; }

    public Guid OrderId { get; init; }

    public required string EventType { get; init; }

    public required string Recipient { get; init; }

    public required string Locale { get; init; }

    public required string Subject { get; init; }

    public required string Html { get; init; }

    public required string Text { get; init; }

    public NotificationStatus Status { get; set; }

    public int Attempts { get; set; }

    public DateTimeOffset NextAttemptAt { get; set; }

    public string? LastError { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? SentAt { get; set; }
}

/// <summary>One attempt to hand an e-mail to the SMTP server: when, what the server answered, the error.</summary>
internal sealed class EmailAttempt
{
    public long Id { get; init; }

    public Guid NotificationId { get; init; }

    public DateTimeOffset At { get; init; }

    /// <summary><c>sent</c>, <c>transient-failure</c> or <c>permanent-failure</c>.</summary>
    public required string Outcome { get; init; }

    public string? Response { get; init; }

    public string? Error { get; init; }
}
