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
    }
}
