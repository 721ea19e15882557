using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Pricing.Domain;
using OmsModular.Modules.Pricing.Features.Promotions;
using OmsModular.Modules.Pricing.Persistence;
using OmsModular.Shared.Contracts.Pricing;
using OmsModular.Shared.Infrastructure.ReferenceData;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Pricing.Features;

internal sealed record QuoteLine([property: JsonRequired] string Sku, [property: JsonRequired] int Quantity, decimal? MarketplaceUnitPrice)
{
    /// <summary>The unit price agreed when the units were sold (an order change keeps it).</summary>
    [JsonIgnore]
    public decimal? AgreedUnitPrice { get; init; }

    /// <summary>Whether <see cref="AgreedUnitPrice"/> includes tax (as the list it came from had it); null: as the SKU's list has it now.</summary>
    [JsonIgnore]
    public bool? AgreedIncludesTax { get; init; }
}

internal sealed record QuoteInput(
    [property: JsonRequired] string Channel,
    [property: JsonRequired] string Currency,
    [property: JsonRequired] IReadOnlyList<QuoteLine> Lines,
    [property: JsonRequired] string CountryCode,
    [property: JsonRequired] string DeliveryMethod,
    string? ServiceLevel,
    IReadOnlyList<string>? CouponCodes = null,
    string? CustomerId = null)
{
    /// <summary>Coupons whose use the order holds already (an order change): their limits are not checked again.</summary>
    [JsonIgnore]
    public IReadOnlySet<string> HeldCoupons { get; init; } = new HashSet<string>();

    /// <summary>When promotions and coupons are judged valid (an order change: when the order was placed); null: now.</summary>
    [JsonIgnore]
    public DateTimeOffset? PromotionsAt { get; init; }
}

internal sealed record Quote(
    bool Priced,
    string? FailureReason,
    string? Detail,
    string Currency,
    string? PriceList,
    IReadOnlyList<PricedLine> Lines,
    decimal ShippingNet,
    decimal ShippingTax,
    decimal ShippingGross,
    decimal TaxRate,
    decimal TaxTotal,
    decimal Total,
    decimal Subtotal,
    decimal DiscountTotal,
    decimal ShippingDiscount,
    IReadOnlyList<AppliedPromotion> Promotions,
    IReadOnlyList<CouponOutcome> Coupons);

/// <summary>
/// Prices a cart: the channel's list for the currency (falling back to the default list per SKU),
/// quantity tiers, validity windows, the marketplace price where one was paid, promotions and
/// coupons (see <see cref="PromotionEngine"/>), tax per destination country (prices net or gross per
/// list), shipping per service level. Money is rounded to the currency's minor units (half away from
/// zero) per line, so lines add up to the total exactly. Pricing an order (an order id given) counts
/// the coupon uses under a row lock; a quote only reports whether they would apply.
/// </summary>
internal sealed class PriceCalculator(PricingDbContext db, CouponBook coupons, TimeProvider clock)
{
    // Reference data read once per calculator (one per request, or one per inbox batch when pricing
    // orders), so the orders of a batch do not each read the same rates, lists and promotions.
    private readonly Dictionary<string, decimal> _taxRates = new(StringComparer.Ordinal);
    private readonly Dictionary<(string? ServiceLevel, string Currency), ShippingRate?> _shippingRates = [];
    private readonly Dictionary<string, List<Promotion>> _promotions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (HashSet<string> Skus, List<PriceList> Lists)> _priceLists = new(StringComparer.Ordinal);

    /// <summary>Reads the price lists (with the prices of the given carts' SKUs) once for the carts about to be quoted.</summary>
    public async Task PrepareAsync(IEnumerable<(string Currency, IEnumerable<string> Skus)> carts, CancellationToken cancellationToken)
    {
        foreach (var currency in carts.GroupBy(c => c.Currency, StringComparer.Ordinal))
        {
            var skus = currency.SelectMany(c => c.Skus).ToHashSet(StringComparer.Ordinal);
            _priceLists[currency.Key] = (skus, await ListsAsync(currency.Key, skus, cancellationToken));
        }
    }

    private async Task<List<PriceList>> ListsAsync(string currency, IReadOnlyCollection<string> skus, CancellationToken cancellationToken) =>
        await db.PriceLists.AsNoTracking().IgnoreAutoIncludes()
            .Include(l => l.Prices.Where(p => skus.Contains(p.Sku))) // only the carts' prices, not whole lists
            .Where(l => l.Currency == currency)
            .ToListAsync(cancellationToken);

