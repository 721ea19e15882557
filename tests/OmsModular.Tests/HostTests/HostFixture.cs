using System.Net.Http.Headers;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Shared.Infrastructure.Access;
using Microsoft.AspNetCore.Mvc.Testing;
using OmsModular.Tests.Infrastructure;

namespace OmsModular.Tests.HostTests;

/// <summary>
/// The real Host (all modules, plus the test-only Probe module found next to it) on its own
/// database of the test server, in Production mode. One Host for the whole run: Hangfire keeps
/// global state, so hosted-app tests share this collection.
/// </summary>
public sealed class HostFixture : IAsyncLifetime
{
    private WebApplicationFactory<Program>? _factory;

    public HttpClient Client { get; private set; } = null!;

    public IServiceProvider Services => _factory!.Services;

    /// <summary>The OpenID Connect provider the Host trusts for bearer tokens.</summary>
    public TestOpenIdProvider OpenId { get; } = new();

    public string ConnectionString { get; private set; } = string.Empty;

    /// <summary>The SMTP server the Host sends its e-mails to.</summary>
    public TestSmtpServer Smtp { get; } = new();

    /// <summary>A webhook receiver the tests subscribe.</summary>
    public TestWebhookReceiver Webhooks { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        ConnectionString = await TestDatabase.CreateDatabaseAsync($"oms_host_{Environment.ProcessId}");
        // Environment variables reach the Host's builder before it builds (the factory's own
        // settings arrive too late for code that runs before Build()).
        Environment.SetEnvironmentVariable("ConnectionStrings__Oms", ConnectionString);
        Environment.SetEnvironmentVariable("Oms__Messaging__PollInterval", "00:00:00.500");
        Environment.SetEnvironmentVariable("Oms__Messaging__MaxAttempts", "3");
        Environment.SetEnvironmentVariable("Oms__Messaging__BaseRetryDelay", "00:00:00.010");
        Environment.SetEnvironmentVariable("Oms__Messaging__MaxRetryDelay", "00:00:00.050");
        Environment.SetEnvironmentVariable("Oms__Messaging__OutagePause", "00:00:00.200");
        Environment.SetEnvironmentVariable("Oms__Messaging__MaxOutagePause", "00:00:02");
        Environment.SetEnvironmentVariable("Oms__Messaging__OutageProbes", "6");
        Environment.SetEnvironmentVariable("Oms__Messaging__WorkerStallAfter", "00:00:03");
        // The tests' deliberately unavailable sandbox tokens must not open the provider's circuit for the next test's orders.
        Environment.SetEnvironmentVariable("Oms__Payments__CircuitBreaker__MinimumThroughput", "100000");
        Environment.SetEnvironmentVariable("Oms__Jobs__PollInterval", "00:00:01");
        Environment.SetEnvironmentVariable("Oms__Orders__Holds__ReviewCountries", "IS"); // orders to Iceland wait on hold
        Environment.SetEnvironmentVariable("Oms__Orders__StepTimeout", "00:00:30"); // far above any test's pipeline
        Environment.SetEnvironmentVariable("Oms__Orders__CaptureAtConfirmation", "store"); // a till takes the money when the order is confirmed
        Environment.SetEnvironmentVariable("Oms__Orders__ReturnWindows__app", "00:00:02"); // app orders complete two seconds after delivery; the others keep 30 days
        Environment.SetEnvironmentVariable("Oms__Messaging__Processors__Pricing", "4"); // coupon uses are counted by concurrent consumers
        Environment.SetEnvironmentVariable("Oms__Fulfillment__PickupHold", "00:00:03"); // pickup orders wait three seconds at their store
        Environment.SetEnvironmentVariable("Oms__Notifications__Smtp__Host", "127.0.0.1");
        Environment.SetEnvironmentVariable("Oms__Notifications__Smtp__Port", Smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Environment.SetEnvironmentVariable("Oms__Notifications__Smtp__Security", "None");
        Environment.SetEnvironmentVariable("Oms__Notifications__PollInterval", "00:00:00.200");
        Environment.SetEnvironmentVariable("Oms__Notifications__Email__RetryDelays", "00:00:00.200,00:00:00.200,00:00:00.200");
        Environment.SetEnvironmentVariable("Oms__Notifications__Webhooks__RetryDelays", "00:00:00.100,00:00:00.300,00:00:00.500,00:00:01");
        Environment.SetEnvironmentVariable("Oms__Notifications__Webhooks__AllowHttp", "true");
        Environment.SetEnvironmentVariable("Oms__Notifications__Webhooks__AllowPrivateNetworks", "true"); // the test receiver is on loopback
        Environment.SetEnvironmentVariable("Oms__Notifications__Webhooks__Timeout", "00:00:02");
        Webhooks = await TestWebhookReceiver.StartAsync();
        await OpenId.StartAsync();
        Environment.SetEnvironmentVariable("Oms__Auth__Jwt__Authority", OpenId.Authority);
        Environment.SetEnvironmentVariable("Oms__Auth__Jwt__Audience", TestOpenIdProvider.Audience);
        Environment.SetEnvironmentVariable("Oms__Auth__Jwt__RequireHttpsMetadata", "false");
        Environment.SetEnvironmentVariable("Oms__RateLimit__Clients__rate-limited__PermitsPerSecond", "1");
        Environment.SetEnvironmentVariable("Oms__RateLimit__Clients__rate-limited__Burst", "3");
        Environment.SetEnvironmentVariable("Oms__RateLimit__Clients__fuzz__PermitsPerSecond", "100000");
        Environment.SetEnvironmentVariable("Oms__RateLimit__Clients__fuzz__Burst", "100000");
        _factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b => b.UseEnvironment("Production"));
        Client = _factory.CreateClient();
        using var ready = await Client.GetAsync("/health/ready");
        ready.EnsureSuccessStatusCode();
        AdminKey = (await Services.GetRequiredService<ApiKeys>().CreateAsync(new ApiKeyRequest("tests-admin", Scopes.All, null, null), "test fixture")).Secret;
        Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);

        // The service level every test order names: capture refuses one without a shipping rate.
        using var rate = await Client.PutAsync("/api/v1/pricing/shipping-rates/standard/EUR", new StringContent("{\"amount\":4.90}", System.Text.Encoding.UTF8, "application/json"));
        rate.EnsureSuccessStatusCode();
    }

    /// <summary>The key every test's <see cref="Client"/> sends: all scopes, no channel.</summary>
    public string AdminKey { get; private set; } = string.Empty;

    /// <summary>A client with no credential.</summary>
    public HttpClient CreateAnonymousClient() => _factory!.CreateClient();

    /// <summary>A client with a new API key of these scopes (and channel).</summary>
    public async Task<HttpClient> CreateClientAsync(IReadOnlyList<string> scopes, string? channel = null, string? marketplace = null, string name = "tests")
    {
        var key = await Services.GetRequiredService<ApiKeys>().CreateAsync(new ApiKeyRequest(name, scopes, channel, marketplace), "test fixture");
        var client = _factory!.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key.Secret);
        return client;
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
        }

        await OpenId.DisposeAsync();
        await Smtp.DisposeAsync();
        if (Webhooks is not null)
        {
            await Webhooks.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class HostCollection : ICollectionFixture<HostFixture>
{
    public const string Name = "host";
}
