using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Orders;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Pricing;

/// <summary>Quotes through the Host: lists, overrides, tiers, tax (net and gross), shipping, minor units.</summary>
[Collection(HostCollection.Name)]
public sealed class PricingTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task A_cart_is_priced_from_the_channel_list_with_tiers_tax_and_shipping_to_the_cent()
    {
        var (a, b) = (Unique("SKU"), Unique("SKU"));
        var currency = "CHF"; // its own currency keeps the test's lists apart
        await PutAsync($"/api/v1/pricing/price-lists/{Unique("DEFAULT")}", new { currency, prices = new[] { new { sku = a, minQuantity = 1, unitPrice = 10.00m }, new { sku = b, minQuantity = 1, unitPrice = 3.33m } } });
        await PutAsync($"/api/v1/pricing/price-lists/{Unique("APP")}", new { channel = "app", currency, prices = new[] { new { sku = a, minQuantity = 1, unitPrice = 9.00m }, new { sku = a, minQuantity = 10, unitPrice = 8.00m } } });
        await PutAsync("/api/v1/pricing/tax-rates/CH", new { rate = 0.081m });
        await PutAsync($"/api/v1/pricing/shipping-rates/standard/{currency}", new { amount = 4.90m });

        var quote = await QuoteAsync(new { channel = "app", currency, countryCode = "CH", deliveryMethod = "ship", serviceLevel = "standard", lines = new[] { new { sku = a, quantity = 10 }, new { sku = b, quantity = 3 } } });
        Assert.True(quote.GetProperty("priced").GetBoolean());
        var lines = quote.GetProperty("lines").EnumerateArray().ToArray();
        Assert.Equal(8.00m, lines[0].GetProperty("unitPrice").GetDecimal()); // the app list's tier
        Assert.Equal(80.00m, lines[0].GetProperty("net").GetDecimal());
        Assert.Equal(6.48m, lines[0].GetProperty("tax").GetDecimal());
        Assert.Equal(3.33m, lines[1].GetProperty("unitPrice").GetDecimal()); // falls back to the default list
        Assert.Equal(9.99m, lines[1].GetProperty("net").GetDecimal());
        Assert.Equal(0.81m, lines[1].GetProperty("tax").GetDecimal());
        Assert.Equal(5.30m, quote.GetProperty("shippingGross").GetDecimal());
        var total = quote.GetProperty("total").GetDecimal();
        Assert.Equal(lines.Sum(l => l.GetProperty("gross").GetDecimal()) + quote.GetProperty("shippingGross").GetDecimal(), total);
        Assert.Equal(86.48m + 10.80m + 5.30m, total);
    }

    [Fact]
    public async Task Gross_lists_extract_tax_and_zero_decimal_currencies_round_to_whole_units()
    {
        var sku = Unique("SKU");
        await PutAsync($"/api/v1/pricing/price-lists/{Unique("JP")}", new { currency = "JPY", pricesIncludeTax = true, prices = new[] { new { sku, minQuantity = 1, unitPrice = 1099m } } });
        await PutAsync("/api/v1/pricing/tax-rates/JP", new { rate = 0.10m });
        var quote = await QuoteAsync(new { channel = "web", currency = "JPY", countryCode = "JP", deliveryMethod = "pickup", lines = new[] { new { sku, quantity = 3 } } });
        var line = quote.GetProperty("lines")[0];
        Assert.Equal(3297m, line.GetProperty("gross").GetDecimal());
        Assert.Equal(300m, line.GetProperty("tax").GetDecimal()); // 3297 − 3297/1.1 = 299.7 → 300
        Assert.Equal(2997m, line.GetProperty("net").GetDecimal());
        Assert.Equal(3297m, quote.GetProperty("total").GetDecimal());

        using var badPrice = await Client.PutAsJsonAsync($"/api/v1/pricing/price-lists/{Unique("JP")}", new { currency = "JPY", prices = new[] { new { sku, minQuantity = 1, unitPrice = 10.5m } } });
        Assert.Equal(HttpStatusCode.BadRequest, badPrice.StatusCode);
    }

    [Fact]
    public async Task A_sku_without_a_price_cannot_be_priced()
    {
        var quote = await QuoteAsync(new { channel = "web", currency = "EUR", countryCode = "DE", deliveryMethod = "pickup", lines = new[] { new { sku = Unique("NOPRICE"), quantity = 1 } } });
        Assert.False(quote.GetProperty("priced").GetBoolean());
        Assert.Equal("no-price", quote.GetProperty("failureReason").GetString());
    }

    private Task PutAsync(string url, object body) => Catalog.PutAsync(Client, url, body);

    private async Task<JsonElement> QuoteAsync(object cart)
    {
        using var response = await Client.PostAsJsonAsync("/api/v1/pricing/quote", cart);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
