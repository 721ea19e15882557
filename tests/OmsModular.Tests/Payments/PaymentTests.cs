using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Tests.HostTests;

namespace OmsModular.Tests.Payments;

/// <summary>Payments through its module API (as Orders calls it) and its ledger over HTTP.</summary>
[Collection(HostCollection.Name)]
public sealed class PaymentTests(HostFixture host)
{
    private async Task<PaymentAuthorization> AuthorizeAsync(Guid orderId, string token, decimal amount = 42.50m)
    {
        using var scope = host.Services.CreateScope();
        return await scope.ServiceProvider.GetRequiredService<IModuleClient>()
            .SendAsync(new AuthorizePayment(orderId, amount, "EUR", "card", await Sandbox.SealAsync(host.Services, token, orderId)));
    }

    [Fact]
    public async Task A_token_sealed_for_another_order_is_a_decline_of_that_order_alone()
    {
        var (mine, other) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        var stolen = await Sandbox.SealAsync(host.Services, "sandbox-approve", other);
        using var scope = host.Services.CreateScope();
        var answers = await scope.ServiceProvider.GetRequiredService<IModuleClient>().SendAsync(new AuthorizePaymentBatch(
        [
            new AuthorizePayment(mine, 10m, "EUR", "card", stolen),
            new AuthorizePayment(other, 10m, "EUR", "card", stolen),
        ]));
        var byOrder = answers.ToDictionary(a => a.OrderId);
        Assert.Equal(PaymentState.Declined, byOrder[mine].State);
        Assert.Equal("token-unreadable", byOrder[mine].DeclineReason);
        Assert.Equal(PaymentState.Authorized, byOrder[other].State); // the batch goes on
    }

    private async Task<JsonElement> LedgerAsync(Guid orderId) =>
        await host.Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={orderId}");

    [Theory]
    [InlineData("sandbox-approve", true, null)]
    [InlineData("sandbox-decline", false, "card-declined")]
    [InlineData("sandbox-insufficient-funds", false, "insufficient-funds")]
    [InlineData("sandbox-flaky", true, null)]
    public async Task The_sandbox_answers_by_token(string token, bool authorized, string? reason)
    {
        var orderId = Guid.CreateVersion7();
        var outcome = await AuthorizeAsync(orderId, token);
        Assert.Equal(authorized ? PaymentState.Authorized : PaymentState.Declined, outcome.State);
        Assert.Equal(orderId, outcome.OrderId);
        Assert.Equal(reason, outcome.DeclineReason);
        var ledger = await LedgerAsync(orderId);
        Assert.Equal(authorized ? "authorized" : "declined", ledger.GetProperty("status").GetString());
        Assert.Equal(authorized ? "authorize" : "decline", ledger.GetProperty("entries")[0].GetProperty("kind").GetString());
        Assert.Equal(42.50m, ledger.GetProperty("amount").GetDecimal());
    }

    [Fact]
    public async Task A_retried_call_after_a_timeout_never_authorizes_twice()
    {
        var sandbox = SandboxAuthorizations();
        var orderId = Guid.CreateVersion7();
        var outcome = await AuthorizeAsync(orderId, "sandbox-timeout");
        Assert.Equal(PaymentState.Authorized, outcome.State);
        Assert.Equal(sandbox + 1, SandboxAuthorizations()); // the provider was called twice with one key: one authorisation

        var again = await AuthorizeAsync(orderId, "sandbox-timeout"); // the order asks again
        Assert.Equal(outcome.PaymentId, again.PaymentId);
        Assert.Equal(sandbox + 1, SandboxAuthorizations());
        Assert.Single((await LedgerAsync(orderId)).GetProperty("entries").EnumerateArray());
    }

    [Fact]
    public async Task An_ended_order_is_voided_once_and_never_authorised_again()
    {
        // An order waiting on hold (Iceland is under review in the test Host); a late authorisation request arrives for it.
        var (node, sku) = (await Orders.Pipeline.NodeAsync(host.Client), Infrastructure.TestData.Unique("SKU"));
        await Orders.Catalog.StockAsync(host.Client, sku, node, 2);
        var placed = Orders.OrderCaptureTests.WebOrder("cust-void", (sku, 1));
        placed["shippingAddress"]!["countryCode"] = "IS";
        var held = await Orders.Pipeline.PlaceAndSettleAsync(host.Client, placed);
        var orderId = held.GetProperty("id").GetGuid();
        Assert.Equal(PaymentState.Authorized, (await AuthorizeAsync(orderId, "sandbox-approve")).State);

        // The order is cancelled: Payments voids on the committed OrderCancelled.
        using (var cancel = await host.Client.PostAsJsonAsync($"/api/v1/orders/{orderId}/cancel", new { reason = "customer-request" }))
        {
            cancel.EnsureSuccessStatusCode();
        }

        await Messaging.MessagingHarness.WaitUntilAsync(async () => (await LedgerAsync(orderId)).GetProperty("status").GetString() == "voided");
        var sandbox = SandboxAuthorizations();
        var again = await AuthorizeAsync(orderId, "sandbox-approve");
        Assert.Equal(PaymentState.Voided, again.State); // the state now, no second authorisation
        Assert.Equal(sandbox, SandboxAuthorizations());
        Assert.Equal(["authorize", "void"], (await LedgerAsync(orderId)).GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("kind").GetString()));

        // An order that ended before it was ever authorised is refused without a call to the provider.
        var other = await Orders.Pipeline.PlaceAndSettleAsync(host.Client, placed);
        var otherId = other.GetProperty("id").GetGuid();
        using (var cancel = await host.Client.PostAsJsonAsync($"/api/v1/orders/{otherId}/cancel", new { reason = "customer-request" }))
        {
            cancel.EnsureSuccessStatusCode();
        }

        await Messaging.MessagingHarness.WaitUntilAsync(async () => (await host.Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/backlog")).EnumerateArray()
            .All(m => m.GetProperty("outboxPending").GetInt64() == 0 && m.GetProperty("inboxPending").GetInt64() == 0));
        Assert.Equal(PaymentState.OrderEnded, (await AuthorizeAsync(otherId, "sandbox-approve")).State);
        Assert.Equal(sandbox, SandboxAuthorizations());
    }

    private long SandboxAuthorizations() => Sandbox.Authorizations(host.Services);
}
