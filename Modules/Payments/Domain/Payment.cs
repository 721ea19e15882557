namespace OmsModular.Modules.Payments.Domain;

internal enum PaymentStatus
{
    Authorized,
    Declined,
    Voided,

    /// <summary>The provider was asked and did not answer: whether it authorised is not known yet (asked again with the same key).</summary>
    Unknown,

    /// <summary>Part of the authorisation is captured (shipments so far); the rest is still held.</summary>
    PartiallyCaptured,

    /// <summary>The whole order total is captured.</summary>
    Captured,
}

/// <summary>The payment of one order (one authorisation per order).</summary>
internal sealed class Payment
{
    public Guid Id { get; init; }

    public Guid OrderId { get; init; }

    /// <summary>What the authorisation holds now (the order's total; less after units were cancelled).</summary>
    public decimal Amount { get; set; }

    public required string Currency { get; init; }

    public required string Method { get; init; }

    public required string Provider { get; init; }

    public PaymentStatus Status { get; set; }

    public string? ProviderReference { get; set; }

    public string? DeclineReason { get; set; }

    /// <summary>What has been captured so far (the sum of the captures).</summary>
    public decimal CapturedAmount { get; set; }

    /// <summary>What has been refunded so far (the sum of the refunds); never more than <see cref="CapturedAmount"/>.</summary>
    public decimal RefundedAmount { get; set; }

    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>When the live authorisation lapses (the provider's answer); the uncaptured remainder is re-authorised before.</summary>
    public DateTimeOffset? AuthorizationExpiresAt { get; set; }

    /// <summary>How many times the remainder was re-authorised.</summary>
    public int Reauthorizations { get; set; }

    /// <summary>How many re-authorisations the provider answered, approved or declined (names the next one's provider key).</summary>
    public int ReauthorizationAttempts { get; set; }

    /// <summary>What was captured under the authorisations the live one replaced (a reduction of the live one leaves it out).</summary>
    public decimal CapturedBeforeReauthorization { get; set; }

    /// <summary>Set when a re-authorisation was declined (<c>payment-reauthorisation-failed</c>): operations must act; nothing is re-authorised again.</summary>
    public string? HoldReason { get; set; }

    /// <summary>Authorised, and part or none of it captured: captures can still be made.</summary>
    public bool CanCapture => Status is PaymentStatus.Authorized or PaymentStatus.PartiallyCaptured;
}

/// <summary>One capture of a share of the order's total, named by the id Orders gave it (a shipment's id).</summary>
internal sealed class Capture
{
    public Guid Id { get; init; }

    public Guid PaymentId { get; init; }

    public Guid OrderId { get; init; }

    public decimal Amount { get; init; }

    public required string Currency { get; init; }

    public bool Final { get; init; }

    public required string ProviderReference { get; init; }

    public DateTimeOffset CapturedAt { get; init; }
}

/// <summary>The payment ledger: every money movement or attempt, in order.</summary>
internal sealed class LedgerEntry
{
    public long Id { get; init; }

    public Guid OrderId { get; init; }

    public Guid PaymentId { get; init; }

    public required string Kind { get; init; }

    public decimal Amount { get; init; }

    public required string Currency { get; init; }

    public string? ProviderReference { get; init; }

    public string? Note { get; init; }

    public DateTimeOffset At { get; init; }
}

/// <summary>
/// An order Payments knows has ended (cancelled or rejected): its authorisation was voided and it
/// is never authorised again, so a late or repeated request cannot hold money for it.
/// </summary>
internal sealed class EndedOrder
{
    public Guid OrderId { get; init; }

    public required string Reason { get; init; }

    public DateTimeOffset EndedAt { get; init; }
}

/// <summary>Money given back for an order: an amount, or lines and quantities, with a reason code; once per idempotency key.</summary>
internal sealed class Refund
{
    public Guid Id { get; init; }

    public Guid OrderId { get; init; }

    public Guid PaymentId { get; init; }

    public decimal Amount { get; init; }

    public required string Currency { get; init; }

    public required string Reason { get; init; }

    public string? Note { get; init; }

    /// <summary>JSON: the lines refunded (SKU, quantity), empty for an amount.</summary>
    public required string Lines { get; init; }

    public required string ProviderReference { get; set; }

    /// <summary>The client's Idempotency-Key (scoped to the client).</summary>
    public required string IdempotencyKey { get; init; }

    public required string RequestHash { get; init; }

    public string? Actor { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset RefundedAt { get; set; }
}

/// <summary>The outcome of raising an order's authorisation for one change (kept so a repeat answers it, and a refused change can be reverted).</summary>
internal sealed class AuthorizationIncrease
{
    public Guid ChangeId { get; init; }

    public Guid OrderId { get; init; }

    public Guid PaymentId { get; init; }

    public bool Approved { get; init; }

    public decimal AmountBefore { get; init; }

    public decimal AmountAfter { get; init; }

    public string? DeclineReason { get; init; }

    public DateTimeOffset At { get; init; }

    /// <summary>When a refused change's raise was given back.</summary>
    public DateTimeOffset? RevertedAt { get; set; }
}
