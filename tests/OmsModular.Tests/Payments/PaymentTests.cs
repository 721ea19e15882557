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
            .SendAsync(new AuthorizePayment(orderId, amount, "EUR", "card", token));
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
        Assert.Equal(authorized, outcome.Authorized);
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
        Assert.True(outcome.Authorized);
        Assert.Equal(sandbox + 1, SandboxAuthorizations()); // the provider was called twice with one key: one authorisation

        var again = await AuthorizeAsync(orderId, "sandbox-timeout"); // the order asks again
        Assert.Equal(outcome.PaymentId, again.PaymentId);
        Assert.Equal(sandbox + 1, SandboxAuthorizations());
        Assert.Single((await LedgerAsync(orderId)).GetProperty("entries").EnumerateArray());
    }

    [Fact]
    public async Task Void_releases_the_authorization_once()
    {
        var orderId = Guid.CreateVersion7();
        await AuthorizeAsync(orderId, "sandbox-approve");
        using var scope = host.Services.CreateScope();
        var modules = scope.ServiceProvider.GetRequiredService<IModuleClient>();
        Assert.True(await modules.SendAsync(new VoidPayment(orderId, "payment-declined")));
        Assert.False(await modules.SendAsync(new VoidPayment(orderId, "payment-declined")));
        var ledger = await LedgerAsync(orderId);
        Assert.Equal("voided", ledger.GetProperty("status").GetString());
        Assert.Equal(["authorize", "void"], ledger.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("kind").GetString()));
    }

    /// <summary>The sandbox's own count of authorisations (internal to Payments; read by reflection).</summary>
    private long SandboxAuthorizations()
    {
        var type = Type.GetType("OmsModular.Modules.Payments.Providers.SandboxPaymentProvider, OmsModular.Modules.Payments", throwOnError: true)!;
        var sandbox = host.Services.GetRequiredService(type);
        return (long)type.GetProperty("Authorizations")!.GetValue(sandbox)!;
    }
}
