using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Pricing.Domain;
using OmsModular.Modules.Pricing.Persistence;
using OmsModular.Shared.Contracts.Pricing;
using OmsModular.Shared.Infrastructure.ReferenceData;

namespace OmsModular.Modules.Pricing.Features;

internal sealed record QuoteLine(string Sku, int Quantity, decimal? MarketplaceUnitPrice);

internal sealed record QuoteInput(string Channel, string Currency, IReadOnlyList<QuoteLine> Lines, string CountryCode, string DeliveryMethod, string? ServiceLevel);

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
    decimal Total);

/// <summary>
/// Prices a cart: the channel's list for the currency (falling back to the default list per SKU),
/// quantity tiers, validity windows, the marketplace price where one was paid, tax per destination
/// country (prices net or gross per list), shipping per service level. Money is rounded to the
/// currency's minor units (half away from zero) per line, so lines add up to the total exactly.
/// </summary>
internal sealed class PriceCalculator(PricingDbContext db, TimeProvider clock)
{
    public async Task<Quote> QuoteAsync(QuoteInput input, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var digits = Currencies.MinorUnits(input.Currency);
        var lists = (await db.PriceLists.AsNoTracking().Where(l => l.Currency == input.Currency).ToListAsync(cancellationToken))
            .Where(l => (l.ValidFrom is null || l.ValidFrom <= now) && (l.ValidTo is null || l.ValidTo > now))
            .ToArray();
        // Channel lists first, then default lists; within each, by code. A SKU takes its price from
        // the first list that has it (so a channel list overrides only what it lists).
        var ordered = lists.Where(l => l.Channel == input.Channel).OrderBy(l => l.Code, StringComparer.Ordinal)
            .Concat(lists.Where(l => l.Channel is null).OrderBy(l => l.Code, StringComparer.Ordinal))
            .ToArray();
        var rate = (await db.TaxRates.AsNoTracking().SingleOrDefaultAsync(t => t.CountryCode == input.CountryCode, cancellationToken))?.Rate ?? 0m;

        var lines = new List<PricedLine>();
        var missing = new List<string>();
        foreach (var line in input.Lines)
        {
            var list = ordered.FirstOrDefault(l => Find(l, line) is not null);
            var (unit, source, gross) = line.MarketplaceUnitPrice is { } paid
                ? (paid, "marketplace", true)
                : list is not null ? (Find(list, line)!.Value, list.Code, list.PricesIncludeTax)
                : (-1m, string.Empty, false);
            if (unit < 0)
            {
                missing.Add(line.Sku);
                continue;
            }

            var amount = Round(unit * line.Quantity, digits);
            var tax = gross ? Round(amount - (amount / (1 + rate)), digits) : Round(amount * rate, digits);
            var net = gross ? amount - tax : amount;
            lines.Add(new PricedLine(line.Sku, line.Quantity, unit, net, tax, net + tax, source));
        }

        if (missing.Count > 0)
        {
            return Failed(input, "no-price", $"No price for {string.Join(", ", missing)} in {input.Currency} for channel {input.Channel}.");
        }

        var shippingNet = 0m;
        if (input.DeliveryMethod == "ship")
        {
            var shipping = await db.ShippingRates.AsNoTracking()
                .SingleOrDefaultAsync(s => s.ServiceLevel == input.ServiceLevel && s.Currency == input.Currency, cancellationToken);
            if (shipping is null)
            {
                return Failed(input, "no-shipping-rate", $"No shipping rate for service level {input.ServiceLevel} in {input.Currency}.");
            }

            shippingNet = Round(shipping.Amount, digits);
        }

        var shippingTax = Round(shippingNet * rate, digits);
        var taxTotal = lines.Sum(l => l.Tax) + shippingTax;
        var total = lines.Sum(l => l.Gross) + shippingNet + shippingTax;
        return new Quote(true, null, null, input.Currency, string.Join(",", lines.Select(l => l.PriceSource).Distinct()), lines, shippingNet, shippingTax, shippingNet + shippingTax, rate, taxTotal, total);
    }

    private static decimal? Find(PriceList? list, QuoteLine line) =>
        list?.Prices.Where(p => p.Sku == line.Sku && p.MinQuantity <= line.Quantity).OrderByDescending(p => p.MinQuantity).Select(p => (decimal?)p.UnitPrice).FirstOrDefault();

    private static decimal Round(decimal value, int digits) => Math.Round(value, digits, MidpointRounding.AwayFromZero);

    private static Quote Failed(QuoteInput input, string reason, string detail) =>
        new(false, reason, detail, input.Currency, null, [], 0, 0, 0, 0, 0, 0);
}
