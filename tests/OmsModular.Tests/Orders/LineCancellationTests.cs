using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OmsModular.Testing;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Infrastructure;
using OmsModular.Tests.Messaging;
using OmsModular.Tests.Payments;
using static OmsModular.Tests.Fulfillment.Shipping;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Orders;

/// <summary>Cancelling lines after confirmation and before they ship: total, authorisation, reservations and fulfilment follow.</summary>
[Collection(HostCollection.Name)]
public sealed class LineCancellationTests(HostFixture host)
{
    private readonly string _scope = Guid.NewGuid().ToString("N")[..8];

    private HttpClient Client => host.Client;

    [Fact]
    public async Task A_cancelled_line_lowers_the_total_the_authorisation_and_the_reservation_and_the_rest_ships_and_captures_exactly()
    {
        var email = $"lines-{Guid.NewGuid():N}@example.com";
        var (order, node, a, b) = await ConfirmedAsync(email, ("a", 2), ("b", 1));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var grossB = order.GetProperty("lines").EnumerateArray().Single(l => l.GetProperty("sku").GetString() == b).GetProperty("gross").GetDecimal();

        var changed = await CancelAsync(id, "change-1", (b, 1));
        Assert.Equal(total - grossB, changed.GetProperty("total").GetDecimal());
        Assert.Equal(1, changed.GetProperty("lines").EnumerateArray().Single(l => l.GetProperty("sku").GetString() == b).GetProperty("quantities").GetProperty("cancelled").GetInt32());
        var repeated = await CancelAsync(id, "change-1", (b, 1)); // the same change: nothing twice
        Assert.Equal(total - grossB, repeated.GetProperty("total").GetDecimal());
        using (var reused = await PostCancelAsync(id, "change-1", (a, 1))) // the key of another cancellation
        {
            await Problem.AssertAsync(reused, (HttpStatusCode)422, "urn:oms:problem:idempotency-key-reused", "Idempotency-Key");
        }

        var newTotal = total - grossB;
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("amount").GetDecimal() == newTotal);
        Assert.Equal(newTotal, Sandbox.AuthorizedFor(host.Services, id));
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, b, node)) == (5, 0));
        var fulfilment = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1));
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/fulfilment-orders/{fulfilment.GetProperty("id").GetGuid()}"))
            .GetProperty("lines").EnumerateArray().Single(l => l.GetProperty("sku").GetString() == b).GetProperty("cancelled").GetInt32() == 1);

        await PickAndPackAsync(Client, fulfilment.GetProperty("id").GetGuid());
        var shipment = await ShipAsync(Client, fulfilment.GetProperty("id").GetGuid());
        Assert.Equal([(a, 2)], shipment.GetProperty("lines").EnumerateArray().Select(l => (l.GetProperty("sku").GetString(), l.GetProperty("quantity").GetInt32())));
        await OrderInStateAsync(Client, id, "shipped");
        await CapturedAsync(Client, id, newTotal);
        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Smtp.To(email).Any(m => m.Subject?.StartsWith("Ein Teil Ihrer Bestellung", StringComparison.Ordinal) == true)));
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task Units_that_shipped_cannot_be_cancelled_and_cancelling_what_is_left_after_a_partial_shipment_captures_the_rest_exactly()
    {
        var (order, _, a, _) = await ConfirmedAsync($"lines-{Guid.NewGuid():N}@example.com", ("a", 3));
        var id = order.GetProperty("id").GetGuid();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        await ShipAsync(Client, fulfilmentId, (a, 1));
        await OrderInStateAsync(Client, id, "partially-shipped");

        using (var tooMany = await PostCancelAsync(id, "change-2", (a, 3)))
        {
            await Problem.AssertAsync(tooMany, HttpStatusCode.Conflict, "urn:oms:problem:lines-already-shipped");
        }

        using (var nullLine = await Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, $"/api/v1/orders/{id}/cancel-lines")
               {
                   Content = new StringContent("{\"lines\":[null]}", System.Text.Encoding.UTF8, "application/json"),
                   Headers = { { "Idempotency-Key", $"null-{_scope}" } },
               }))
        {
            await Problem.AssertAsync(nullLine, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        }

        using (var keyless = await Client.PostAsJsonAsync($"/api/v1/orders/{id}/cancel-lines", new { lines = new[] { new { sku = a, quantity = 1 } } }))
        {
            await Problem.AssertAsync(keyless, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        }

        var changed = await CancelAsync(id, "change-3", (a, 2));
        Assert.Equal("shipped", changed.GetProperty("status").GetString()); // nothing left to ship
        var newTotal = changed.GetProperty("total").GetDecimal();
        await CapturedAsync(Client, id, newTotal); // the shipment's share and a last capture of what is left
        // The last capture and the lower authorisation arrive in either order; then the payment is captured in full.
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("status").GetString() == "captured");
        Assert.Equal(newTotal, Sandbox.AuthorizedFor(host.Services, id));
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}")).GetProperty("status").GetString() == "shipped");
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task Cancelling_every_line_cancels_the_order_voids_its_authorisation_and_releases_its_stock()
    {
        var (order, node, a, b) = await ConfirmedAsync($"lines-{Guid.NewGuid():N}@example.com", ("a", 1), ("b", 2));
        var id = order.GetProperty("id").GetGuid();
        var changed = await CancelAsync(id, "change-4", (a, 1), (b, 2));
        Assert.Equal("cancelled", changed.GetProperty("status").GetString());
        Assert.Equal(0m, changed.GetProperty("total").GetDecimal());
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("status").GetString() == "voided");
        Assert.False(Sandbox.Holds(host.Services, id));
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, a, node)) == (5, 0) && (await StockAsync(Client, b, node)) == (5, 0));
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}")).GetProperty("status").GetString() == "cancelled");
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_reduction_whose_commit_fails_after_the_provider_reduced_is_made_once()
    {
        var (order, _, _, b) = await ConfirmedAsync($"lines-{Guid.NewGuid():N}@example.com", ("a", 1), ("b", 1));
        var id = order.GetProperty("id").GetGuid();
        await using var fault = await Fault.FailCommitAsync(host.ConnectionString, "payments.ledger_entries", $"NEW.order_id = '{id}' AND NEW.kind = 'partial-void'");
        var changed = await CancelAsync(id, "change-5", (b, 1));
        var newTotal = changed.GetProperty("total").GetDecimal();
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("amount").GetDecimal() == newTotal);
        Assert.True(await fault.FiredAsync() >= 2); // the first commit failed after the provider had reduced
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Single(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "partial-void");
        Assert.Equal(newTotal, Sandbox.AuthorizedFor(host.Services, id));
        Assert.Equal(1, Sandbox.ReductionsFor(host.Services, id)); // asked again with the same key: one reduction
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task Units_already_packed_are_not_cancelled_and_the_order_stays_as_it_was()
    {
        var (order, _, a, _) = await ConfirmedAsync($"lines-{Guid.NewGuid():N}@example.com", ("a", 2));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId); // the node packed it: Orders does not know yet
        var answered = await CancelAsync(id, "change-6", (a, 1));
        Assert.Equal(total, answered.GetProperty("total").GetDecimal());
        Assert.Contains(answered.GetProperty("timeline").EnumerateArray(), t => t.GetProperty("event").GetString() == "line cancellation refused");
        Assert.Equal(0, answered.GetProperty("lines")[0].GetProperty("quantities").GetProperty("cancelled").GetInt32());
        await ShipAsync(Client, fulfilmentId);
        await CapturedAsync(Client, id, total);
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task Shipped_and_cancelled_shares_of_a_line_that_does_not_divide_evenly_add_up_and_its_shipped_units_refund_exactly_what_was_captured()
    {
        var node = await Pipeline.NodeAsync(Client);
        var sku = Unique("SKU");
        await Catalog.StockAsync(Client, sku, node, 10, price: 3.33m); // 4 units: a gross that does not divide by 4
        var placed = OrderCaptureTests.WebOrder("cust-" + Guid.NewGuid().ToString("N")[..8], (sku, 4));
        var order = await Pipeline.PlaceAndSettleAsync(Client, placed);
        var id = order.GetProperty("id").GetGuid();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/start-picking");
        var changed = await CancelAsync(id, "change-7", (sku, 1)); // while picking: taken off
        Assert.Equal(1, changed.GetProperty("lines")[0].GetProperty("quantities").GetProperty("cancelled").GetInt32());
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/pack", new { parcels = 1 });
        await ShipAsync(Client, fulfilmentId, (sku, 1));
        await ShipAsync(Client, fulfilmentId, (sku, 2));
        var shipped = await OrderInStateAsync(Client, id, "shipped");
        var total = shipped.GetProperty("total").GetDecimal();
        Assert.Equal(total, shipped.GetProperty("shipments").EnumerateArray().Sum(s => s.GetProperty("captureAmount").GetDecimal()));
        await CapturedAsync(Client, id, total);
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("amount").GetDecimal() == total);

        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/payments/refunds")
        {
            Content = JsonContent.Create(new { orderId = id, reason = "return", lines = new[] { new { sku, quantity = 3 } } }),
            Headers = { { "Idempotency-Key", $"refund-{_scope}" } },
        };
        using var refunded = await Client.SendAsync(request);
        var refund = await refunded.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(refunded.StatusCode == HttpStatusCode.Created, refund.ToString());
        var shipping = shipped.GetProperty("shippingGross").GetDecimal();
        Assert.Equal(total - shipping, refund.GetProperty("amount").GetDecimal()); // every unit that shipped, to the cent; the shipping charge stays
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    private Task<HttpResponseMessage> PostCancelAsync(Guid orderId, string key, params (string Sku, int Quantity)[] lines)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/orders/{orderId}/cancel-lines")
        {
            Content = JsonContent.Create(new { lines = lines.Select(l => new { sku = l.Sku, quantity = l.Quantity }), reason = "customer-request" }),
        };
        request.Headers.Add("Idempotency-Key", $"{key}-{_scope}");
        return Client.SendAsync(request);
    }

    /// <summary>Asks for the cancellation (202) and waits until the nodes' answer changed the order; returns the order then.</summary>
    private async Task<JsonElement> CancelAsync(Guid orderId, string key, params (string Sku, int Quantity)[] lines)
    {
        using var response = await PostCancelAsync(orderId, key, lines);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, $"{response.StatusCode} {text}");
        JsonElement order = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            order = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{orderId}");
            return order.GetProperty("timeline").EnumerateArray().Count(t => t.GetProperty("event").GetString() is "line cancellation requested")
                   == order.GetProperty("timeline").EnumerateArray().Count(t => t.GetProperty("event").GetString() is "lines cancelled" or "line cancellation refused");
        });
        return order;
    }

    /// <summary>A confirmed order of new SKUs (5 on hand each, at one new node).</summary>
    private async Task<(JsonElement Order, string Node, string A, string B)> ConfirmedAsync(string email, params (string Name, int Quantity)[] lines)
    {
        var node = await Pipeline.NodeAsync(Client);
        var skus = lines.Select(_ => Unique("SKU")).ToArray();
        foreach (var sku in skus)
        {
            await Catalog.StockAsync(Client, sku, node, 5, price: 6.66m);
        }

        var placed = OrderCaptureTests.WebOrder("cust-" + Guid.NewGuid().ToString("N")[..8], skus.Select((s, i) => (s, lines[i].Quantity)).ToArray());
        placed["customer"]!["email"] = email;
        var order = await Pipeline.PlaceAndSettleAsync(Client, placed);
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        return (order, node, skus[0], skus.Length > 1 ? skus[1] : skus[0]);
    }
}
