using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OmsModular.Tests.Orders;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.HostTests;

/// <summary>Bad input of every kind the fuzzing found answers 400 problem details naming the field, never a 500.</summary>
[Collection(HostCollection.Name)]
public sealed class BadInputTests(HostFixture host)
{
    private static JsonObject Order() => OrderCaptureTests.WebOrder("c-bad-input", ("SKU-1", 1));

    private static JsonObject With(JsonObject body, Action<JsonObject> change)
    {
        change(body);
        return body;
    }

    public static TheoryData<string, string, string, string> Cases() => new()
    {
        // method, url, body, the field the error names
        { "POST", "/api/v1/orders", With(Order(), o => o["customer"]!["name"] = "Ada\u0000") .ToJsonString(), "customer.name" },
        { "POST", "/api/v1/orders", With(Order(), o => o["shippingAddress"]!["lines"] = new JsonArray("Street\u00001")).ToJsonString(), "shippingAddress.lines[0]" },
        { "POST", "/api/v1/orders", With(Order(), o => o["payment"]!["token"] = "tok\u0007").ToJsonString(), "payment.token" },
        { "POST", "/api/v1/orders", With(Order(), o => o["lines"] = JsonNode.Parse("[null]")).ToJsonString(), "lines[0]" },
        { "POST", "/api/v1/orders", With(Order(), o => o["couponCodes"] = JsonNode.Parse("[\"A\", null]")).ToJsonString(), "couponCodes[1]" },
        { "POST", "/api/v1/orders", With(Order(), o => o["shippingAddress"] = new JsonObject()).ToJsonString(), "shippingAddress.name" },
        { "POST", "/api/v1/orders", With(Order(), o => o["shippingAddress"]!.AsObject().Remove("lines")).ToJsonString(), "shippingAddress.lines" },
        { "POST", "/api/v1/orders", With(Order(), o => o["channel"] = 99).ToJsonString(), "channel" },
        { "POST", "/api/v1/orders", With(Order(), o => o["channel"] = "telepathy").ToJsonString(), "channel" },
        { "POST", "/api/v1/orders", With(Order(), o => o["lines"]![0]!["quantity"] = "2").ToJsonString(), "lines[0].quantity" },
        { "POST", "/api/v1/orders", With(Order(), o => o["lines"]![0]!.AsObject().Remove("quantity")).ToJsonString(), "lines[0].quantity" },
        { "POST", "/api/v1/orders", With(Order(), o => o["surprise"] = true).ToJsonString(), "surprise" },
        { "POST", "/api/v1/orders", With(Order(), o => { o["channel"] = "marketplace"; o["marketplace"] = "m"; o["externalOrderId"] = "x"; o["lines"]![0]!["unitPrice"] = 1e28; }).ToJsonString(), "lines[0].unitPrice" },
        { "PUT", "/api/v1/pricing/tax-rates/CH", "{}", "rate" },
        { "PUT", "/api/v1/pricing/tax-rates/CH", "{\"rate\":\"0.19\"}", "rate" },
        { "PUT", "/api/v1/pricing/price-lists/BAD", "{\"currency\":\"EUR\",\"prices\":[{\"sku\":\"A\",\"minQuantity\":1,\"unitPrice\":1e28}]}", "prices[0].unitPrice" },
        { "PUT", "/api/v1/pricing/price-lists/BAD", "{\"currency\":\"EUR\",\"prices\":[null]}", "prices[0]" },
        { "PUT", "/api/v1/pricing/price-lists/BAD", "{\"currency\":\"EUR\",\"prices\":[{\"sku\":\"A\\u0000\",\"minQuantity\":1,\"unitPrice\":1}]}", "prices[0].sku" },
        { "PUT", "/api/v1/pricing/price-lists/BAD", "{\"currency\":\"EUR\",\"prices\":[{\"sku\":null,\"minQuantity\":1,\"unitPrice\":1}]}", "prices[0].sku" },
        { "POST", "/api/v1/pricing/quote", "{\"channel\":\"web\",\"currency\":\"EUR\",\"lines\":[{\"sku\":\"A\\u0000\",\"quantity\":1}],\"countryCode\":\"DE\",\"deliveryMethod\":\"ship\",\"serviceLevel\":\"standard\"}", "lines[0].sku" },
        { "POST", "/api/v1/pricing/quote", "{\"channel\":\"web\",\"currency\":\"EUR\",\"lines\":[null],\"countryCode\":\"DE\",\"deliveryMethod\":\"ship\"}", "lines[0]" },
        { "POST", "/api/v1/pricing/quote", "{\"channel\":\"web\",\"currency\":\"EUR\",\"lines\":[{\"sku\":\"A\",\"quantity\":1}],\"countryCode\":\"DE\",\"deliveryMethod\":\"ship\",\"couponCodes\":[null]}", "couponCodes[0]" },
        { "PUT", "/api/v1/pricing/promotions/BAD", "{\"name\":\"x\\u0000\",\"kind\":\"order-percentage\",\"value\":10,\"priority\":1,\"exclusive\":false,\"requiresCoupon\":false}", "name" },
        { "PUT", "/api/v1/pricing/coupons/BAD", "{\"promotion\":\"\\u0000\"}", "promotion" },
        { "PUT", "/api/v1/inventory/stock/SKU-1/WH-1", "{}", "onHand" },
        { "PUT", "/api/v1/inventory/stock/SKU-1/WH-1", "{\"onHand\":\"5\"}", "onHand" },
        { "POST", "/api/v1/inventory/stock/SKU-1/WH-1/adjustments", "{\"delta\":1,\"reason\":\"receipt\\u0000\"}", "reason" },
        { "POST", "/api/v1/inventory/stock/batch", "{\"items\":[null]}", "items[0]" },
        { "POST", "/api/v1/inventory/reservations", $"{{\"orderId\":\"{Guid.NewGuid()}\",\"location\":\"WH-1\",\"lines\":[null]}}", "lines[0]" },
        { "PUT", "/api/v1/fulfillment/nodes/BAD", "{\"name\":\"N\\u0000\",\"kind\":\"warehouse\",\"countryCode\":\"DE\",\"latitude\":1,\"longitude\":1,\"canShip\":true,\"canPickup\":false,\"dailyCapacity\":0,\"priority\":1}", "name" },
        { "PUT", "/api/v1/fulfillment/nodes/BAD", "{\"name\":\"N\",\"kind\":\"warehouse\",\"countryCode\":\"DE\",\"latitude\":1,\"longitude\":1,\"canPickup\":true}", "canShip" },
        { "GET", "/api/v1/orders?customerId=%00", string.Empty, "customerId" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Bad_input_is_a_400_naming_the_field(string method, string url, string body, string field)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        if (method != "GET")
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        using var response = await host.Client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        var errors = problem.GetProperty("errors");
        Assert.True(errors.TryGetProperty(field, out _), $"expected an error for '{field}': {text}");
        Assert.DoesNotContain("OmsModular.", text, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("payment", "method", "bitcoin", "urn:oms:problem:unsupported-payment-method", "payment.method")]
    [InlineData("delivery", "serviceLevel", "teleport", "urn:oms:problem:unknown-service-level", "delivery.serviceLevel")]
    public async Task An_order_naming_what_another_module_does_not_have_is_refused_at_capture(string part, string field, string value, string type, string named)
    {
        using (var rate = await host.Client.PutAsJsonAsync("/api/v1/pricing/shipping-rates/standard/EUR", new { amount = 4.90m }))
        {
            rate.EnsureSuccessStatusCode();
        }

        var order = Order();
        order["customer"]!["id"] = Unique("c");
        order[part]![field] = value;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/orders")
        {
            Content = new StringContent(order.ToJsonString(), Encoding.UTF8, "application/json"),
            Headers = { { "Idempotency-Key", Guid.NewGuid().ToString() } },
        };
        using var response = await host.Client.SendAsync(request);
        var problem = await Problem.AssertAsync(response, (HttpStatusCode)422, type);
        Assert.True(problem.GetProperty("errors").TryGetProperty(named, out _));
        var listed = await host.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders?customerId={order["customer"]!["id"]}");
        Assert.Empty(listed.GetProperty("items").EnumerateArray()); // nothing captured
    }

    [Fact]
    public async Task An_empty_body_is_a_problem_in_the_apis_words()
    {
        using var response = await host.Client.PutAsync("/api/v1/pricing/tax-rates/CH", new StringContent(string.Empty, Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("Service", text, StringComparison.Ordinal);
        Assert.DoesNotContain("Implicit body", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Refused_input_writes_nothing()
    {
        var code = Unique("NUL");
        using var response = await host.Client.PutAsync($"/api/v1/pricing/price-lists/{code}",
            new StringContent("{\"currency\":\"EUR\",\"prices\":[{\"sku\":\"A\",\"minQuantity\":1,\"unitPrice\":1},{\"sku\":\"B\\u0000\",\"minQuantity\":1,\"unitPrice\":1}]}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var changes = await host.Client.GetFromJsonAsync<JsonElement>($"/api/v1/pricing/changes?kind=price-list&key={code}");
        Assert.Empty(changes.EnumerateArray());
    }
}
