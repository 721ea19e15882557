using System.Net;
using System.Text.Json;
using Npgsql;
using OmsModular.Tests.Messaging;
using OmsModular.Tests.Orders;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.HostTests;

/// <summary>Readiness says whether this process can serve its modules' requests, per module; liveness never asks the database.</summary>
[Collection(HostCollection.Name)]
public sealed class ReadinessTests(HostFixture host)
{
    private async Task<(HttpStatusCode Status, JsonElement Body)> ReadyAsync()
    {
        using var anonymous = host.CreateAnonymousClient();
        using var response = await anonymous.GetAsync("/health/ready");
        return (response.StatusCode, JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone());
    }

    private static JsonElement Check(JsonElement body, string name) =>
        body.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    [Fact]
    public async Task A_database_that_refuses_connections_makes_the_process_not_ready_until_the_moment_it_is_back()
    {
        var (status, body) = await ReadyAsync();
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ok", Check(body, "databases").GetProperty("data").GetProperty("Orders").GetString());

        var database = new NpgsqlConnectionStringBuilder(host.ConnectionString).Database!;
        await using var admin = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(host.ConnectionString) { Database = "postgres", Pooling = false }.ConnectionString);
        await admin.OpenAsync();
        try
        {
            await using (var refuse = new NpgsqlCommand($"ALTER DATABASE \"{database}\" WITH ALLOW_CONNECTIONS false", admin))
            {
                await refuse.ExecuteNonQueryAsync();
            }

            // Readiness probes at most once a second: the next probe sees the refusal.
            await MessagingHarness.WaitUntilAsync(async () => ((status, body) = await ReadyAsync()).status != HttpStatusCode.OK, TimeSpan.FromSeconds(5));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
            var orders = Check(body, "databases").GetProperty("data").GetProperty("Orders").GetString();
            Assert.StartsWith("refused", orders, StringComparison.Ordinal);
            Assert.DoesNotContain("accepting", body.GetRawText(), StringComparison.Ordinal); // a state, not the server's message

            using var anonymous = host.CreateAnonymousClient();
            Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/live")).StatusCode);
        }
        finally
        {
            await using var allow = new NpgsqlCommand($"ALTER DATABASE \"{database}\" WITH ALLOW_CONNECTIONS true", admin);
            await allow.ExecuteNonQueryAsync();
        }

        var back = DateTime.UtcNow;
        await MessagingHarness.WaitUntilAsync(async () => (await ReadyAsync()).Status == HttpStatusCode.OK, TimeSpan.FromSeconds(5));
        Assert.True(DateTime.UtcNow - back < TimeSpan.FromSeconds(3), "ready again within a probe or two, not after the workers' back-off");
    }

    [Fact]
    public async Task A_consumer_blocked_on_a_lock_degrades_readiness_without_taking_the_process_out()
    {
        var node = await Pipeline.NodeAsync(host.Client);
        var sku = Unique("SKU");
        await Catalog.StockAsync(host.Client, sku, node, 5);
        await using var locker = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(host.ConnectionString) { Pooling = false }.ConnectionString);
        await locker.OpenAsync();
        await using (var transaction = await locker.BeginTransactionAsync())
        {
            await using (var lockTable = new NpgsqlCommand("LOCK TABLE pricing.inbox_messages IN ACCESS EXCLUSIVE MODE", locker, transaction))
            {
                await lockTable.ExecuteNonQueryAsync();
            }

            await Pipeline.PlaceAsync(host.Client, OrderCaptureTests.WebOrder(Unique("c"), (sku, 1)));
            JsonElement messaging = default;
            await MessagingHarness.WaitUntilAsync(async () =>
            {
                var (status, body) = await ReadyAsync();
                Assert.Equal(HttpStatusCode.OK, status); // degraded, never out of the load balancer
                messaging = Check(body, "messaging");
                // The worker that delivers into the locked inbox waits on the lock: shown as stalled, by name
                // (Pricing's own inbox processor may be shown stalled before it).
                return messaging.GetProperty("status").GetString() == "Degraded"
                       && messaging.GetProperty("data").EnumerateObject().Any(w => w.Name == "outbox-dispatcher:Orders" && w.Value.GetString() == "stalled");
            }, TimeSpan.FromSeconds(20));
            await transaction.RollbackAsync();
        }

        await MessagingHarness.WaitUntilAsync(
            async () => Check((await ReadyAsync()).Body, "messaging").GetProperty("status").GetString() == "Healthy",
            TimeSpan.FromSeconds(20)); // the workers recover once the lock is released
    }
}
