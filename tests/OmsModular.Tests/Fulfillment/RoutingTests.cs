using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Messaging;
using OmsModular.Tests.Orders;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Fulfillment;

/// <summary>
/// Routing end to end through the Host: an order is captured over HTTP, Fulfillment plans it from
/// Inventory's availability, reserves at the chosen node(s) and records its decision.
/// Each test owns its nodes and SKUs.
/// </summary>
[Collection(HostCollection.Name)]
public sealed class RoutingTests(HostFixture host)
{
    // Berlin (the customer), Potsdam (~27 km), Hamburg (~255 km), Munich (~505 km)
    private static readonly (double Lat, double Lon) Potsdam = (52.39, 13.06);
    private static readonly (double Lat, double Lon) Hamburg = (53.55, 9.99);
    private static readonly (double Lat, double Lon) Munich = (48.14, 11.58);

    private HttpClient Client => host.Client;

    [Fact]
    public async Task One_node_holding_every_line_nearest_to_the_customer_is_chosen_and_explained()
    {
        var (near, far) = (Unique("WH-POTSDAM"), Unique("WH-MUNICH"));
        await NodeAsync(near, Potsdam, priority: 5);
        await NodeAsync(far, Munich, priority: 1);
        var (a, b) = (Unique("SKU"), Unique("SKU"));
        foreach (var node in new[] { near, far })
        {
            await StockAsync(a, node, 10);
            await StockAsync(b, node, 10);
        }

        var decision = await RouteAsync((a, 2), (b, 1));
        Assert.True(decision.GetProperty("success").GetBoolean());
        Assert.Equal("single-node", decision.GetProperty("strategy").GetString());
        var allocation = Assert.Single(decision.GetProperty("explanation").GetProperty("allocations").EnumerateArray());
        Assert.Equal(near, allocation.GetProperty("node").GetString());
        var candidates = decision.GetProperty("explanation").GetProperty("candidates").EnumerateArray().ToDictionary(c => c.GetProperty("node").GetString()!);
        Assert.True(candidates[near].GetProperty("chosen").GetBoolean());
        Assert.False(candidates[far].GetProperty("chosen").GetBoolean());
        Assert.InRange(candidates[near].GetProperty("distanceKm").GetDouble(), 20, 35);
        Assert.Equal(2, await ReservedAsync(a, near));
        Assert.Equal(0, await ReservedAsync(a, far));
    }

    [Fact]
    public async Task An_order_no_single_node_can_fill_is_split_over_the_fewest_nodes()
    {
        var (north, south, extra) = (Unique("WH-HAMBURG"), Unique("WH-MUNICH"), Unique("WH-POTSDAM"));
        await NodeAsync(north, Hamburg);
        await NodeAsync(south, Munich);
        await NodeAsync(extra, Potsdam);
        var (a, b) = (Unique("SKU"), Unique("SKU"));
        await StockAsync(a, north, 5);
        await StockAsync(b, south, 5);
        await StockAsync(a, extra, 1); // nearer, but cannot make a two-node plan alone with either

        var decision = await RouteAsync((a, 3), (b, 2));
        Assert.Equal("split-exact", decision.GetProperty("strategy").GetString());
        var nodes = decision.GetProperty("explanation").GetProperty("allocations").EnumerateArray().Select(x => x.GetProperty("node").GetString()).Order().ToArray();
        Assert.Equal(new[] { north, south }.Order(), nodes);
        Assert.Equal(3, await ReservedAsync(a, north));
        Assert.Equal(2, await ReservedAsync(b, south));
    }

    [Fact]
    public async Task A_pickup_order_needs_every_line_at_the_named_store()
    {
        var store = Unique("STORE-BERLIN");
        await NodeAsync(store, Potsdam, canShip: false, canPickup: true);
        var (a, b) = (Unique("SKU"), Unique("SKU"));
        await StockAsync(a, store, 3);
        await StockAsync(b, store, 1);

        var picked = await RouteAsync([(a, 2), (b, 1)], order => order["delivery"] = new JsonObject { ["method"] = "pickup", ["pickupLocation"] = store });
        Assert.Equal("pickup", picked.GetProperty("strategy").GetString());
        Assert.Equal(2, await ReservedAsync(a, store));

        var refused = await RouteAsync([(a, 1), (b, 1)], order => order["delivery"] = new JsonObject { ["method"] = "pickup", ["pickupLocation"] = store });
        Assert.False(refused.GetProperty("success").GetBoolean());
        Assert.Equal("pickup-location-short", refused.GetProperty("failureReason").GetString());

        var full = Unique("STORE-FULL");
        await NodeAsync(full, Potsdam, canShip: false, canPickup: true, capacity: 1);
        await StockAsync(a, full, 5);
        await RouteAsync([(a, 1)], order => order["delivery"] = new JsonObject { ["method"] = "pickup", ["pickupLocation"] = full });
        var atCapacity = await RouteAsync([(a, 1)], order => order["delivery"] = new JsonObject { ["method"] = "pickup", ["pickupLocation"] = full });
        Assert.Equal("pickup-location-unavailable", atCapacity.GetProperty("failureReason").GetString()); // says why, not "no such store"
    }

