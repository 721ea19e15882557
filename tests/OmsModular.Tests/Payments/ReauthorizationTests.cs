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

/// <summary>
/// Authorisations lapse (7 days for cards): the uncaptured remainder is re-authorised before, under
/// one provider key per re-authorisation; a declined one puts the payment on hold. Time is moved by
/// asking the run for what lapses before a later moment, and by letting the sandbox's authorisation lapse.
/// </summary>
[Collection(HostCollection.Name)]
public sealed class ReauthorizationTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task The_uncaptured_remainder_is_re_authorised_before_the_authorisation_lapses_and_the_last_shipment_captures_under_the_new_one()
    {
        var (order, a) = await ConfirmedAsync("sandbox-approve");
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        var expires = ledger.GetProperty("authorizationExpiresAt").GetDateTimeOffset();
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromDays(6.9), TimeSpan.FromDays(7)); // a card: 7 days
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        await ShipAsync(Client, fulfilmentId, (a, 1));
        var first = Assert.Single((await OrderInStateAsync(Client, id, "partially-shipped")).GetProperty("shipments").EnumerateArray()).GetProperty("captureAmount").GetDecimal();
        await CapturedAsync(Client, id, first);
        var original = Sandbox.LiveReference(host.Services, id)!;

        var run = await RunAsync(expires.AddMilliseconds(10)); // the day before it lapses
        Assert.True(run.GetProperty("handled").GetInt32() >= 1, run.ToString());
        ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        var reauthorized = Assert.Single(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "reauthorize");
        Assert.Equal(total - first, reauthorized.GetProperty("amount").GetDecimal()); // the remainder, not what is captured already
        Assert.True(ledger.GetProperty("authorizationExpiresAt").GetDateTimeOffset() > expires);
        var live = Sandbox.LiveReference(host.Services, id);
        Assert.NotEqual(original, live);
        Assert.Equal(live, reauthorized.GetProperty("providerReference").GetString());
        await RunAsync(expires.AddMilliseconds(10)); // not due any more: nothing is asked again
        Assert.Single((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "reauthorize");

        // The re-authorisation replaced the first (the sandbox voided it: nothing is captured under it any more).
        // A line cancelled now lowers the new authorisation, which holds only the remainder.
        var grossB = order.GetProperty("lines").EnumerateArray().Single(l => l.GetProperty("sku").GetString() != a).GetProperty("gross").GetDecimal();
        var skuB = order.GetProperty("lines").EnumerateArray().Single(l => l.GetProperty("sku").GetString() != a).GetProperty("sku").GetString()!;
        await CancelLinesAsync(Client, id, (skuB, 1));

        var newTotal = total - grossB;
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("amount").GetDecimal() == newTotal);
        Assert.Equal(newTotal - first, Sandbox.LiveAuthorizedFor(host.Services, id));

        await ShipAsync(Client, fulfilmentId);
        await OrderInStateAsync(Client, id, "shipped");
        ledger = await CapturedAsync(Client, id, newTotal);
        Assert.Equal(newTotal, Sandbox.CapturedFor(host.Services, id));
        Assert.True(ledger.GetProperty("reconciles").GetBoolean());
        Assert.Equal(newTotal, ledger.GetProperty("paid").GetDecimal());
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("timeline").EnumerateArray()
            .Any(t => t.GetProperty("event").GetString() == "payment re-authorised"));
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_declined_re_authorisation_puts_the_payment_and_the_order_on_hold_and_tells_operations_once()
    {
        var (order, _) = await ConfirmedAsync("sandbox-reauth-decline");
        var id = order.GetProperty("id").GetGuid();
        var expires = (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("authorizationExpiresAt").GetDateTimeOffset();
        var cursor = await FeedEndAsync();

        await RunAsync(expires.AddMilliseconds(10));
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal("payment-reauthorisation-failed", ledger.GetProperty("holdReason").GetString());
        Assert.Single(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "reauthorize-declined");
        await RunAsync(expires.AddMilliseconds(10)); // on hold: not asked again
        var paymentId = await PaymentIdAsync(id);
        Assert.Equal(1, Sandbox.CallsFor(host.Services, $"reauth-{paymentId}-1"));

        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("paymentHold").GetString() == "payment-reauthorisation-failed");
        var onHold = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
        Assert.Equal("confirmed", onHold.GetProperty("status").GetString());
        Assert.Contains(onHold.GetProperty("timeline").EnumerateArray(), t => t.GetProperty("event").GetString() == "payment on hold: payment-reauthorisation-failed");
        JsonElement feed = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            feed = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications/events?after={cursor}&type=order.payment-on-hold&orderId={id}");
            return feed.GetProperty("items").GetArrayLength() > 0;
        });
        Assert.Single(feed.GetProperty("items").EnumerateArray());
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_payment_on_hold_stops_the_order_shipping_until_an_operator_s_retry_is_approved()
    {
        var (order, _) = await ConfirmedAsync("sandbox-reauth-decline-once");
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var expires = (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("authorizationExpiresAt").GetDateTimeOffset();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        using (var notOnHold = await Client.PostAsync($"/api/v1/payments/{id}/reauthorize", null))
        {
            await Problem.AssertAsync(notOnHold, System.Net.HttpStatusCode.Conflict, "urn:oms:problem:payment-not-on-hold");
        }

        await RunAsync(expires.AddMilliseconds(10)); // declined: on hold
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}")).GetProperty("paymentHold").ValueKind == JsonValueKind.String);
        using (var held = await ShipRequestAsync(Client, fulfilmentId, Guid.NewGuid().ToString(), new { carrier = "dhl", service = "parcel", trackingNumber = Unique("TRK") }))
        {
            await Problem.AssertAsync(held, System.Net.HttpStatusCode.Conflict, "urn:oms:problem:payment-on-hold");
        }

        using (var retried = await Client.PostAsync($"/api/v1/payments/{id}/reauthorize", null))
        {
            var text = await retried.Content.ReadAsStringAsync();
            Assert.True(retried.IsSuccessStatusCode, text);
            var ledger = JsonDocument.Parse(text).RootElement;
            Assert.Equal(JsonValueKind.Null, ledger.GetProperty("holdReason").ValueKind);
            Assert.Single(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "reauthorize");
        }

        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}")).GetProperty("paymentHold").ValueKind == JsonValueKind.Null);
        await ShipAsync(Client, fulfilmentId);
        await CapturedAsync(Client, id, total);
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("paymentHold").ValueKind == JsonValueKind.Null);
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_re_authorisation_whose_commit_fails_after_the_provider_made_it_is_asked_again_with_the_same_key_and_made_once()
    {
        var (order, _) = await ConfirmedAsync("sandbox-approve");
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var expires = (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("authorizationExpiresAt").GetDateTimeOffset();
        var paymentId = await PaymentIdAsync(id);
        await using var fault = await Fault.FailCommitAsync(host.ConnectionString, "payments.ledger_entries", $"NEW.order_id = '{id}' AND NEW.kind = 'reauthorize'");

        var failed = await RunAsync(expires.AddMilliseconds(10));
        Assert.Equal(1, failed.GetProperty("failed").GetInt32());
        Assert.DoesNotContain((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "reauthorize");
        await RunAsync(expires.AddMilliseconds(10));

        Assert.True(await fault.FiredAsync() >= 2); // the first commit failed, a later one went through
        Assert.Equal(2, Sandbox.CallsFor(host.Services, $"reauth-{paymentId}-1")); // asked again with the same key …
        Assert.Equal(1, Sandbox.ReauthorizationsFor(host.Services, id)); // … which answered the first: one re-authorisation
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal(Sandbox.LiveReference(host.Services, id), Assert.Single(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "reauthorize").GetProperty("providerReference").GetString());

        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        await ShipAsync(Client, fulfilmentId);
        await CapturedAsync(Client, id, total);
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    private async Task<JsonElement> RunAsync(DateTimeOffset dueBefore)
    {
        using var response = await Client.PostAsync($"/api/v1/payments/reauthorizations?dueBefore={Uri.EscapeDataString(dueBefore.ToString("O"))}", null);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement;
    }

    private async Task<Guid> PaymentIdAsync(Guid orderId)
    {
        await using var connection = new Npgsql.NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand($"SELECT id FROM payments.payments WHERE order_id = '{orderId}'", connection);
        return (Guid)(await command.ExecuteScalarAsync())!;
    }

    private async Task<long> FeedEndAsync()
    {
        var page = await Client.GetFromJsonAsync<JsonElement>("/api/v1/notifications/events?after=0&limit=500");
        while (page.GetProperty("items").GetArrayLength() == 500)
        {
            page = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications/events?after={page.GetProperty("nextCursor").GetInt64()}&limit=500");
        }

        return page.GetProperty("nextCursor").GetInt64();
    }

    private async Task<(JsonElement Order, string Sku)> ConfirmedAsync(string token)
    {
        var (node, a, b) = (await Pipeline.NodeAsync(Client), Unique("SKU"), Unique("SKU"));
        await Catalog.StockAsync(Client, a, node, 5, price: 8.40m);
        await Catalog.StockAsync(Client, b, node, 5, price: 3.15m);
        var placed = OrderCaptureTests.WebOrder("cust-reauth", (a, 2), (b, 1));
        placed["payment"]!["token"] = token;
        var order = await Pipeline.PlaceAndSettleAsync(Client, placed);
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        return (order, a);
    }
}
