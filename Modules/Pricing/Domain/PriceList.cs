namespace OmsModular.Modules.Pricing.Domain;

/// <summary>A price list for one currency: the default list (no channel) or a channel's override.</summary>
internal sealed class PriceList
{
    public required string Code { get; init; }

    public string? Channel { get; set; }

    public required string Currency { get; set; }

    public bool PricesIncludeTax { get; set; }

    public DateTimeOffset? ValidFrom { get; set; }

    public DateTimeOffset? ValidTo { get; set; }

    public List<Price> Prices { get; init; } = [];
}

/// <summary>A unit price of a SKU from a minimum quantity on (quantity tiers).</summary>
internal sealed class Price
{
    public required string Sku { get; init; }

    public int MinQuantity { get; init; }

    public decimal UnitPrice { get; init; }
}

internal sealed class TaxRate
{
    public required string CountryCode { get; init; }

    public decimal Rate { get; set; }
}

internal sealed class ShippingRate
{
    public required string ServiceLevel { get; init; }

    public required string Currency { get; init; }

    public decimal Amount { get; set; }
}

/// <summary>The priced order as Pricing stored it (the source of the priced-order event).</summary>
internal sealed class PricedOrderRecord
{
    public Guid OrderId { get; init; }

    public required string Currency { get; init; }

    public decimal Total { get; init; }

    public required string Detail { get; init; }

    public DateTimeOffset PricedAt { get; init; }

    /// <summary>When the order was cancelled or rejected (its coupon uses given back).</summary>
    public DateTimeOffset? EndedAt { get; set; }
}

/// <summary>The catalogue's change log: who changed which price list, rate, promotion or coupon, when, and to what.</summary>
internal sealed class CatalogChange
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    public DateTimeOffset At { get; init; }

    /// <summary>The API key or token subject whose request made the change.</summary>
    public required string Actor { get; init; }

    /// <summary><c>price-list</c>, <c>tax-rate</c>, <c>shipping-rate</c>, <c>promotion</c> or <c>coupon</c>.</summary>
    public required string Kind { get; init; }

    public required string Key { get; init; }

    /// <summary>The request as it was accepted (JSON).</summary>
    public required string Body { get; init; }
}
