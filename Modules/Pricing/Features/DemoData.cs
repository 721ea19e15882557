using Mediator;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Pricing.Features;

internal sealed class PricingDemoData : IDemoData
{
    public int Order => 30;

    public async Task SeedAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        async Task SendAsync<T>(ICommand<T> command)
        {
            await using var scope = services.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<ISender>().Send(command, cancellationToken);
        }

        var prices = DemoCatalogue.Skus.Select(sku => new PriceRequest(sku, 1, DemoCatalogue.PriceOf(sku))).ToArray();
        await SendAsync(new PutPriceList("DEMO-EUR", new PriceListRequest(null, "EUR", PricesIncludeTax: false, null, null, prices)));
        await SendAsync(new PutPriceList(
            "DEMO-EUR-APP",
            new PriceListRequest("app", "EUR", PricesIncludeTax: false, null, null, prices.Take(20).Select(p => p with { UnitPrice = p.UnitPrice - 1m }).ToArray())));
        await SendAsync(new PutTaxRate("DE", 0.19m));
        await SendAsync(new PutShippingRate("standard", "EUR", 4.90m));
        await SendAsync(new PutShippingRate("express", "EUR", 9.90m));

        // An automatic promotion (3 for 2 on the first five SKUs, free shipping from 100 EUR) and a coupon.
        await SendAsync(new Promotions.PutPromotion("DEMO-3FOR2", new Promotions.PromotionRequest(
            "3 for 2 on selected items", "buy-x-get-y", 100m, null, DemoCatalogue.Skus.Take(5).ToArray(), 2, 1, null, null, null, null, 10, false, false, true)));
        await SendAsync(new Promotions.PutPromotion("DEMO-FREESHIP", new Promotions.PromotionRequest(
            "Free standard shipping from 100 EUR", "free-shipping", 0m, "EUR", null, null, null, 100m, null, null, null, 0, false, false, true)));
        await SendAsync(new Promotions.PutPromotion("DEMO-WELCOME", new Promotions.PromotionRequest(
            "10 % off your order", "order-percentage", 10m, null, null, null, null, null, ["web", "app"], null, null, 5, false, true, true)));
        await SendAsync(new Promotions.PutCoupon("WELCOME10", new Promotions.CouponRequest("DEMO-WELCOME", 1000, 1, null, null, true)));
    }
}
