using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OmsModular.Testing;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Infrastructure;
using OmsModular.Tests.Messaging;
using OmsModular.Tests.Orders;
using OmsModular.Tests.Payments;
using static OmsModular.Tests.Fulfillment.Shipping;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Fulfillment;

/// <summary>After confirmation, through the Host: pick, pack, ship (partly or in full), deliver; stock taken out, captures per shipment.</summary>
[Collection(HostCollection.Name)]
public sealed class ShippingTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task A_single_node_order_ships_in_one_shipment_is_captured_in_full_and_delivered()
    {
        var (node, a, b) = (await Pipeline.NodeAsync(Client), Unique("SKU"), Unique("SKU"));
        await Catalog.StockAsync(Client, a, node, 5, price: 10.00m);
        await Catalog.StockAsync(Client, b, node, 5, price: 2.50m);
        var order = await Pipeline.PlaceAndSettleAsync(Client, OrderCaptureTests.WebOrder("cust-ship", (a, 2), (b, 1)));
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());

        var fulfilment = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1));
        var fulfilmentId = fulfilment.GetProperty("id").GetGuid();
        var queue = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/fulfilment-orders?node={node}&status=ready-to-pick");
        Assert.Contains(fulfilmentId, queue.EnumerateArray().Select(f => f.GetProperty("id").GetGuid()));
        var picking = await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/start-picking");
        Assert.Equal("picking", picking.GetProperty("status").GetString());
        var picked = await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/picks", new { lines = new[] { new { sku = a, picked = 2 }, new { sku = b, picked = 1 } } });
        Assert.Equal([2, 1], picked.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("picked").GetInt32()));
        var packed = await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/pack", new { parcels = 1, weightKg = 0.8m });
        Assert.Equal("packed", packed.GetProperty("status").GetString());

        var body = new { carrier = "dhl", service = "parcel", trackingNumber = Unique("TRK"), trackingUrl = "https://track.example/1" };
        var key = Guid.NewGuid().ToString();
        using var created = await ShipRequestAsync(Client, fulfilmentId, key, body);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var shipment = await created.Content.ReadFromJsonAsync<JsonElement>();
        using var repeated = await ShipRequestAsync(Client, fulfilmentId, key, body);
        Assert.Equal(HttpStatusCode.OK, repeated.StatusCode); // the same shipment, nothing shipped twice
        Assert.Equal(shipment.GetProperty("id").GetGuid(), (await repeated.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());

        var shipped = await OrderInStateAsync(Client, id, "shipped");
        Assert.Equal([(2, 2), (1, 1)], shipped.GetProperty("lines").EnumerateArray().Select(l => (l.GetProperty("quantities").GetProperty("ordered").GetInt32(), l.GetProperty("quantities").GetProperty("shipped").GetInt32())));
        Assert.Equal(total, Assert.Single(shipped.GetProperty("shipments").EnumerateArray()).GetProperty("captureAmount").GetDecimal());
        var ledger = await CapturedAsync(Client, id, total);
        Assert.Equal("captured", ledger.GetProperty("status").GetString());
        Assert.Single(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "capture");
        Assert.Equal(total, Sandbox.CapturedFor(host.Services, id));
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, a, node)) == (3, 0) && (await StockAsync(Client, b, node)) == (4, 0));
        var reservations = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/reservations?orderId={id}");
        Assert.Equal("shipped", Assert.Single(reservations.EnumerateArray()).GetProperty("status").GetString());

        // The carrier's tracking callback delivers it.
        var delivered = await PostAsync(Client, "/api/v1/fulfillment/carrier-events", new { carrier = "dhl", trackingNumber = body.trackingNumber, @event = "delivered" });
        Assert.Equal("delivered", delivered.GetProperty("status").GetString());
        var done = await OrderInStateAsync(Client, id, "delivered");
        Assert.Equal([2, 1], done.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("quantities").GetProperty("delivered").GetInt32()));
        var timeline = done.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("event").GetString()).ToArray();
        Assert.Contains("confirmed -> shipped", timeline);
        Assert.Contains("shipped -> delivered", timeline);
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("timeline").EnumerateArray().Any(t => t.GetProperty("event").GetString() == "payment captured"));
        Assert.Equal("delivered", (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}")).GetProperty("status").GetString());
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_split_order_shipped_in_three_shipments_by_two_nodes_captures_shares_that_add_up_to_the_total_exactly()
    {
        var (north, south) = (await Pipeline.NodeAsync(Client), await Pipeline.NodeAsync(Client));
        var (a, b) = (Unique("SKU"), Unique("SKU"));
        await Catalog.StockAsync(Client, a, north, 10, price: 3.33m); // only at north
        await Catalog.StockAsync(Client, b, south, 10, price: 9.99m); // only at south
        await Catalog.PutAsync(Client, $"/api/v1/pricing/promotions/{Unique("SEVEN-OFF")}", new { name = "7 % off", kind = "sku-percentage", value = 7m, skus = new[] { a }, priority = 10 });
        var order = await Pipeline.PlaceAndSettleAsync(Client, OrderCaptureTests.WebOrder("cust-split", (a, 3), (b, 1)));
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        var (id, total, shipping) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal(), order.GetProperty("shippingGross").GetDecimal());
        var lineA = order.GetProperty("lines").EnumerateArray().Single(l => l.GetProperty("sku").GetString() == a);
        Assert.True(lineA.GetProperty("discount").GetDecimal() > 0);

        var fulfilment = (await FulfilmentOrdersAsync(Client, id, 2)).ToDictionary(f => f.GetProperty("node").GetString()!, f => f.GetProperty("id").GetGuid());
        await PickAndPackAsync(Client, fulfilment[north]);
        await PickAndPackAsync(Client, fulfilment[south]);
        await ShipAsync(Client, fulfilment[north], (a, 1));
        var partly = await OrderInStateAsync(Client, id, "partially-shipped");
        var first = Assert.Single(partly.GetProperty("shipments").EnumerateArray()).GetProperty("captureAmount").GetDecimal();
        var grossA = lineA.GetProperty("gross").GetDecimal();
        Assert.Equal(shipping + Math.Round(grossA / 3, 2, MidpointRounding.AwayFromZero), first); // a third of line a's gross (after its discount), and the shipping charge
        await ShipAsync(Client, fulfilment[south]);
        await ShipAsync(Client, fulfilment[north]); // the two units of a still packed: the last shipment

        var shipped = await OrderInStateAsync(Client, id, "shipped");
        var shares = shipped.GetProperty("shipments").EnumerateArray().Select(s => s.GetProperty("captureAmount").GetDecimal()).ToArray();
        Assert.Equal(3, shares.Length);
        Assert.Equal(total, shares.Sum());
        var ledger = await CapturedAsync(Client, id, total);
        Assert.Equal(shares.Order(), ledger.GetProperty("entries").EnumerateArray().Where(e => e.GetProperty("kind").GetString() == "capture").Select(e => e.GetProperty("amount").GetDecimal()).Order());
        Assert.Equal(total, Sandbox.CapturedFor(host.Services, id));
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, a, north)) == (7, 0) && (await StockAsync(Client, b, south)) == (9, 0));
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_capture_whose_commit_fails_after_the_provider_captured_is_made_once_and_recorded_once()
    {
        var (order, node, sku) = await ConfirmedAsync("sandbox-approve");
        var id = order.GetProperty("id").GetGuid();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        await using var fault = await Fault.FailCommitAsync(host.ConnectionString, "payments.captures", $"NEW.order_id = '{id}'");
        var shipment = await ShipAsync(Client, fulfilmentId);

        var total = order.GetProperty("total").GetDecimal();
        await CapturedAsync(Client, id, total);
        Assert.True(await fault.FiredAsync() >= 2); // the first commit failed after the provider had captured; a later one went through
        Assert.Equal(2, Sandbox.CallsFor(host.Services, $"capture-{shipment.GetProperty("id").GetGuid()}")); // asked again with the same key …
        Assert.Equal(total, Sandbox.CapturedFor(host.Services, id)); // … which answered the first capture: captured once
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_capture_whose_answer_the_provider_lost_is_asked_again_and_captured_once()
    {
        var (order, _, _) = await ConfirmedAsync("sandbox-capture-timeout");
        var id = order.GetProperty("id").GetGuid();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        await ShipAsync(Client, fulfilmentId);

        var total = order.GetProperty("total").GetDecimal();
        await CapturedAsync(Client, id, total);
        Assert.Equal(total, Sandbox.CapturedFor(host.Services, id));
        var shipmentId = Assert.Single((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("shipments").EnumerateArray()).GetProperty("shipmentId").GetGuid();
        Assert.True(Sandbox.CallsFor(host.Services, $"capture-{shipmentId}") >= 2); // the lost answer was asked again
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_shipment_whose_recording_in_orders_fails_once_requests_one_capture_and_takes_the_stock_once()
    {
        var (order, node, sku) = await ConfirmedAsync("sandbox-approve");
        var id = order.GetProperty("id").GetGuid();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        await using var ordersFault = await Fault.FailCommitAsync(host.ConnectionString, "orders.order_shipments", $"NEW.order_id = '{id}'");
        await using var stockFault = await Fault.FailCommitAsync(host.ConnectionString, "inventory.stock_movements", $"NEW.reference LIKE 'shipment:%' AND NEW.sku = '{sku}'");
        await ShipAsync(Client, fulfilmentId);

        var total = order.GetProperty("total").GetDecimal();
        await OrderInStateAsync(Client, id, "shipped");
        await CapturedAsync(Client, id, total);
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, sku, node)) == (3, 0));
        Assert.True(await ordersFault.FiredAsync() >= 2 && await stockFault.FiredAsync() >= 2); // each failed its first commit, then went through
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Single(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "capture");
        Assert.Equal(total, Sandbox.CapturedFor(host.Services, id));
        Assert.Single((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("shipments").EnumerateArray());
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task Two_concurrent_shipments_of_everything_ship_it_once()
    {
        var (order, node, sku) = await ConfirmedAsync("sandbox-approve");
        var id = order.GetProperty("id").GetGuid();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        var attempts = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => ShipRequestAsync(Client, fulfilmentId, $"race-{i}", new { carrier = "dhl", service = "parcel", trackingNumber = $"RACE{i}" })));
        Assert.Equal(1, attempts.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.All(attempts.Where(r => r.StatusCode != HttpStatusCode.Created), r => Assert.Equal(HttpStatusCode.Conflict, r.StatusCode));

        await OrderInStateAsync(Client, id, "shipped");
        await CapturedAsync(Client, id, order.GetProperty("total").GetDecimal());
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, sku, node)) == (3, 0));
        Assert.Single((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}")).GetProperty("shipments").EnumerateArray());
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task Steps_out_of_order_and_bad_shipments_are_refused_with_problems_and_change_nothing()
    {
        var (order, node, sku) = await ConfirmedAsync("sandbox-approve");
        var id = order.GetProperty("id").GetGuid();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        var ship = new { carrier = "dhl", service = "parcel", trackingNumber = "T1" };

        using (var early = await ShipRequestAsync(Client, fulfilmentId, "k-early", ship))
        {
            await Problem.AssertAsync(early, HttpStatusCode.Conflict, "urn:oms:problem:illegal-transition");
        }

        using (var keyless = await ShipRequestAsync(Client, fulfilmentId, null, ship))
        {
            var problem = await Problem.AssertAsync(keyless, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
            Assert.True(problem.GetProperty("errors").TryGetProperty("Idempotency-Key", out _));
        }

        using (var overPick = await Client.PostAsJsonAsync($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/picks", new { lines = new[] { new { sku, picked = 3 } } }))
        {
            await Problem.AssertAsync(overPick, HttpStatusCode.Conflict, "urn:oms:problem:over-pick");
        }

        await PickAndPackAsync(Client, fulfilmentId);
        using (var tooMany = await ShipRequestAsync(Client, fulfilmentId, "k-many", new { carrier = "dhl", service = "parcel", trackingNumber = "T2", lines = new[] { new { sku, quantity = 3 } } }))
        {
            await Problem.AssertAsync(tooMany, HttpStatusCode.Conflict, "urn:oms:problem:over-ship");
        }

        using (var nullLine = await Client.PostAsync($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/picks", new StringContent("{\"lines\":[null]}", System.Text.Encoding.UTF8, "application/json")))
        {
            await Problem.AssertAsync(nullLine, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        }

        using (var nullShipLine = await ShipRequestAsync(Client, fulfilmentId, "k-null", new { carrier = "dhl", service = "parcel", trackingNumber = "T4", lines = new object?[] { null } }))
        {
            await Problem.AssertAsync(nullShipLine, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        }

        using (var badUrl = await ShipRequestAsync(Client, fulfilmentId, "k-url", new { carrier = "dhl", service = "parcel", trackingNumber = "T3", trackingUrl = "javascript:alert(1)" }))
        {
            var problem = await Problem.AssertAsync(badUrl, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
            Assert.True(problem.GetProperty("errors").TryGetProperty("trackingUrl", out _));
        }

        using (var missing = await Client.PostAsJsonAsync($"/api/v1/fulfillment/fulfilment-orders/{Guid.NewGuid()}/pack", new { }))
        {
            await Problem.AssertAsync(missing, HttpStatusCode.NotFound, "urn:oms:problem:not-found");
        }

        var shipment = await ShipAsync(Client, fulfilmentId);
        using (var reused = await ShipRequestAsync(Client, fulfilmentId, "k-many", ship))
        {
            await Problem.AssertAsync(reused, HttpStatusCode.Conflict, "urn:oms:problem:illegal-transition"); // everything shipped
        }

        Assert.Equal("shipped", (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}")).GetProperty("status").GetString());
        await OrderInStateAsync(Client, id, "shipped");
        Assert.Single((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("shipments").EnumerateArray());
        await CapturedAsync(Client, id, order.GetProperty("total").GetDecimal());
        Assert.Equal(shipment.GetProperty("id").GetGuid(), (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/shipments/{shipment.GetProperty("id").GetGuid()}")).GetProperty("id").GetGuid());
    }

    /// <summary>A confirmed order of two units of one SKU (5 on hand at a new node), paid with this sandbox token.</summary>
    private async Task<(JsonElement Order, string Node, string Sku)> ConfirmedAsync(string token)
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 5, price: 12.34m);
        var placed = OrderCaptureTests.WebOrder("cust-" + Guid.NewGuid().ToString("N")[..8], (sku, 2));
        placed["payment"]!["token"] = token;
        var order = await Pipeline.PlaceAndSettleAsync(Client, placed);
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        return (order, node, sku);
    }
}
