using OmsModular.Modules.Pricing.Domain;

namespace OmsModular.Modules.Pricing.Features.Promotions;

/// <summary>A line being priced: its amount (unit × quantity, in the list's terms) and the discount taken off so far.</summary>
internal sealed class LineWork
{
    public required string Sku { get; init; }

    public int Quantity { get; init; }

    public decimal UnitPrice { get; init; }

    public decimal Amount { get; init; }

    public bool PricesIncludeTax { get; init; }

    public required string Source { get; init; }

    /// <summary>Marketplace lines keep the price the customer paid there: no promotion touches them.</summary>
    public bool Discountable { get; init; }

    public decimal Discount { get; set; }

    public decimal Remaining => Amount - Discount;
}

/// <summary>A promotion that may apply, with the coupon code that brought it (none for automatic ones).</summary>
internal sealed record PromotionCandidate(Promotion Promotion, string? CouponCode);

/// <summary>What a candidate did: the amount it took off, or why it did not apply.</summary>
internal sealed record PromotionResult(PromotionCandidate Candidate, decimal Amount, string? SkippedReason);

/// <summary>
/// Applies promotions to a priced cart, highest priority first (then by code). A promotion that takes
/// nothing off does not count as applied. An exclusive promotion applies only when nothing applied
/// before it, and nothing applies after it. Line promotions act on the lines' remaining amounts;
/// order promotions compute one discount on the remaining merchandise and allocate it over the
/// discountable lines in proportion to their remaining amounts, to the minor unit (largest
/// remainder), so the lines always add up to the order.
/// </summary>
internal static class PromotionEngine
{
    public static (IReadOnlyList<PromotionResult> Results, decimal ShippingDiscount) Apply(
        IEnumerable<PromotionCandidate> candidates, IReadOnlyList<LineWork> lines, decimal shippingNet, int digits)
    {
        var results = new List<PromotionResult>();
        var shippingDiscount = 0m;
        var appliedAny = false;
        var closed = false;
        foreach (var candidate in candidates.OrderByDescending(c => c.Promotion.Priority).ThenBy(c => c.Promotion.Code, StringComparer.Ordinal))
        {
            var promotion = candidate.Promotion;
            if (closed || (promotion.Exclusive && appliedAny))
            {
                results.Add(new PromotionResult(candidate, 0, "not-combinable"));
                continue;
            }

            decimal amount;
            if (promotion.Kind == PromotionKind.FreeShipping)
            {
                amount = shippingNet - shippingDiscount;
                shippingDiscount += amount;
            }
            else
            {
                var discounts = Discounts(promotion, lines, digits);
                amount = discounts.Sum();
                for (var i = 0; i < lines.Count; i++)
                {
                    lines[i].Discount += discounts[i];
                }
            }

            if (amount <= 0)
            {
                results.Add(new PromotionResult(candidate, 0, "nothing-to-discount"));
                continue;
            }

            results.Add(new PromotionResult(candidate, amount, null));
            appliedAny = true;
            closed = promotion.Exclusive;
        }

        return (results, shippingDiscount);
    }

    /// <summary>The discount of one promotion per line (not yet added to the lines).</summary>
    private static decimal[] Discounts(Promotion promotion, IReadOnlyList<LineWork> lines, int digits)
    {
        var result = new decimal[lines.Count];
        var skus = promotion.Skus.ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < lines.Count; i++)
        {
            var line = lines[i];
            if (!line.Discountable || line.Remaining <= 0 || !skus.Contains(line.Sku))
            {
                continue;
            }

            var discount = promotion.Kind switch
            {
                PromotionKind.SkuPercentage => Round(line.Remaining * promotion.Value / 100m, digits),
                PromotionKind.SkuFixed => Round(promotion.Value * line.Quantity, digits),
                PromotionKind.BuyXGetY => Round(line.Quantity / (promotion.BuyQuantity + promotion.GetQuantity) * promotion.GetQuantity * line.UnitPrice * promotion.Value / 100m, digits),
                _ => 0m,
            };
            result[i] = Math.Min(discount, line.Remaining);
        }

        if (promotion.Kind is PromotionKind.OrderPercentage or PromotionKind.OrderFixed)
        {
            var weights = lines.Select(l => l.Discountable && l.Remaining > 0 ? l.Remaining : 0m).ToArray();
            var total = weights.Sum();
            var discount = promotion.Kind == PromotionKind.OrderPercentage
                ? Round(total * promotion.Value / 100m, digits)
                : Math.Min(Round(promotion.Value, digits), total);
            return Allocate(discount, weights, digits);
        }

        return result;
    }

    /// <summary>
    /// Splits <paramref name="amount"/> over the weights in proportion, in whole minor units, adding
    /// up exactly: every share is floored, and the units left go to the largest remainders (earlier
    /// lines first on ties). No share exceeds its weight when the amount does not exceed their sum.
    /// </summary>
    public static decimal[] Allocate(decimal amount, IReadOnlyList<decimal> weights, int digits)
    {
        var shares = new decimal[weights.Count];
        var total = weights.Sum();
        if (amount <= 0 || total <= 0)
        {
            return shares;
        }

        var unit = 1m / Pow10(digits);
        var remainders = new (decimal Remainder, int Index)[weights.Count];
        for (var i = 0; i < weights.Count; i++)
        {
            var exact = amount * weights[i] / total;
            shares[i] = Math.Floor(exact / unit) * unit;
            remainders[i] = (exact - shares[i], i);
        }

        var left = (int)Math.Round((amount - shares.Sum()) / unit);
        foreach (var (_, index) in remainders.Where(r => weights[r.Index] > 0).OrderByDescending(r => r.Remainder).ThenBy(r => r.Index).Take(left))
        {
            shares[index] += unit;
        }

        return shares;
    }

    private static decimal Pow10(int digits)
    {
        var value = 1m;
        for (var i = 0; i < digits; i++)
        {
            value *= 10m;
        }

        return value;
    }

    public static decimal Round(decimal value, int digits) => Math.Round(value, digits, MidpointRounding.AwayFromZero);
}
