namespace OmsModular.Shared.Contracts.Payments;

/// <summary>Authorises an order's total with the payment provider named by the method; at most once per order.</summary>
public sealed record AuthorizePayment(Guid OrderId, decimal Amount, string Currency, string Method, string Token) : IModuleRequest<PaymentAuthorization>;

public sealed record PaymentAuthorization(bool Authorized, Guid PaymentId, string? DeclineReason);

/// <summary>
/// Many <see cref="AuthorizePayment"/> requests in one call and one transaction; each is answered in
/// the same position and is still at most once per order.
/// </summary>
public sealed record AuthorizePaymentBatch(IReadOnlyList<AuthorizePayment> Requests) : IModuleRequest<IReadOnlyList<PaymentAuthorization>>;

/// <summary>Voids the order's authorisation (a compensation); no effect when there is none.</summary>
public sealed record VoidPayment(Guid OrderId, string Reason) : IModuleRequest<bool>;

[IntegrationEvent("payments.payment-authorized", 1)]
public sealed record PaymentAuthorized(Guid PaymentId, Guid OrderId, decimal Amount, string Currency, string ProviderReference) : IIntegrationEvent;

[IntegrationEvent("payments.payment-declined", 1)]
public sealed record PaymentDeclined(Guid PaymentId, Guid OrderId, decimal Amount, string Currency, string Reason) : IIntegrationEvent;

[IntegrationEvent("payments.payment-voided", 1)]
public sealed record PaymentVoided(Guid PaymentId, Guid OrderId, string Reason) : IIntegrationEvent;
