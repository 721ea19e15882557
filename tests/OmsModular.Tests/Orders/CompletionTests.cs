using System.Net.Http.Json;
using System.Text.Json;
using OmsModular.Testing;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Messaging;
using static OmsModular.Tests.Fulfillment.Shipping;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Orders;

/// <summary>A delivered order is completed once its channel's return window has closed (the fixture gives app orders two seconds, the others 30 days).</summary>
[Collection(HostCollection.Name)]
public sealed class CompletionTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task A_delivered_order_is_completed_when_its_return_window_closes_and_one_of_another_channel_waits()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 5, price: 5.55m);
        var app = OrderCaptureTests.WebOrder("cust-complete", (sku, 1));
        app["channel"] = "app";
        var appOrder = await Pipeline.PlaceAndSettleAsync(Client, app);
        var webOrder = await Pipeline.PlaceAndSettleAsync(Client, OrderCaptureTests.WebOrder("cust-complete", (sku, 1)));
        foreach (var order in new[] { webOrder, appOrder }) // the web order is delivered first: the app order's completion runs after a two-second window would have closed for it too
        {
            var id = order.GetProperty("id").GetGuid();
            var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
            await PickAndPackAsync(Client, fulfilmentId);
            var shipment = await ShipAsync(Client, fulfilmentId);
            await PostAsync(Client, $"/api/v1/fulfillment/shipments/{shipment.GetProperty("id").GetGuid()}/deliver");
            await OrderInStateAsync(Client, id, "delivered");
        }

        var appId = appOrder.GetProperty("id").GetGuid();
        var completed = await OrderInStateAsync(Client, appId, "completed");
        Assert.Contains(completed.GetProperty("timeline").EnumerateArray(), t => t.GetProperty("event").GetString() == "delivered -> completed");
        Assert.Equal("delivered", (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{webOrder.GetProperty("id").GetGuid()}")).GetProperty("status").GetString());
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [appId, webOrder.GetProperty("id").GetGuid()]);
    }
}