    public async Task<Quote> QuoteAsync(QuoteInput input, CancellationToken cancellationToken) =>
        await QuoteAsync(input, null, cancellationToken);

    public async Task<Quote> QuoteAsync(QuoteInput input, Guid? orderId, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var digits = Currencies.MinorUnits(input.Currency);
        var skus = input.Lines.Select(l => l.Sku).Distinct().ToArray();
        var lists = (_priceLists.TryGetValue(input.Currency, out var prepared) && skus.All(prepared.Skus.Contains)
                ? prepared.Lists
                : await ListsAsync(input.Currency, skus, cancellationToken))
            .Where(l => (l.ValidFrom is null || l.ValidFrom <= now) && (l.ValidTo is null || l.ValidTo > now))
            .ToArray();
        // Channel lists first, then default lists; within each, by code. A SKU takes its price from
        // the first list that has it (so a channel list overrides only what it lists).
        var ordered = lists.Where(l => l.Channel == input.Channel).OrderBy(l => l.Code, StringComparer.Ordinal)
            .Concat(lists.Where(l => l.Channel is null).OrderBy(l => l.Code, StringComparer.Ordinal))
            .ToArray();
        if (!_taxRates.TryGetValue(input.CountryCode, out var rate))
        {
            _taxRates[input.CountryCode] = rate = (await db.TaxRates.AsNoTracking().SingleOrDefaultAsync(t => t.CountryCode == input.CountryCode, cancellationToken))?.Rate ?? 0m;
        }


        var work = new List<LineWork>();
        var missing = new List<string>();
        foreach (var line in input.Lines)
        {
            var list = ordered.FirstOrDefault(l => Find(l, line) is not null);
            var (unit, source, gross) = line.MarketplaceUnitPrice is { } paid
                ? (paid, "marketplace", true)
                : line.AgreedUnitPrice is { } agreed ? (agreed, "agreed", line.AgreedIncludesTax ?? list?.PricesIncludeTax ?? false)
                : list is not null ? (Find(list, line)!.Value, list.Code, list.PricesIncludeTax)
                : (-1m, string.Empty, false);
            if (unit < 0)
            {
                missing.Add(line.Sku);
                continue;
            }

            work.Add(new LineWork
            {
                Sku = line.Sku,
                Quantity = line.Quantity,
                UnitPrice = unit,
                Amount = Round(unit * line.Quantity, digits),
                PricesIncludeTax = gross,
                Source = source,
                Discountable = line.MarketplaceUnitPrice is null,
            });
        }

        if (missing.Count > 0)
        {
            return Failed(input, "no-price", $"No price for {string.Join(", ", missing)} in {input.Currency} for channel {input.Channel}.");
        }

        var shippingNet = 0m;
        if (input.DeliveryMethod == "ship")
        {
            if (!_shippingRates.TryGetValue((input.ServiceLevel, input.Currency), out var shipping))
            {
                _shippingRates[(input.ServiceLevel, input.Currency)] = shipping = await db.ShippingRates.AsNoTracking()
                    .SingleOrDefaultAsync(s => s.ServiceLevel == input.ServiceLevel && s.Currency == input.Currency, cancellationToken);
            }

            if (shipping is null)
            {
                return Failed(input, "no-shipping-rate", $"No shipping rate for service level {input.ServiceLevel} in {input.Currency}.");
            }

            shippingNet = Round(shipping.Amount, digits);
        }

        var subtotal = work.Sum(l => l.Amount);
        var (candidates, outcomes, couponOf) = await CandidatesAsync(input, subtotal, orderId is not null, input.PromotionsAt ?? now, cancellationToken);
        var (results, shippingDiscount) = PromotionEngine.Apply(candidates, work, shippingNet, digits);
        foreach (var result in results.Where(r => r.Candidate.CouponCode is not null))
        {
            var code = result.Candidate.CouponCode!;
            outcomes[code] = result.SkippedReason is null ? new CouponOutcome(code, "applied", null) : new CouponOutcome(code, "rejected", result.SkippedReason);
            if (result.SkippedReason is null && orderId is { } id)
            {
                coupons.Redeem(couponOf[code], id, input.CustomerId ?? string.Empty, now);
            }
        }

        var lines = work.Select(l =>
        {
            var amount = l.Remaining;
            var tax = l.PricesIncludeTax ? Round(amount - (amount / (1 + rate)), digits) : Round(amount * rate, digits);
            var net = l.PricesIncludeTax ? amount - tax : amount;
            return new PricedLine(l.Sku, l.Quantity, l.UnitPrice, net, tax, net + tax, l.Source, l.Discount);
        }).ToArray();
        shippingNet -= shippingDiscount;
        var shippingTax = Round(shippingNet * rate, digits);
        var taxTotal = lines.Sum(l => l.Tax) + shippingTax;
        var total = lines.Sum(l => l.Gross) + shippingNet + shippingTax;
        var applied = results.Where(r => r.SkippedReason is null)
            .Select(r => new AppliedPromotion(r.Candidate.Promotion.Code, r.Candidate.Promotion.Name, r.Candidate.Promotion.Kind.Kebab(), r.Amount, r.Candidate.CouponCode))
            .ToArray();
        return new Quote(
            true, null, null, input.Currency, string.Join(",", lines.Select(l => l.PriceSource).Distinct()), lines,
            shippingNet, shippingTax, shippingNet + shippingTax, rate, taxTotal, total,
            subtotal, work.Sum(l => l.Discount) + shippingDiscount, shippingDiscount, applied, [.. outcomes.Values]);
    }

