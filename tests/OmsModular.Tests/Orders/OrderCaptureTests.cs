using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using OmsModular.Tests.HostTests;

namespace OmsModular.Tests.Orders;

/// <summary>Order capture through the Host over HTTP: validation, idempotency, reads, cancellation.</summary>
[Collection(HostCollection.Name)]
public sealed class OrderCaptureTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    internal static JsonObject WebOrder(string customerId, params (string Sku, int Quantity)[] lines) => new()
    {
        ["channel"] = "web",
        ["customer"] = new JsonObject { ["id"] = customerId, ["email"] = "ada@example.com", ["name"] = "Ada Lovelace" },
        ["currency"] = "EUR",
        ["lines"] = new JsonArray(lines.Select(l => (JsonNode)new JsonObject { ["sku"] = l.Sku, ["quantity"] = l.Quantity }).ToArray()),
        ["shippingAddress"] = new JsonObject
        {
            ["name"] = "Ada Lovelace",
            ["lines"] = new JsonArray("Unter den Linden 1"),
            ["city"] = "Berlin",
            ["postalCode"] = "10117",
            ["countryCode"] = "DE",
            ["latitude"] = 52.517,
            ["longitude"] = 13.389,
        },
        ["delivery"] = new JsonObject { ["method"] = "ship", ["serviceLevel"] = "standard" },
        ["couponCodes"] = new JsonArray(),
        ["payment"] = new JsonObject { ["method"] = "card", ["token"] = "sandbox-approve" },
    };

    private static string NewCustomer() => "cust-" + Guid.NewGuid().ToString("N")[..12];

    private Task<HttpResponseMessage> PlaceAsync(JsonNode order, string? key) =>
        Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/api/v1/orders")
        {
            Content = new StringContent(order.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
            Headers = { { "Idempotency-Key", key is null ? [] : [key] } },
        });

    [Fact]
    public async Task A_captured_order_is_accepted_at_once_and_readable_with_its_timeline()
    {
        var customer = NewCustomer();
        using var response = await PlaceAsync(WebOrder(customer, ("SKU-1", 2), ("SKU-2", 1)), Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = accepted.GetProperty("orderId").GetGuid();
        Assert.Equal($"/api/v1/orders/{id}", response.Headers.Location!.ToString());
        Assert.Equal("pending", accepted.GetProperty("status").GetString());
        Assert.StartsWith("O-", accepted.GetProperty("orderNumber").GetString(), StringComparison.Ordinal);

        var order = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
        Assert.Equal("web", order.GetProperty("channel").GetString());
        Assert.Equal(["SKU-1", "SKU-2"], order.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("sku").GetString()));
        Assert.Equal("placed", order.GetProperty("timeline")[0].GetProperty("event").GetString());
        Assert.False(order.TryGetProperty("paymentToken", out _)); // the token is not shown back
        Assert.Equal(1, await OutboxCountAsync("orders.order-placed.v1", id));
    }

    [Fact]
    public async Task The_same_key_and_body_return_the_first_answer_and_another_body_is_refused()
    {
        var key = Guid.NewGuid().ToString();
        var order = WebOrder(NewCustomer(), ("SKU-1", 1));
        using var first = await PlaceAsync(order, key);
        using var again = await PlaceAsync(order, key);
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal(
            (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid(),
            (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid());

        order["lines"]![0]!["quantity"] = 5;
        using var different = await PlaceAsync(order, key);
        var problem = await Problem.AssertAsync(different, HttpStatusCode.UnprocessableEntity, "urn:oms:problem:idempotency-key-reused");
        Assert.True(problem.GetProperty("errors").TryGetProperty("Idempotency-Key", out _));

        using var missing = await PlaceAsync(order, key: null);
        problem = await Problem.AssertAsync(missing, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("Idempotency-Key", out _));
    }

    [Fact]
    public async Task Concurrent_duplicates_create_exactly_one_order()
    {
        var customer = NewCustomer();
        var key = Guid.NewGuid().ToString();
        var order = WebOrder(customer, ("SKU-1", 1));
        var ids = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var response = await PlaceAsync(order, key);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid();
        }));
        Assert.Single(ids.Distinct());
        var page = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders?customerId={customer}");
        Assert.Equal(1, page.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Structural_problems_are_refused_with_the_field_and_the_reason()
    {
        var cases = new (Action<JsonObject> Break, string Field)[]
        {
            (o => o["lines"] = new JsonArray(), "lines"),
            (o => o["lines"]![0]!["quantity"] = 0, "lines[0].quantity"),
            (o => o["lines"]![0]!["quantity"] = 1_000_000, "lines[0].quantity"),
            (o => o["lines"] = new JsonArray(new JsonObject { ["sku"] = "A", ["quantity"] = 1 }, new JsonObject { ["sku"] = "A", ["quantity"] = 2 }), "lines"),
            (o => o["currency"] = "EURO", "currency"),
            (o => o["shippingAddress"]!["countryCode"] = "XX", "shippingAddress.countryCode"),
            (o => o["customer"]!["email"] = "not-an-email", "customer.email"),
            (o => o["payment"]!["token"] = "4111 1111 1111 1111", "payment.token"),
            (o => o["channel"] = "carrier-pigeon", "channel"),
            (o => o["channel"] = "marketplace", "externalOrderId"),
            (o => o["lines"]![0]!["unitPrice"] = 9.99, "lines[0]"),
            (o => o["delivery"] = new JsonObject { ["method"] = "pickup" }, "delivery.pickupLocation"),
        };
        foreach (var (breakIt, field) in cases)
        {
            var order = WebOrder(NewCustomer(), ("SKU-1", 1));
            breakIt(order);
            using var response = await PlaceAsync(order, Guid.NewGuid().ToString());
            var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"expected an error for {field}: {problem}");
        }
    }

    [Fact]
    public async Task An_oversized_payload_is_refused()
    {
        var order = WebOrder(NewCustomer(), ("SKU-1", 1));
        order["shippingAddress"]!["name"] = new string('x', 300 * 1024);
        using var response = await PlaceAsync(order, Guid.NewGuid().ToString());
        await Problem.AssertAsync(response, HttpStatusCode.RequestEntityTooLarge, "urn:oms:problem:payload-too-large");
    }

    [Fact]
    public async Task A_marketplace_order_is_captured_once_per_marketplace_and_external_id()
    {
        var external = "AMZ-" + Guid.NewGuid().ToString("N")[..10];
        JsonObject Marketplace()
        {
            var order = WebOrder(NewCustomer(), ("SKU-1", 1));
            order["channel"] = "marketplace";
            order["marketplace"] = "amazon-de";
            order["externalOrderId"] = external;
            order["lines"]![0]!["unitPrice"] = 19.99;
            return order;
        }

        using var first = await PlaceAsync(Marketplace(), Guid.NewGuid().ToString());
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        var id = (await first.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid();
        var order = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
        Assert.Equal(19.99m, order.GetProperty("lines")[0].GetProperty("marketplaceUnitPrice").GetDecimal());

        using var second = await PlaceAsync(Marketplace(), Guid.NewGuid().ToString());
        await Problem.AssertAsync(second, HttpStatusCode.Conflict, "urn:oms:problem:duplicate-external-order");
    }

    [Fact]
    public async Task Concurrent_captures_committed_together_each_get_their_own_answer()
    {
        // Many captures at once are committed in groups; a group holding a repeated key or a
        // duplicate marketplace order falls back to one by one. Every request must still get the
        // answer it would get alone.
        var external = "EBAY-" + Guid.NewGuid().ToString("N")[..10];
        var repeatedKey = Guid.NewGuid().ToString();
        var requests = Enumerable.Range(0, 40).Select(i =>
        {
            var order = WebOrder(NewCustomer(), ("SKU-1", 1 + (i % 3)));
            if (i is 7 or 23)
            {
                order["channel"] = "marketplace";
                order["marketplace"] = "ebay-de";
                order["externalOrderId"] = external;
            }

            return (Order: order, Key: i is 11 or 12 ? repeatedKey : Guid.NewGuid().ToString());
        }).ToArray();
        requests[12].Order = requests[11].Order; // the same body under the same key: a retry

        var responses = await Task.WhenAll(requests.Select(async r =>
        {
            using var response = await PlaceAsync(r.Order, r.Key);
            return (response.StatusCode, Body: await response.Content.ReadFromJsonAsync<JsonElement>());
        }));

        var accepted = responses.Where(r => r.StatusCode == HttpStatusCode.Accepted).ToArray();
        Assert.Equal(39, accepted.Length); // one of the two marketplace duplicates is refused
        var refused = Assert.Single(responses, r => r.StatusCode != HttpStatusCode.Accepted);
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Equal("urn:oms:problem:duplicate-external-order", refused.Body.GetProperty("type").GetString());
        Assert.Equal(responses[11].Body.GetProperty("orderId").GetGuid(), responses[12].Body.GetProperty("orderId").GetGuid());
        var ids = accepted.Select(r => r.Body.GetProperty("orderId").GetGuid()).Distinct().ToArray();
        Assert.Equal(38, ids.Length); // the retry answered with the first order
        var numbers = accepted.Select(r => r.Body.GetProperty("orderNumber").GetString()).Distinct().Count();
        Assert.Equal(38, numbers);
        foreach (var id in ids)
        {
            var order = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
            Assert.Equal("placed", order.GetProperty("timeline")[0].GetProperty("event").GetString());
        }
    }

    [Fact]
    public async Task Orders_are_listed_newest_first_with_filters_and_cursor_pages()
    {
        var customer = NewCustomer();
        var placed = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await PlaceAsync(WebOrder(customer, ("SKU-1", i + 1)), Guid.NewGuid().ToString());
            placed.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid());
        }

        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders?customerId={customer}&channel=web&limit=2{(cursor is null ? "" : $"&cursor={cursor}")}");
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(o => o.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("nextCursor").ValueKind == JsonValueKind.Null ? null : page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(Enumerable.Reverse(placed), seen);
        var none = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders?customerId={customer}&status=confirmed"); // SKU-1 has no stock
        Assert.Equal(0, none.GetProperty("items").GetArrayLength());
        using var bad = await Client.GetAsync("/api/v1/orders?limit=0");
        await Problem.AssertAsync(bad, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
    }

    [Fact]
    public async Task An_order_on_hold_can_be_cancelled_once_and_its_stock_is_released()
    {
        var (node, sku) = ($"WH-{Guid.NewGuid().ToString("N")[..8]}", $"SKU-{Guid.NewGuid().ToString("N")[..8]}");
        using (var put = await Client.PutAsJsonAsync($"/api/v1/fulfillment/nodes/{node}", new { name = node, kind = "warehouse", countryCode = "DE", latitude = 52.5, longitude = 13.4, canShip = true, canPickup = false, dailyCapacity = 0, priority = 1 }))
        {
            put.EnsureSuccessStatusCode();
        }

        await Catalog.StockAsync(Client, sku, node, 2);
        var placed = WebOrder(NewCustomer(), (sku, 1));
        placed["shippingAddress"]!["countryCode"] = "IS"; // a review country: the order waits on hold
        using var response = await PlaceAsync(placed, Guid.NewGuid().ToString());
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid();
        await Messaging.MessagingHarness.WaitUntilAsync(async () =>
            (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("status").GetString() == "on-hold");

        using var cancel = await Client.PostAsJsonAsync($"/api/v1/orders/{id}/cancel", new { reason = "customer-request" });
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        var cancelled = await cancel.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("cancelled", cancelled.GetProperty("status").GetString());
        Assert.Equal("customer-request", cancelled.GetProperty("statusReason").GetString());
        Assert.Equal("on-hold -> cancelled", cancelled.GetProperty("timeline").EnumerateArray().Last().GetProperty("event").GetString());
        Assert.Equal(1, await OutboxCountAsync("orders.order-cancelled.v1", id));
        await Messaging.MessagingHarness.WaitUntilAsync(async () =>
            (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{sku}")).GetProperty("reserved").GetInt32() == 0); // released on the committed cancellation

        using var again = await Client.PostAsJsonAsync($"/api/v1/orders/{id}/cancel", new { reason = "customer-request" });
        await Problem.AssertAsync(again, HttpStatusCode.Conflict, "urn:oms:problem:illegal-transition");
        using var release = await Client.PostAsync($"/api/v1/orders/{id}/release", null);
        await Problem.AssertAsync(release, HttpStatusCode.Conflict, "urn:oms:problem:illegal-transition");
        using var unknown = await Client.PostAsJsonAsync($"/api/v1/orders/{Guid.NewGuid()}/cancel", new { reason = "x" });
        await Problem.AssertAsync(unknown, HttpStatusCode.NotFound, "urn:oms:problem:not-found");
    }

    private async Task<long> OutboxCountAsync(string type, Guid orderId)
    {
        await using var connection = new NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM orders.outbox_messages WHERE message_type = $1 AND partition_key = $2", connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = type });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = orderId.ToString() });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
