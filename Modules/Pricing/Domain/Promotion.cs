namespace OmsModular.Modules.Pricing.Domain;

/// <summary>What a promotion takes off.</summary>
internal enum PromotionKind
{
    /// <summary>A percentage off the order's merchandise.</summary>
    OrderPercentage,

    /// <summary>A fixed amount off the order's merchandise (at most the merchandise).</summary>
    OrderFixed,

    /// <summary>A percentage off the given SKUs.</summary>
    SkuPercentage,

    /// <summary>A fixed amount off each unit of the given SKUs (at most the unit price).</summary>
    SkuFixed,

    /// <summary>For every <c>BuyQuantity</c> units of a given SKU, <c>GetQuantity</c> more at <c>Value</c> % off (100 = free).</summary>
    BuyXGetY,

    /// <summary>No shipping charge (with <c>MinOrderValue</c> as the threshold).</summary>
    FreeShipping,
}

/// <summary>A promotion: applies by itself (automatic) or only through one of its coupons.</summary>
internal sealed class Promotion
{
    public required string Code { get; init; }

    public required string Name { get; set; }

    public PromotionKind Kind { get; set; }

    /// <summary>Percentage (0–100) or amount in <see cref="Currency"/>, by kind.</summary>
    public decimal Value { get; set; }

    /// <summary>Required for fixed amounts and thresholds; the promotion applies to orders in this currency only.</summary>
    public string? Currency { get; set; }

    public List<string> Skus { get; set; } = [];

    public int BuyQuantity { get; set; }

    public int GetQuantity { get; set; }

    /// <summary>Merchandise subtotal (before discounts, in the price list's terms) the order must reach.</summary>
    public decimal? MinOrderValue { get; set; }

    /// <summary>Channels the promotion applies to; empty: every channel.</summary>
    public List<string> Channels { get; set; } = [];

    public DateTimeOffset? ValidFrom { get; set; }

    public DateTimeOffset? ValidTo { get; set; }

    /// <summary>Higher first. An exclusive promotion applies alone: only if nothing applied before it, and nothing after it.</summary>
    public int Priority { get; set; }

    public bool Exclusive { get; set; }

    /// <summary>Applies only when the order carries one of its coupon codes.</summary>
    public bool RequiresCoupon { get; set; }

    public bool Active { get; set; } = true;
}

/// <summary>A coupon code for a coupon-only promotion, with total and per-customer usage limits.</summary>
internal sealed class Coupon
{
    public required string Code { get; init; }

    public required string PromotionCode { get; set; }

    /// <summary>Uses allowed in total; null: unlimited.</summary>
    public int? UsageLimit { get; set; }

    /// <summary>Uses allowed per customer; null: unlimited.</summary>
    public int? PerCustomerLimit { get; set; }

    public DateTimeOffset? ValidFrom { get; set; }

    public DateTimeOffset? ValidTo { get; set; }

    public bool Active { get; set; } = true;

    /// <summary>Uses held by live orders (released when an order is cancelled or rejected).</summary>
    public int TimesUsed { get; set; }
}

/// <summary>One use of a coupon by an order; released when the order ends without confirmation.</summary>
internal sealed class CouponRedemption
{
    public required string CouponCode { get; init; }

    public Guid OrderId { get; init; }

    public required string CustomerId { get; init; }

    public DateTimeOffset RedeemedAt { get; init; }

    public DateTimeOffset? ReleasedAt { get; set; }
}
