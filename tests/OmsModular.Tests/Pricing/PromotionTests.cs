using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Messaging;
using OmsModular.Tests.Orders;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Pricing;

/// <summary>
/// Promotions and coupons through the Host: line and order discounts allocated to the cent, buy X
/// get Y, free shipping over a threshold, priority and exclusivity, coupon refusals with reasons,
/// usage limits exact under concurrent orders, and uses given back when an order is cancelled.
/// Automatic order-wide promotions would touch every other test's EUR orders, so those live in a
/// currency of their own; EUR ones target the test's own SKUs or need the test's coupon.
/// </summary>
[Collection(HostCollection.Name)]
public sealed class PromotionTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task A_sku_promotion_and_an_order_coupon_are_allocated_over_the_lines_to_the_cent()
    {
        var (a, b, c) = (Unique("SKU"), Unique("SKU"), Unique("SKU"));
        await Catalog.PriceAsync(Client, a, 10.00m);
        await Catalog.PriceAsync(Client, b, 3.33m);
        await Catalog.PriceAsync(Client, c, 7.00m);
        await PutAsync($"/api/v1/pricing/promotions/{Unique("TEN-OFF-A")}", new { name = "10 % off A", kind = "sku-percentage", value = 10m, skus = new[] { a }, priority = 10 });
        var coupon = await CouponAsync(new { name = "5 EUR off", kind = "order-fixed", value = 5.00m, currency = "EUR", priority = 5, requiresCoupon = true }, new { });

        var quote = await QuoteAsync(Cart("web", "EUR", "DE", (a, 3), (b, 3), (c, 1)), coupon.ToLowerInvariant());

        // a: 30.00 − 3.00 (10 %) − 3.07, b: 9.99 − 1.13, c: 7.00 − 0.80: the 5.00 split 27.00 : 9.99 : 7.00, largest remainders get the cents.
        var lines = quote.GetProperty("lines").EnumerateArray().ToArray();
        Assert.Equal([6.07m, 1.13m, 0.80m], lines.Select(l => l.GetProperty("discount").GetDecimal()));
        Assert.Equal([23.93m, 8.86m, 6.20m], lines.Select(l => l.GetProperty("net").GetDecimal()));
        Assert.Equal([4.55m, 1.68m, 1.18m], lines.Select(l => l.GetProperty("tax").GetDecimal()));
        Assert.Equal([28.48m, 10.54m, 7.38m], lines.Select(l => l.GetProperty("gross").GetDecimal()));
        Assert.Equal(5.83m, quote.GetProperty("shippingGross").GetDecimal());
        Assert.Equal(52.23m, quote.GetProperty("total").GetDecimal());
        Assert.Equal(lines.Sum(l => l.GetProperty("gross").GetDecimal()) + 5.83m, quote.GetProperty("total").GetDecimal());
        Assert.Equal(8.00m, quote.GetProperty("discountTotal").GetDecimal());
        Assert.Equal([3.00m, 5.00m], quote.GetProperty("promotions").EnumerateArray().Select(p => p.GetProperty("amount").GetDecimal()));
        var outcome = Assert.Single(quote.GetProperty("coupons").EnumerateArray());
        Assert.Equal((coupon, "applied"), (outcome.GetProperty("code").GetString(), outcome.GetProperty("status").GetString()));
        Assert.Equal(0, (await CouponStateAsync(coupon)).GetProperty("timesUsed").GetInt32()); // a quote uses nothing
    }

    [Fact]
    public async Task Buy_x_get_y_exclusivity_priority_and_refused_coupons()
    {
        var d = Unique("SKU");
        await Catalog.PriceAsync(Client, d, 4.00m);
        await PutAsync($"/api/v1/pricing/promotions/{Unique("3FOR2")}", new { name = "3 for 2", kind = "buy-x-get-y", value = 100m, skus = new[] { d }, buyQuantity = 2, getQuantity = 1, priority = 1 });
        var half = await CouponAsync(new { name = "half price, alone", kind = "sku-percentage", value = 50m, skus = new[] { d }, priority = 20, exclusive = true, requiresCoupon = true }, new { });
        var appOnly = await CouponAsync(new { name = "app only", kind = "sku-percentage", value = 5m, skus = new[] { d }, channels = new[] { "app" }, requiresCoupon = true }, new { });
        var bigSpend = await CouponAsync(new { name = "big spenders", kind = "order-percentage", value = 5m, currency = "EUR", minOrderValue = 1000m, requiresCoupon = true }, new { });
        var expired = await CouponAsync(new { name = "last year", kind = "order-percentage", value = 5m, requiresCoupon = true }, new { validFrom = DateTimeOffset.UtcNow.AddYears(-1), validTo = DateTimeOffset.UtcNow.AddDays(-1) });

        var plain = await QuoteAsync(Cart("web", "EUR", "DE", (d, 7)));
        Assert.Equal(8.00m, plain.GetProperty("lines")[0].GetProperty("discount").GetDecimal()); // 7 units: two groups of 2 + 1 free

        var withCoupons = await QuoteAsync(Cart("web", "EUR", "DE", (d, 7)), half, appOnly, bigSpend, expired, "NO-SUCH-COUPON");
        Assert.Equal(14.00m, withCoupons.GetProperty("lines")[0].GetProperty("discount").GetDecimal()); // the exclusive one alone
        var applied = Assert.Single(withCoupons.GetProperty("promotions").EnumerateArray());
        Assert.Equal(half, applied.GetProperty("couponCode").GetString());
        var outcomes = withCoupons.GetProperty("coupons").EnumerateArray().ToDictionary(o => o.GetProperty("code").GetString()!, o => o.GetProperty("reason").GetString());
        Assert.Null(outcomes[half]);
        Assert.Equal("channel-not-eligible", outcomes[appOnly]);
        Assert.Equal("below-minimum-order-value", outcomes[bigSpend]);
        Assert.Equal("coupon-not-active", outcomes[expired]);
        Assert.Equal("unknown-coupon", outcomes["NO-SUCH-COUPON"]);

        var onApp = await QuoteAsync(Cart("app", "EUR", "DE", (d, 7)), appOnly);
        Assert.Equal(8.00m + 1.00m, onApp.GetProperty("lines")[0].GetProperty("discount").GetDecimal()); // 3 for 2 (priority 1) and 5 % of the remaining 20.00 (priority 0)
    }

    [Fact]
    public async Task Free_shipping_applies_from_its_threshold()
    {
        var sku = Unique("SKU");
        await PutAsync($"/api/v1/pricing/price-lists/{Unique("SEK")}", new { currency = "SEK", prices = new[] { new { sku, minQuantity = 1, unitPrice = 100.00m } } });
        await PutAsync("/api/v1/pricing/tax-rates/SE", new { rate = 0.25m });
        await PutAsync("/api/v1/pricing/shipping-rates/standard/SEK", new { amount = 49.00m });
        await PutAsync($"/api/v1/pricing/promotions/{Unique("FREESHIP")}", new { name = "Free shipping from 500 SEK", kind = "free-shipping", currency = "SEK", minOrderValue = 500m });

        var below = await QuoteAsync(Cart("web", "SEK", "SE", (sku, 4)));
        Assert.Equal(61.25m, below.GetProperty("shippingGross").GetDecimal());
        Assert.Equal(500.00m + 61.25m, below.GetProperty("total").GetDecimal());
        var above = await QuoteAsync(Cart("web", "SEK", "SE", (sku, 5)));
        Assert.Equal(0m, above.GetProperty("shippingGross").GetDecimal());
        Assert.Equal(49.00m, above.GetProperty("shippingDiscount").GetDecimal());
        Assert.Equal(625.00m, above.GetProperty("total").GetDecimal());
    }

    [Fact]
    public async Task An_order_with_a_promotion_and_a_coupon_is_confirmed_with_exact_totals_and_uses_the_coupon_once()
    {
        var (node, a, b) = (await Pipeline.NodeAsync(Client), Unique("SKU"), Unique("SKU"));
        await Catalog.StockAsync(Client, a, node, 10, price: 10.00m);
        await Catalog.StockAsync(Client, b, node, 10, price: 3.33m);
        await PutAsync($"/api/v1/pricing/promotions/{Unique("TEN-OFF-A")}", new { name = "10 % off A", kind = "sku-percentage", value = 10m, skus = new[] { a }, priority = 10 });
        var coupon = await CouponAsync(new { name = "5 % off", kind = "order-percentage", value = 5m, requiresCoupon = true }, new { usageLimit = 100 });

        var placed = OrderCaptureTests.WebOrder(Unique("cust"), (a, 3), (b, 2));
        placed["couponCodes"] = new JsonArray(coupon);
        var order = await Pipeline.PlaceAndSettleAsync(Client, placed);
        Assert.Equal("confirmed", order.GetProperty("status").GetString());

        // a: 30.00 − 3.00 = 27.00; b: 6.66; 5 % of 33.66 = 1.68 (1.683) split 27.00 : 6.66 → 1.35 + 0.33.
        var lines = order.GetProperty("lines").EnumerateArray().ToArray();
        Assert.Equal([10.00m, 3.33m], lines.Select(l => l.GetProperty("unitPrice").GetDecimal()));
        Assert.Equal([4.35m, 0.33m], lines.Select(l => l.GetProperty("discount").GetDecimal()));
        Assert.Equal([30.52m, 7.53m], lines.Select(l => l.GetProperty("gross").GetDecimal())); // 25.65 + 4.87 tax; 6.33 + 1.20 tax
        Assert.Equal(30.52m + 7.53m + 5.83m, order.GetProperty("total").GetDecimal());
        Assert.Equal(4.68m, order.GetProperty("discountTotal").GetDecimal());
        Assert.Equal(2, order.GetProperty("discounts").GetArrayLength());
        Assert.Equal("applied", order.GetProperty("coupons")[0].GetProperty("status").GetString());
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={order.GetProperty("id").GetGuid()}");
        Assert.Equal(order.GetProperty("total").GetDecimal(), ledger.GetProperty("amount").GetDecimal());
        Assert.Equal(1, (await CouponStateAsync(coupon)).GetProperty("timesUsed").GetInt32());
    }

    [Fact]
    public async Task Coupon_limits_hold_exactly_under_concurrent_orders()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 100);
        var limited = await CouponAsync(new { name = "first five", kind = "order-percentage", value = 10m, requiresCoupon = true }, new { usageLimit = 5 });
        var oncePerCustomer = await CouponAsync(new { name = "once each", kind = "order-percentage", value = 10m, requiresCoupon = true }, new { perCustomerLimit = 1 });
        var sameCustomer = Unique("cust");

        var orders = Enumerable.Range(0, 30).Select(_ => (Unique("cust"), limited))
            .Concat(Enumerable.Range(0, 10).Select(_ => (sameCustomer, oncePerCustomer)))
            .Select(o =>
            {
                var order = OrderCaptureTests.WebOrder(o.Item1, (sku, 1));
                order["couponCodes"] = new JsonArray(o.Item2);
                return order;
            })
            .ToArray();
        var ids = await Task.WhenAll(orders.Select(o => Pipeline.PlaceAsync(Client, o)));
        var settled = new List<JsonElement>();
        foreach (var id in ids)
        {
            JsonElement current = default;
            await MessagingHarness.WaitUntilAsync(async () =>
            {
                current = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
                return current.GetProperty("status").GetString() == "confirmed";
            }, TimeSpan.FromSeconds(60));
            settled.Add(current);
        }

        string Outcome(JsonElement order) => order.GetProperty("coupons")[0].GetProperty("status").GetString() + "/" + order.GetProperty("coupons")[0].GetProperty("reason").GetString();
        var limitedOutcomes = settled.Take(30).GroupBy(Outcome).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["applied/"] = 5, ["rejected/usage-limit-reached"] = 25 }, limitedOutcomes);
        var perCustomerOutcomes = settled.Skip(30).GroupBy(Outcome).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(new Dictionary<string, int> { ["applied/"] = 1, ["rejected/customer-limit-reached"] = 9 }, perCustomerOutcomes);
        Assert.All(settled, o => Assert.Equal(o.GetProperty("coupons")[0].GetProperty("status").GetString() == "applied" ? 1.00m : 0m, o.GetProperty("discountTotal").GetDecimal()));
        var state = await CouponStateAsync(limited);
        Assert.Equal((5, 0), (state.GetProperty("timesUsed").GetInt32(), state.GetProperty("remaining").GetInt32()));
        Assert.Equal(1, (await CouponStateAsync(oncePerCustomer)).GetProperty("timesUsed").GetInt32());
    }

    [Fact]
    public async Task A_cancelled_order_gives_its_coupon_use_back()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 5);
        var coupon = await CouponAsync(new { name = "just one", kind = "order-fixed", value = 2.00m, currency = "EUR", requiresCoupon = true }, new { usageLimit = 1 });
        var first = OrderCaptureTests.WebOrder(Unique("cust"), (sku, 1));
        first["couponCodes"] = new JsonArray(coupon);
        first["shippingAddress"]!["countryCode"] = "IS"; // on hold after pricing: the use is held
        var held = await Pipeline.PlaceAndSettleAsync(Client, first);
        Assert.Equal("on-hold", held.GetProperty("status").GetString());
        Assert.Equal(1, (await CouponStateAsync(coupon)).GetProperty("timesUsed").GetInt32());

        using var cancel = await Client.PostAsJsonAsync($"/api/v1/orders/{held.GetProperty("id").GetGuid()}/cancel", new { reason = "customer-request" });
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        await MessagingHarness.WaitUntilAsync(async () => (await CouponStateAsync(coupon)).GetProperty("timesUsed").GetInt32() == 0);

        var second = OrderCaptureTests.WebOrder(Unique("cust"), (sku, 1));
        second["couponCodes"] = new JsonArray(coupon);
        var confirmed = await Pipeline.PlaceAndSettleAsync(Client, second);
        Assert.Equal("confirmed", confirmed.GetProperty("status").GetString());
        Assert.Equal("applied", confirmed.GetProperty("coupons")[0].GetProperty("status").GetString());
        Assert.Equal(2.00m, confirmed.GetProperty("discountTotal").GetDecimal());
    }

    [Fact]
    public async Task Bad_promotions_and_coupons_are_refused_with_field_errors()
    {
        using var badKind = await Client.PutAsJsonAsync($"/api/v1/pricing/promotions/{Unique("P")}", new { name = "x", kind = "half-off-everything", value = 50m });
        var problem = await Problem.AssertAsync(badKind, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("kind", out _));

        using var tooMuch = await Client.PutAsJsonAsync($"/api/v1/pricing/promotions/{Unique("P")}", new { name = "x", kind = "order-percentage", value = 150m });
        problem = await Problem.AssertAsync(tooMuch, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("value", out _));

        using var noSkus = await Client.PutAsJsonAsync($"/api/v1/pricing/promotions/{Unique("P")}", new { name = "x", kind = "buy-x-get-y", value = 100m, buyQuantity = 2 });
        problem = await Problem.AssertAsync(noSkus, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("skus", out _));
        Assert.True(problem.GetProperty("errors").TryGetProperty("getQuantity", out _));

        using var fixedWithoutCurrency = await Client.PutAsJsonAsync($"/api/v1/pricing/promotions/{Unique("P")}", new { name = "x", kind = "order-fixed", value = 5m });
        problem = await Problem.AssertAsync(fixedWithoutCurrency, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("currency", out _));

        using var unknown = await Client.PutAsJsonAsync($"/api/v1/pricing/coupons/{Unique("C")}", new { promotion = "NOPE", usageLimit = 1 });
        await Problem.AssertAsync(unknown, HttpStatusCode.UnprocessableEntity, "urn:oms:problem:unknown-promotion");

        var automatic = Unique("AUTO");
        await PutAsync($"/api/v1/pricing/promotions/{automatic}", new { name = "x", kind = "sku-percentage", value = 5m, skus = new[] { Unique("SKU") } });
        using var onAutomatic = await Client.PutAsJsonAsync($"/api/v1/pricing/coupons/{Unique("C")}", new { promotion = automatic });
        await Problem.AssertAsync(onAutomatic, HttpStatusCode.UnprocessableEntity, "urn:oms:problem:promotion-is-automatic");

        using var zeroLimit = await Client.PutAsJsonAsync($"/api/v1/pricing/coupons/{Unique("C")}", new { promotion = automatic, usageLimit = 0 });
        problem = await Problem.AssertAsync(zeroLimit, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("usageLimit", out _));
    }

    private static object Cart(string channel, string currency, string country, params (string Sku, int Quantity)[] lines) => new
    {
        channel, currency, countryCode = country, deliveryMethod = "ship", serviceLevel = "standard", customerId = "quote-customer",
        lines = lines.Select(l => new { sku = l.Sku, quantity = l.Quantity }).ToArray(),
    };

    /// <summary>A coupon-only promotion and one coupon for it; returns the coupon code.</summary>
    private async Task<string> CouponAsync(object promotion, object coupon)
    {
        var code = Unique("PROMO");
        await PutAsync($"/api/v1/pricing/promotions/{code}", promotion);
        var couponCode = Unique("COUPON");
        var body = JsonSerializer.SerializeToNode(coupon, JsonSerializerOptions.Web)!.AsObject();
        body["promotion"] = code;
        await PutAsync($"/api/v1/pricing/coupons/{couponCode}", body);
        return couponCode;
    }

    private async Task<JsonElement> CouponStateAsync(string code) =>
        await Client.GetFromJsonAsync<JsonElement>($"/api/v1/pricing/coupons/{code}");

    private Task PutAsync(string url, object body) => Catalog.PutAsync(Client, url, body);

    private async Task<JsonElement> QuoteAsync(object cart, params string[] coupons)
    {
        var body = JsonSerializer.SerializeToNode(cart, JsonSerializerOptions.Web)!.AsObject();
        body["couponCodes"] = new JsonArray(coupons.Select(c => (JsonNode)c).ToArray());
        using var response = await Client.PostAsJsonAsync("/api/v1/pricing/quote", body);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
