using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Pricing.Persistence;
using OmsModular.Shared.Contracts.Pricing;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Pricing.Features;

/// <summary>
/// Module API: prices an order as a change would leave it (a quote: nothing is counted or written).
/// Promotions and coupons are judged valid as of the order's placement (what was on offer when it
/// was agreed); whether the changed cart qualifies (minimum order value, channel) is judged anew.
/// The coupons whose use the order holds (counted when it was priced and not given back) keep it
/// without their limits being checked again; any other code is checked like a quote and, when it
/// would need a new use, is not applied (<c>not-held</c>), so a change never takes a coupon use.
/// </summary>
internal sealed class RepriceOrderApi(PricingDbContext db, PriceCalculator calculator) : IModuleRequestHandler<RepriceOrder, OrderRepriced>
{
    public async Task<OrderRepriced> HandleAsync(RepriceOrder request, CancellationToken cancellationToken)
    {
        var held = (await db.CouponRedemptions.AsNoTracking()
                .Where(r => r.OrderId == request.OrderId && r.ReleasedAt == null)
                .Select(r => r.CouponCode)
                .ToListAsync(cancellationToken))
            .ToHashSet(StringComparer.Ordinal);
        var quote = await calculator.QuoteAsync(
            new QuoteInput(
                request.Channel,
                request.Currency,
                request.Lines.Select(l => new QuoteLine(l.Sku, l.Quantity, l.MarketplaceUnitPrice) { AgreedUnitPrice = l.AgreedUnitPrice, AgreedIncludesTax = l.AgreedIncludesTax }).ToArray(),
                request.CountryCode,
                request.DeliveryMethod,
                request.ServiceLevel,
                request.CouponCodes.Where(c => held.Contains(c.Trim().ToUpperInvariant())).ToArray(),
                request.CustomerId) { HeldCoupons = held, PromotionsAt = request.PlacedAt },
            cancellationToken);
        var notHeld = request.CouponCodes.Select(c => c.Trim().ToUpperInvariant()).Where(c => c.Length > 0 && !held.Contains(c)).Distinct()
            .Select(c => new CouponOutcome(c, "rejected", "not-held"));
        return quote.Priced
            ? new OrderRepriced(request.OrderId, true, null, null, quote.Currency, quote.Lines, quote.ShippingGross, quote.TaxTotal, quote.Total, quote.DiscountTotal, quote.Promotions, [.. quote.Coupons, .. notHeld])
            : new OrderRepriced(request.OrderId, false, quote.FailureReason, quote.Detail, request.Currency, [], 0, 0, 0, 0, [], []);
    }
}
