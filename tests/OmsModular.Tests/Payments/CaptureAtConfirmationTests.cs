using System.Net.Http.Json;
using System.Text.Json;
using OmsModular.Testing;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Infrastructure;
using OmsModular.Tests.Messaging;
using OmsModular.Tests.Orders;
using static OmsModular.Tests.Fulfillment.Shipping;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Payments;

/// <summary>A channel set to capture at confirmation (the fixture's <c>store</c>): the whole total is captured once, shipments capture nothing more, cancelled units are refunded.</summary>
[Collection(HostCollection.Name)]
public sealed class CaptureAtConfirmationTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task A_store_order_is_captured_in_full_at_confirmation_a_cancelled_line_is_refunded_and_shipping_captures_nothing_more()
    {
        var (order, a, b) = await ConfirmedAsync("store");
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var grossB = order.GetProperty("lines").EnumerateArray().Single(l => l.GetProperty("sku").GetString() == b).GetProperty("gross").GetDecimal();
        var ledger = await CapturedAsync(Client, id, total);
        Assert.Equal("captured", ledger.GetProperty("status").GetString());
        Assert.Equal(total, Sandbox.CapturedFor(host.Services, id));

        // A goodwill refund first: the cancellation still gives back all that its units cost.
        using (var goodwill = new HttpRequestMessage(HttpMethod.Post, "/api/v1/payments/refunds")
               {
                   Content = JsonContent.Create(new { orderId = id, reason = "goodwill", amount = 1.00m }),
                   Headers = { { "Idempotency-Key", Guid.NewGuid().ToString() } },
               })
        {
            using var refunded = await Client.SendAsync(goodwill);
            Assert.True(refunded.IsSuccessStatusCode, await refunded.Content.ReadAsStringAsync());
        }

        await CancelLinesAsync(Client, id, (b, 1));
        var newTotal = total - grossB;
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("refunded").GetDecimal() == grossB + 1.00m);
        ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal(newTotal - 1.00m, ledger.GetProperty("paid").GetDecimal());
        Assert.True(ledger.GetProperty("reconciles").GetBoolean());
        Assert.Equal(grossB + 1.00m, Sandbox.RefundedFor(host.Services, id));
        var refunds = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments/refunds?orderId={id}");
        Assert.Equal(grossB, Assert.Single(refunds.EnumerateArray(), r => r.GetProperty("reason").GetString() == "cancellation").GetProperty("amount").GetDecimal());

        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        await ShipAsync(Client, fulfilmentId);
        var shipped = await OrderInStateAsync(Client, id, "shipped");
        Assert.Equal(0m, Assert.Single(shipped.GetProperty("shipments").EnumerateArray()).GetProperty("captureAmount").GetDecimal());
        await SettledAsync(Client);
        ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Single(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "capture"); // once, at confirmation
        Assert.Equal(total, Sandbox.CapturedFor(host.Services, id));
        Assert.Contains(a, shipped.GetProperty("lines").EnumerateArray().Select(l => l.GetProperty("sku").GetString()));
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_store_order_cancelled_in_full_after_its_capture_is_refunded_in_full_once_even_when_the_first_refund_commit_fails()
    {
        var (order, a, b) = await ConfirmedAsync("store");
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        await CapturedAsync(Client, id, total);
        await using var fault = await Fault.FailCommitAsync(host.ConnectionString, "payments.refunds", $"NEW.order_id = '{id}'");

        await CancelLinesAsync(Client, id, (a, 2), (b, 1));
        await OrderInStateAsync(Client, id, "cancelled");
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("refunded").GetDecimal() == total);
        await SettledAsync(Client);
        Assert.True(await fault.FiredAsync() >= 2);
        Assert.Equal(total, Sandbox.RefundedFor(host.Services, id)); // the provider refunded once, though asked again
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal(0m, ledger.GetProperty("paid").GetDecimal());
        Assert.Single(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "refund");
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_cancellation_that_overtakes_the_capture_at_confirmation_lowers_the_authorisation_and_the_capture_takes_what_the_order_costs_now()
    {
        var (node, a, b) = (await Pipeline.NodeAsync(Client), Unique("SKU"), Unique("SKU"));
        await Catalog.StockAsync(Client, a, node, 5, price: 11.90m);
        await Catalog.StockAsync(Client, b, node, 5, price: 4.45m);
        var placed = OrderCaptureTests.WebOrder("cust-store-race", (a, 2), (b, 1));
        placed["channel"] = "store";
        // The provider does not answer captures for a while (the capture consumer pauses): the cancellation goes first.
        Sandbox.CapturesUnavailable(host.Services, true);
        Guid id;
        try
        {
            id = await Pipeline.PlaceAsync(Client, placed);
            var order = await OrderInStateAsync(Client, id, "confirmed");
            var (total, grossB) = (order.GetProperty("total").GetDecimal(), order.GetProperty("lines").EnumerateArray().Single(l => l.GetProperty("sku").GetString() == b).GetProperty("gross").GetDecimal());
            await FulfilmentOrdersAsync(Client, id, 1);
            await CancelLinesAsync(Client, id, (b, 1));
            await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("amount").GetDecimal() == total - grossB);
            Assert.Equal(0m, (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("captured").GetDecimal());
        }
        finally
        {
            Sandbox.CapturesUnavailable(host.Services, false);
        }

        var newTotal = (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("total").GetDecimal();
        var ledger = await CapturedAsync(Client, id, newTotal);
        Assert.Equal(0m, ledger.GetProperty("refunded").GetDecimal()); // nothing was captured that needs giving back
        Assert.Equal(newTotal, Sandbox.CapturedFor(host.Services, id));
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_web_order_is_still_captured_per_shipment()
    {
        var (order, a, _) = await ConfirmedAsync("web");
        var id = order.GetProperty("id").GetGuid();
        await SettledAsync(Client);
        Assert.Equal(0m, (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("captured").GetDecimal());
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        await ShipAsync(Client, fulfilmentId, (a, 1));
        var share = Assert.Single((await OrderInStateAsync(Client, id, "partially-shipped")).GetProperty("shipments").EnumerateArray()).GetProperty("captureAmount").GetDecimal();
        await CapturedAsync(Client, id, share);
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    private async Task<(JsonElement Order, string A, string B)> ConfirmedAsync(string channel)
    {
        var (node, a, b) = (await Pipeline.NodeAsync(Client), Unique("SKU"), Unique("SKU"));
        await Catalog.StockAsync(Client, a, node, 5, price: 11.90m);
        await Catalog.StockAsync(Client, b, node, 5, price: 4.45m);
        var placed = OrderCaptureTests.WebOrder($"cust-{channel}", (a, 2), (b, 1));
        placed["channel"] = channel;
        var order = await Pipeline.PlaceAndSettleAsync(Client, placed);
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        return (order, a, b);
    }
}
