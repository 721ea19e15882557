using System.Net;
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

/// <summary>Refunds through the Host: per line or amount, never beyond what was captured, once per Idempotency-Key.</summary>
[Collection(HostCollection.Name)]
public sealed class RefundTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task Refunds_by_line_and_by_amount_add_up_to_what_was_captured_and_not_beyond()
    {
        var email = $"refund-{Guid.NewGuid():N}@example.com";
        var (order, sku) = await ShippedAsync("sandbox-approve", quantity: 3, email);
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var gross = order.GetProperty("lines")[0].GetProperty("gross").GetDecimal();

        var (first, created) = await RefundAsync(new { orderId = id, reason = "damaged", lines = new[] { new { sku, quantity = 1 } } }, "r-1");
        Assert.True(created);
        Assert.Equal(Math.Round(gross / 3, 2, MidpointRounding.AwayFromZero), first.GetProperty("amount").GetDecimal());
        var (again, createdAgain) = await RefundAsync(new { orderId = id, reason = "damaged", lines = new[] { new { sku, quantity = 1 } } }, "r-1");
        Assert.False(createdAgain); // the same refund, nothing refunded twice
        Assert.Equal(first.GetProperty("id").GetGuid(), again.GetProperty("id").GetGuid());

        using (var tooManyUnits = await PostRefundAsync(new { orderId = id, reason = "damaged", lines = new[] { new { sku, quantity = 3 } } }, "r-2"))
        {
            await Problem.AssertAsync(tooManyUnits, HttpStatusCode.Conflict, "urn:oms:problem:refund-exceeds-shipped");
        }

        var left = total - first.GetProperty("amount").GetDecimal();
        using (var tooMuch = await PostRefundAsync(new { orderId = id, reason = "goodwill", amount = left + 0.01m }, "r-3"))
        {
            var problem = await Problem.AssertAsync(tooMuch, HttpStatusCode.Conflict, "urn:oms:problem:refund-exceeds-captured");
            Assert.True(problem.GetProperty("errors").TryGetProperty("amount", out _));
        }

        using (var both = await PostRefundAsync(new { orderId = id, reason = "goodwill", amount = 1m, lines = new[] { new { sku, quantity = 1 } } }, "r-4"))
        {
            await Problem.AssertAsync(both, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        }

        using (var cents = await PostRefundAsync(new { orderId = id, reason = "goodwill", amount = 0.001m }, "r-5"))
        {
            await Problem.AssertAsync(cents, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        }

        var (rest, _) = await RefundAsync(new { orderId = id, reason = "goodwill", amount = left }, "r-6");
        Assert.Equal(left, rest.GetProperty("amount").GetDecimal());
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal((total, total), (ledger.GetProperty("captured").GetDecimal(), ledger.GetProperty("refunded").GetDecimal()));
        Assert.Equal(2, ledger.GetProperty("entries").EnumerateArray().Count(e => e.GetProperty("kind").GetString() == "refund"));
        Assert.Equal(total, Sandbox.RefundedFor(host.Services, id));
        using (var nothingLeft = await PostRefundAsync(new { orderId = id, reason = "goodwill", amount = 0.01m }, "r-7"))
        {
            await Problem.AssertAsync(nothingLeft, HttpStatusCode.Conflict, "urn:oms:problem:refund-exceeds-captured");
        }

        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("timeline").EnumerateArray().Count(t => t.GetProperty("event").GetString() == "refunded") == 2);
        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Smtp.To(email).Count(m => m.Subject?.StartsWith("Eine Erstattung", StringComparison.Ordinal) == true) == 2));
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_refund_whose_commit_fails_after_the_provider_refunded_is_made_once_when_the_request_is_repeated()
    {
        var (order, _) = await ShippedAsync("sandbox-approve", quantity: 2, $"refund-{Guid.NewGuid():N}@example.com");
        var id = order.GetProperty("id").GetGuid();
        var body = new { orderId = id, reason = "lost-parcel", amount = 5.00m };
        await using (var fault = await Fault.FailCommitAsync(host.ConnectionString, "payments.refunds", $"NEW.order_id = '{id}'"))
        {
            using var failed = await PostRefundAsync(body, "lost-1");
            Assert.False(failed.IsSuccessStatusCode); // the provider refunded; this process's commit did not go through
            Assert.Equal(5.00m, Sandbox.RefundedFor(host.Services, id));
        }

        var (refund, created) = await RefundAsync(body, "lost-1");
        Assert.True(created);
        Assert.Equal(5.00m, refund.GetProperty("amount").GetDecimal());
        Assert.Equal(5.00m, Sandbox.RefundedFor(host.Services, id)); // the provider answered its first refund: not twice
        Assert.Equal(2, Sandbox.CallsFor(host.Services, $"refund-{refund.GetProperty("id").GetGuid()}"));
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_refund_whose_answer_the_provider_lost_is_asked_again_with_its_key_and_made_once()
    {
        var (order, _) = await ShippedAsync("sandbox-refund-timeout", quantity: 2, $"refund-{Guid.NewGuid():N}@example.com");
        var id = order.GetProperty("id").GetGuid();
        var (refund, _) = await RefundAsync(new { orderId = id, reason = "price-adjustment", amount = 3.50m }, "adj-1");
        Assert.Equal(3.50m, Sandbox.RefundedFor(host.Services, id));
        Assert.Equal(2, Sandbox.CallsFor(host.Services, $"refund-{refund.GetProperty("id").GetGuid()}"));
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    private Task<HttpResponseMessage> PostRefundAsync(object body, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/payments/refunds") { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", $"{key}-{_scope}"); // keys of this test only
        return Client.SendAsync(request);
    }

    private readonly string _scope = Guid.NewGuid().ToString("N")[..8];

    private async Task<(JsonElement Refund, bool Created)> RefundAsync(object body, string key)
    {
        using var response = await PostRefundAsync(body, key);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, $"{response.StatusCode} {text}");
        return (JsonDocument.Parse(text).RootElement, response.StatusCode == HttpStatusCode.Created);
    }

    /// <summary>A confirmed order of one SKU, shipped in full and captured.</summary>
    private async Task<(JsonElement Order, string Sku)> ShippedAsync(string token, int quantity, string email)
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 10, price: 9.99m);
        var placed = OrderCaptureTests.WebOrder("cust-" + Guid.NewGuid().ToString("N")[..8], (sku, quantity));
        placed["payment"]!["token"] = token;
        placed["customer"]!["email"] = email;
        var order = await Pipeline.PlaceAndSettleAsync(Client, placed);
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        var id = order.GetProperty("id").GetGuid();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        await ShipAsync(Client, fulfilmentId);
        await CapturedAsync(Client, id, order.GetProperty("total").GetDecimal());
        return (order, sku);
    }
}
