using System.Net.Http.Json;
using System.Text.Json;

namespace OmsModular.Tests.Orders;

/// <summary>Test data through the public APIs: stock, prices, and the shared EUR/DE rates the web order uses.</summary>
internal static class Catalog
{
    public static async Task StockAsync(HttpClient client, string sku, string node, int onHand, decimal price = 10.00m)
    {
        using var stock = await client.PutAsJsonAsync($"/api/v1/inventory/stock/{sku}/{node}", new { onHand });
        stock.EnsureSuccessStatusCode();
        await PriceAsync(client, sku, price);
    }

    /// <summary>A default EUR list holding this SKU, plus the DE tax and standard shipping the web order needs.</summary>
    public static async Task PriceAsync(HttpClient client, string sku, decimal price)
    {
        await PutAsync(client, $"/api/v1/pricing/price-lists/LIST-{sku}", new { currency = "EUR", prices = new[] { new { sku, minQuantity = 1, unitPrice = price } } });
        await PutAsync(client, "/api/v1/pricing/tax-rates/DE", new { rate = 0.19m });
        await PutAsync(client, "/api/v1/pricing/shipping-rates/standard/EUR", new { amount = 4.90m });
    }

    /// <summary>A PUT that must succeed (the body of a failure is in the message).</summary>
    public static async Task PutAsync(HttpClient client, string url, object body)
    {
        using var response = await client.PutAsJsonAsync(url, body);
        Assert.True(response.IsSuccessStatusCode, $"{url}: {response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Units of the SKU reserved at the location.</summary>
    public static async Task<int> ReservedAsync(HttpClient client, string sku, string location)
    {
        var availability = await client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{sku}");
        return availability.GetProperty("locations").EnumerateArray()
            .Where(l => l.GetProperty("location").GetString() == location)
            .Sum(l => l.GetProperty("reserved").GetInt32());
    }
}