    /// <summary>
    /// The automatic promotions that fit the cart, and the promotions its coupon codes bring (each
    /// coupon checked, and locked when pricing an order, in code order so concurrent orders cannot
    /// deadlock). Coupons refused here keep their reason.
    /// </summary>
    private async Task<(List<PromotionCandidate> Candidates, Dictionary<string, CouponOutcome> Outcomes, Dictionary<string, Coupon> CouponOf)> CandidatesAsync(
        QuoteInput input, decimal subtotal, bool forUse, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (!_promotions.TryGetValue(input.Currency, out var promotions))
        {
            _promotions[input.Currency] = promotions = await db.Promotions.AsNoTracking()
                .Where(p => p.Active && (p.Currency == null || p.Currency == input.Currency))
                .ToListAsync(cancellationToken);
        }

        var candidates = promotions
            .Where(p => !p.RequiresCoupon && Ineligible(p, input, subtotal, now) is null)
            .Select(p => new PromotionCandidate(p, null))
            .ToList();

        var outcomes = new Dictionary<string, CouponOutcome>(StringComparer.Ordinal);
        var couponOf = new Dictionary<string, Coupon>(StringComparer.Ordinal);
        var codes = (input.CouponCodes ?? []).Select(c => c.Trim().ToUpperInvariant()).Where(c => c.Length > 0).Distinct().Order(StringComparer.Ordinal);
        foreach (var code in codes)
        {
            var (coupon, reason) = await coupons.CheckAsync(code, input.CustomerId, now, forUse, cancellationToken, held: input.HeldCoupons.Contains(code));
            var promotion = coupon is null ? null : await db.Promotions.AsNoTracking().SingleOrDefaultAsync(p => p.Code == coupon.PromotionCode, cancellationToken);
            reason ??= promotion is null ? "unknown-coupon" : Ineligible(promotion, input, subtotal, now);
            if (reason is null && candidates.Any(c => c.Promotion.Code == promotion!.Code))
            {
                reason = "promotion-already-applied";
            }

            if (reason is not null)
            {
                outcomes[code] = new CouponOutcome(code, "rejected", reason);
                continue;
            }

            outcomes[code] = new CouponOutcome(code, "pending", null);
            couponOf[code] = coupon!;
            candidates.Add(new PromotionCandidate(promotion!, code));
        }

        return (candidates, outcomes, couponOf);
    }

    private static string? Ineligible(Promotion promotion, QuoteInput input, decimal subtotal, DateTimeOffset now) =>
        !promotion.Active || promotion.ValidFrom > now || promotion.ValidTo <= now ? "promotion-not-active"
        : promotion.Currency is not null && promotion.Currency != input.Currency ? "currency-not-eligible"
        : promotion.Channels.Count > 0 && !promotion.Channels.Contains(input.Channel) ? "channel-not-eligible"
        : promotion.MinOrderValue is { } minimum && subtotal < minimum ? "below-minimum-order-value"
        : null;

    private static decimal? Find(PriceList? list, QuoteLine line) =>
        list?.Prices.Where(p => p.Sku == line.Sku && p.MinQuantity <= line.Quantity).OrderByDescending(p => p.MinQuantity).Select(p => (decimal?)p.UnitPrice).FirstOrDefault();

    private static decimal Round(decimal value, int digits) => PromotionEngine.Round(value, digits);

    private static Quote Failed(QuoteInput input, string reason, string detail) =>
        new(false, reason, detail, input.Currency, null, [], 0, 0, 0, 0, 0, 0, 0, 0, 0, [], []);
}
