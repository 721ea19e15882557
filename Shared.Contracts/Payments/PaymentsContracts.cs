namespace OmsModular.Shared.Contracts.Payments;

/// <summary>
/// Authorises an order's total with the payment provider named by the method. Idempotent by the
/// order id (one authorisation per order; the provider is called with the key <c>auth-{orderId}</c>):
/// a repeat answers with the payment's state now and has no second effect. An order whose end
/// Payments has recorded is never authorised: the answer is <c>order-ended</c>.
/// </summary>
/// <remarks><see cref="SealedToken"/> is the provider's token sealed with the key of <see cref="GetPaymentTokenKey"/>: only Payments can open it.</remarks>
public sealed record AuthorizePayment(Guid OrderId, decimal Amount, string Currency, string Method, string SealedToken) : IModuleRequest<PaymentAuthorization>;

/// <summary>The public key payment tokens are sealed with before they leave the module that captured them.</summary>
public sealed record GetPaymentTokenKey : IModuleRequest<PaymentTokenKey>;

/// <summary>A public key (P-256, SubjectPublicKeyInfo) and its id.</summary>
public sealed record PaymentTokenKey(string KeyId, byte[] PublicKey);

/// <summary>
/// The state of the order's payment after the request: <c>authorized</c> (<see cref="Amount"/>
/// <see cref="Currency"/> as payment <see cref="PaymentId"/>), <c>declined</c> (with the reason),
/// <c>voided</c>, <c>order-ended</c> (no payment) or <c>unavailable</c> (the provider did not answer; ask again).
/// </summary>
public sealed record PaymentAuthorization(Guid OrderId, PaymentState State, Guid? PaymentId, decimal Amount, string Currency, string? DeclineReason);

/// <summary>The states of an order's payment as answered by Payments.</summary>
public enum PaymentState
{
    Authorized,
    Declined,
    Voided,

    /// <summary>Payments has recorded the order's end: no payment is held and none will be made.</summary>
    OrderEnded,

    /// <summary>The provider did not answer: the outcome is not known yet; asking again (same order) is safe.</summary>
    Unavailable,
}

/// <summary>
/// Many <see cref="AuthorizePayment"/> requests in one call and one transaction; one answer per
/// order, keyed by its id, each still at most one authorisation per order.
/// </summary>
public sealed record AuthorizePaymentBatch(IReadOnlyList<AuthorizePayment> Requests) : IModuleRequest<IReadOnlyList<PaymentAuthorization>>;

[IntegrationEvent("payments.payment-authorized", 1)]
public sealed record PaymentAuthorized(Guid PaymentId, Guid OrderId, decimal Amount, string Currency, string ProviderReference) : IIntegrationEvent;

[IntegrationEvent("payments.payment-declined", 1)]
public sealed record PaymentDeclined(Guid PaymentId, Guid OrderId, decimal Amount, string Currency, string Reason) : IIntegrationEvent;

[IntegrationEvent("payments.payment-voided", 1)]
public sealed record PaymentVoided(Guid PaymentId, Guid OrderId, string Reason) : IIntegrationEvent;

/// <summary>The payment methods the configured provider supports.</summary>
public sealed record GetPaymentMethods : IModuleRequest<PaymentMethods>;

public sealed record PaymentMethods(IReadOnlyList<string> Methods);

/// <summary>A share of the order's total was captured under its authorisation (once per capture id); the order's captured total after it.</summary>
[IntegrationEvent("payments.payment-captured", 1)]
public sealed record PaymentCaptured(Guid PaymentId, Guid OrderId, Guid CaptureId, decimal Amount, decimal CapturedTotal, string Currency, string ProviderReference) : IIntegrationEvent;

/// <summary>Money was given back to the customer (once per refund id): the amount, the order's refunded total after it, and the reason code.</summary>
[IntegrationEvent("payments.payment-refunded", 1)]
public sealed record PaymentRefunded(Guid RefundId, Guid PaymentId, Guid OrderId, decimal Amount, decimal RefundedTotal, string Currency, string Reason, DateTimeOffset RefundedAt) : IIntegrationEvent;

/// <summary>The uncaptured remainder of an order's payment was authorised anew before the authorisation lapsed (it replaces the old one).</summary>
[IntegrationEvent("payments.payment-reauthorized", 1)]
public sealed record PaymentReauthorized(Guid PaymentId, Guid OrderId, decimal Amount, string Currency, string ProviderReference, DateTimeOffset ExpiresAt) : IIntegrationEvent;

/// <summary>
/// The provider declined to authorise the uncaptured remainder anew before the authorisation lapses:
/// the payment is on hold (<c>payment-reauthorisation-failed</c>) and operations must act.
/// </summary>
[IntegrationEvent("payments.payment-reauthorization-failed", 1)]
public sealed record PaymentReauthorizationFailed(Guid PaymentId, Guid OrderId, decimal Amount, string Currency, string Reason, DateTimeOffset ExpiresAt) : IIntegrationEvent;

/// <summary>Whether the order's payment is on hold now (<c>payment-reauthorisation-failed</c>), and why; null when it is not (or there is none).</summary>
public sealed record GetPaymentHold(Guid OrderId) : IModuleRequest<PaymentHoldState>;

public sealed record PaymentHoldState(Guid OrderId, string? Hold);

/// <summary>
/// Raises the order's authorisation by <see cref="Amount"/> for a change that makes its total
/// <see cref="NewTotal"/> (an incremental authorisation where the method has one, else a new
/// authorisation of what is left to capture that replaces the old). Raised by the difference, so it
/// adds up with reductions of earlier changes that Payments has not carried out yet. Once per
/// <see cref="ChangeId"/> (provider key <c>increase-{changeId}</c>): a repeat answers the first
/// outcome. States: <c>Authorized</c>, <c>Declined</c> (the change must be refused),
/// <c>OrderEnded</c>, <c>Unavailable</c> (ask again).
/// </summary>
public sealed record IncreaseAuthorization(Guid OrderId, Guid ChangeId, decimal Amount, decimal NewTotal, string Currency) : IModuleRequest<PaymentAuthorization>;
