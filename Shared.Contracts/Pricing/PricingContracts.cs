namespace OmsModular.Shared.Contracts.Pricing;

/// <summary>A priced line: unit price, net, tax and gross to the currency's minor unit.</summary>
public sealed record PricedLine(string Sku, int Quantity, decimal UnitPrice, decimal Net, decimal Tax, decimal Gross, string PriceSource);

/// <summary>The priced order: lines, shipping, tax and total (total = Σ line gross + shipping gross).</summary>
[IntegrationEvent("pricing.order-priced", 1)]
public sealed record OrderPriced(
    Guid OrderId,
    string Currency,
    IReadOnlyList<PricedLine> Lines,
    decimal ShippingGross,
    decimal TaxTotal,
    decimal Total,
    string PriceList) : IIntegrationEvent;

/// <summary>The order could not be priced (reason <c>no-price</c>, <c>no-price-list</c>).</summary>
[IntegrationEvent("pricing.order-pricing-failed", 1)]
public sealed record OrderPricingFailed(Guid OrderId, string Reason, string Detail) : IIntegrationEvent;
