using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using OmsModular.Testing;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Messaging;
using OmsModular.Tests.Orders;
using OmsModular.Tests.Payments;
using static OmsModular.Tests.Fulfillment.Shipping;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Fulfillment;

/// <summary>Pickup at a store: ready for pickup, picked up (captured, delivered), or expired (stock back, lines and order cancelled).</summary>
[Collection(HostCollection.Name)]
public sealed class PickupTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task A_pickup_order_picked_up_at_the_store_is_captured_and_delivered()
    {
        var email = $"pickup-{Guid.NewGuid():N}@example.com";
        var (order, store, sku) = await ConfirmedPickupAsync(email);
        var id = order.GetProperty("id").GetGuid();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        using (var shipped = await ShipRequestAsync(Client, fulfilmentId, "ship-a-pickup", new { carrier = "dhl", service = "parcel", trackingNumber = "P1" }))
        {
            await Problem.AssertAsync(shipped, System.Net.HttpStatusCode.Conflict, "urn:oms:problem:pickup-order"); // the customer collects it
        }

        var ready = await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/ready-for-pickup");
        Assert.Equal("ready-for-pickup", ready.GetProperty("status").GetString());
        var picked = await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/picked-up");
        Assert.Equal("picked-up", picked.GetProperty("status").GetString());
        var again = await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/picked-up"); // a repeat answers the same
        Assert.Single(again.GetProperty("shipments").EnumerateArray());

        await OrderInStateAsync(Client, id, "delivered");
        await CapturedAsync(Client, id, order.GetProperty("total").GetDecimal());
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, sku, store)) == (3, 0));
        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Smtp.To(email).Count == 2)); // confirmed, delivered: no "on its way" for a pickup
        await NotificationsDrainedAsync(Client, host.ConnectionString); // nothing more is to arrive
        Assert.DoesNotContain(host.Smtp.To(email), m => m.Subject?.Contains("unterwegs", StringComparison.Ordinal) == true);
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_pickup_order_not_picked_up_in_time_gives_its_stock_back_and_is_cancelled_with_its_authorisation_voided()
    {
        var (order, store, sku) = await ConfirmedPickupAsync();
        var id = order.GetProperty("id").GetGuid();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/ready-for-pickup");
        Assert.Equal((5, 2), await StockAsync(Client, sku, store));

        var cancelled = await OrderInStateAsync(Client, id, "cancelled"); // the three seconds of the tests' pickup time
        Assert.Equal("pickup-expired", cancelled.GetProperty("statusReason").GetString());
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("status").GetString() == "voided");
        Assert.False(Sandbox.Holds(host.Services, id));
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, sku, store)) == (5, 0)); // back to the store's stock
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}")).GetProperty("status").GetString() == "cancelled");
        using var late = await Client.PostAsync($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/picked-up", null);
        await Problem.AssertAsync(late, System.Net.HttpStatusCode.Conflict, "urn:oms:problem:illegal-transition");
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    /// <summary>A confirmed pickup order of two units at a new store (5 on hand).</summary>
    private async Task<(JsonElement Order, string Store, string Sku)> ConfirmedPickupAsync(string? email = null)
    {
        var store = Unique("STORE");
        await Catalog.PutAsync(Client, $"/api/v1/fulfillment/nodes/{store}", new
        {
            name = store, kind = "store", countryCode = "DE", latitude = 52.52, longitude = 13.40, canShip = false, canPickup = true, dailyCapacity = 0, priority = 1,
        });
        var sku = Unique("SKU");
        await Catalog.StockAsync(Client, sku, store, 5, price: 8.88m);
        var placed = OrderCaptureTests.WebOrder("cust-" + Guid.NewGuid().ToString("N")[..8], (sku, 2));
        placed["delivery"] = new JsonObject { ["method"] = "pickup", ["pickupLocation"] = store };
        placed["customer"]!["email"] = email ?? $"pickup-{Guid.NewGuid():N}@example.com";
        var order = await Pipeline.PlaceAndSettleAsync(Client, placed);
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        return (order, store, sku);
    }
}
