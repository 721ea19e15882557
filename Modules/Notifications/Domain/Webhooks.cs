namespace OmsModular.Modules.Notifications.Domain;

internal enum EndpointStatus
{
    Enabled,

    /// <summary>Disabled by the receiver (410 Gone), by an operator, or after failing for days.</summary>
    Disabled,
}

/// <summary>A webhook subscription: an endpoint URL, the event types it wants, and its signing secret(s).</summary>
internal sealed class WebhookEndpoint
{
    public Guid Id { get; init; }

    public required string Url { get; set; }

    public string? Description { get; set; }

    public List<string> EventTypes { get; set; } = [];

    /// <summary>The current secret, <c>whsec_</c> + base64 of 32 random bytes.</summary>
    public required string Secret { get; set; }

    /// <summary>The secret before the last rotation, still signed with until <see cref="PreviousSecretExpiresAt"/>.</summary>
    public string? PreviousSecret { get; set; }

    public DateTimeOffset? PreviousSecretExpiresAt { get; set; }

    public EndpointStatus Status { get; set; }

    public string? DisabledReason { get; set; }

    /// <summary>Since when every delivery failed (null while the last one succeeded).</summary>
    public DateTimeOffset? FailingSince { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public uint Version { get; private set; }

    public bool Wants(string eventType) => EventTypes.Count == 0 || EventTypes.Contains(eventType);

    /// <summary>The secrets to sign with now: the current one, and the previous one during its overlap.</summary>
    public IEnumerable<string> SigningSecrets(DateTimeOffset now)
    {
        yield return Secret;
        if (PreviousSecret is not null && PreviousSecretExpiresAt > now)
        {
            yield return PreviousSecret;
        }
    }
}

/// <summary>
/// One event as integrations see it (webhook body and pull feed): <c>msg_…</c> id, type, the JSON
/// payload, and its position in the feed.
/// </summary>
internal sealed class WebhookMessage
{
    public required string Id { get; init; }

    /// <summary>The feed position (ascending in commit order within an order; the cursor of <c>GET /events</c>).</summary>
    public long Sequence { get; init; }

    public required string EventType { get; init; }

    public Guid OrderId { get; init; }

    /// <summary>The body sent: <c>{"type", "timestamp", "data"}</c>.</summary>
    public required string Payload { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}

internal enum DeliveryStatus
{
    Pending,
    Succeeded,
    Failed,
}

/// <summary>A message owed to one endpoint: at least once, retried on a schedule until it succeeds or is given up.</summary>
internal sealed class WebhookDelivery
{
    public Guid Id { get; init; }

    public Guid EndpointId { get; init; }

    public required string MessageId { get; init; }

    public DeliveryStatus Status { get; set; }

    public int Attempts { get; set; }

    public DateTimeOffset NextAttemptAt { get; set; }

    public int? LastStatusCode { get; set; }

    public string? LastError { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset? SucceededAt { get; set; }
}

/// <summary>One HTTP attempt of a delivery: status code or error, duration.</summary>
internal sealed class WebhookAttempt
{
    public long Id { get; init; }

    public Guid DeliveryId { get; init; }

    public Guid EndpointId { get; init; }

    public required string MessageId { get; init; }

    public DateTimeOffset At { get; init; }

    public int? StatusCode { get; init; }

    public string? Error { get; init; }

    public int DurationMs { get; init; }
}