    [Fact]
    public async Task No_stock_anywhere_fails_routing_as_out_of_stock()
    {
        var node = Unique("WH-POTSDAM");
        await NodeAsync(node, Potsdam);
        var sku = Unique("SKU");
        await StockAsync(sku, node, 1);
        var decision = await RouteAsync((sku, 2));
        Assert.False(decision.GetProperty("success").GetBoolean());
        Assert.Equal("out-of-stock", decision.GetProperty("failureReason").GetString());
        Assert.Contains($"{sku}: 1 of 2", decision.GetProperty("explanation").GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_at_daily_capacity_is_skipped()
    {
        var (near, far) = (Unique("WH-POTSDAM"), Unique("WH-HAMBURG"));
        await NodeAsync(near, Potsdam, capacity: 1);
        await NodeAsync(far, Hamburg);
        var sku = Unique("SKU");
        await StockAsync(sku, near, 10);
        await StockAsync(sku, far, 10);

        var first = await RouteAsync((sku, 1));
        Assert.Equal(near, first.GetProperty("explanation").GetProperty("allocations")[0].GetProperty("node").GetString());
        var second = await RouteAsync((sku, 1));
        Assert.Equal(far, second.GetProperty("explanation").GetProperty("allocations")[0].GetProperty("node").GetString());
        var ruledOut = second.GetProperty("explanation").GetProperty("candidates").EnumerateArray().Single(c => c.GetProperty("node").GetString() == near);
        Assert.Equal("at daily capacity", ruledOut.GetProperty("ruledOut").GetString());
    }

    [Fact]
    public async Task Nodes_are_validated()
    {
        using var response = await Client.PutAsJsonAsync($"/api/v1/fulfillment/nodes/{Unique("WH")}", new { name = "", kind = "warehouse", countryCode = "ZZ", latitude = 91, longitude = 0, canShip = false, canPickup = false });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        foreach (var field in new[] { "name", "countryCode", "latitude", "canShip" })
        {
            Assert.True(errors.TryGetProperty(field, out _), $"no error for {field}: {errors}");
        }
    }

    private Task<JsonElement> RouteAsync(params (string Sku, int Quantity)[] lines) => RouteAsync(lines, _ => { });

    private async Task<JsonElement> RouteAsync((string Sku, int Quantity)[] lines, Action<JsonObject> change)
    {
        var order = OrderCaptureTests.WebOrder("cust-" + Guid.NewGuid().ToString("N")[..8], lines);
        change(order);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/orders")
        {
            Content = new StringContent(order.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
            Headers = { { "Idempotency-Key", Guid.NewGuid().ToString() } },
        };
        using var accepted = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var orderId = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid();
        JsonElement decision = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            var decisions = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/routing-decisions?orderId={orderId}");
            if (decisions.GetArrayLength() == 0)
            {
                return false;
            }

            decision = decisions[0];
            return true;
        });
        return decision;
    }

    private async Task NodeAsync(string code, (double Lat, double Lon) at, int priority = 10, bool canShip = true, bool canPickup = false, int capacity = 0)
    {
        using var response = await Client.PutAsJsonAsync($"/api/v1/fulfillment/nodes/{code}", new
        {
            name = code,
            kind = canShip ? "warehouse" : "store",
            countryCode = "DE",
            latitude = at.Lat,
            longitude = at.Lon,
            canShip,
            canPickup,
            dailyCapacity = capacity,
            priority,
        });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private Task StockAsync(string sku, string node, int onHand) => Catalog.StockAsync(Client, sku, node, onHand);

    private Task<int> ReservedAsync(string sku, string node) => Catalog.ReservedAsync(Client, sku, node);
}
