namespace OmsModular.Shared.Contracts.Pricing;

/// <summary>
/// A priced line to the currency's minor unit: unit price, the discount taken off the line (its own
/// promotions plus its share of order-level ones, in the price list's terms: net or gross), and the
/// net, tax and gross after the discount.
/// </summary>
public sealed record PricedLine(string Sku, int Quantity, decimal UnitPrice, decimal Net, decimal Tax, decimal Gross, string PriceSource, decimal Discount);

/// <summary>A promotion that changed the price: what it took off in total (lines and shipping) and the coupon that brought it.</summary>
public sealed record AppliedPromotion(string Code, string Name, string Kind, decimal Amount, string? CouponCode);

/// <summary>What became of a coupon code the order carried: <c>applied</c> or <c>rejected</c> with a reason.</summary>
public sealed record CouponOutcome(string Code, string Status, string? Reason);

/// <summary>
/// The priced order: lines, shipping, tax and total (total = Σ line gross + shipping gross), the
/// discount taken off, the promotions applied and the outcome of each coupon code.
/// </summary>
[IntegrationEvent("pricing.order-priced", 1)]
public sealed record OrderPriced(
    Guid OrderId,
    string Currency,
    IReadOnlyList<PricedLine> Lines,
    decimal ShippingGross,
    decimal TaxTotal,
    decimal Total,
    string PriceList,
    decimal DiscountTotal,
    IReadOnlyList<AppliedPromotion> Promotions,
    IReadOnlyList<CouponOutcome> Coupons) : IIntegrationEvent;

/// <summary>The order could not be priced (reason <c>no-price</c>, <c>no-price-list</c>).</summary>
[IntegrationEvent("pricing.order-pricing-failed", 1)]
public sealed record OrderPricingFailed(Guid OrderId, string Reason, string Detail) : IIntegrationEvent;

/// <summary>The service levels that have a shipping rate, per currency: an order can be priced only with one of them.</summary>
public sealed record GetServiceLevels : IModuleRequest<ServiceLevels>;

public sealed record ServiceLevels(IReadOnlyList<ServiceLevelRate> Levels);

public sealed record ServiceLevelRate(string ServiceLevel, string Currency);

/// <summary>
/// A line to price again: its quantity and, for units already sold, the unit price agreed then
/// (kept; <paramref name="AgreedIncludesTax"/> says whether it is gross; null: as the SKU's list has it), or the marketplace's price.
/// </summary>
public sealed record RepriceLine(string Sku, int Quantity, decimal? AgreedUnitPrice, bool? AgreedIncludesTax, decimal? MarketplaceUnitPrice);

/// <summary>
/// Prices an order as a change would leave it: each line at its agreed unit price (new lines at
/// today's price lists), the promotions evaluated again on the whole cart as they were on offer at
/// <see cref="PlacedAt"/>, the order's coupons re-checked (a coupon whose use the order holds keeps
/// it; no new use is counted), tax for the destination and shipping for the service level. Has no
/// effect; the same request answers the same.
/// </summary>
public sealed record RepriceOrder(
    Guid OrderId,
    string Channel,
    string Currency,
    IReadOnlyList<RepriceLine> Lines,
    string CountryCode,
    string DeliveryMethod,
    string? ServiceLevel,
    IReadOnlyList<string> CouponCodes,
    string CustomerId,
    DateTimeOffset PlacedAt) : IModuleRequest<OrderRepriced>;

/// <summary>The order as priced by <see cref="RepriceOrder"/>; not <see cref="Priced"/> with a reason (<c>no-price</c>, <c>no-shipping-rate</c>) and a detail.</summary>
public sealed record OrderRepriced(
    Guid OrderId,
    bool Priced,
    string? FailureReason,
    string? Detail,
    string Currency,
    IReadOnlyList<PricedLine> Lines,
    decimal ShippingGross,
    decimal TaxTotal,
    decimal Total,
    decimal DiscountTotal,
    IReadOnlyList<AppliedPromotion> Promotions,
    IReadOnlyList<CouponOutcome> Coupons);
