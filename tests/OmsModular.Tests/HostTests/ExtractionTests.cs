using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using OmsModular.Testing;
using OmsModular.Tests.Infrastructure;
using RabbitMQ.Client;

namespace OmsModular.Tests.HostTests;

/// <summary>
/// Pricing lifted into its own process, the other six modules in one or two more, one database, events
/// over a real RabbitMQ (started by the tests): every process is the same binary, only its
/// <c>--modules</c> and transport settings differ.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class ExtractionTests
{
    private static readonly string[] Rest = ["--modules", "Orders,Inventory,Payments,Fulfillment,Notifications,Returns"];
    private static readonly string[] PricingOnly = ["--modules", "Pricing"];

    [Fact]
    public async Task Orders_placed_before_pricing_ever_ran_wait_in_its_queue_and_every_order_settles_across_a_kill_of_the_pricing_process()
    {
        var setup = await SetUpAsync("oms_broker_apart");
        await using var rest = Start(setup, Rest);
        await rest.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        using var client = Client(rest, setup.Key);

        // Pricing has never run: its queue was declared by the other process, and takes what is published for it.
        var early = await PlaceAsync(client, 15);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await UndispatchedAsync(setup.Database, "orders.order-placed.v1") > 0 || await QueueDepthAsync(setup, "pricing") < early.Count) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.Equal(0, await UndispatchedAsync(setup.Database, "orders.order-placed.v1"));
        Assert.True(await QueueDepthAsync(setup, "pricing") >= early.Count, "OrderPlaced waits in Pricing's queue");
        Assert.All(await StatusesAsync(client, early), s => Assert.Equal("pending", s));

        var pricing = Start(setup, PricingOnly);
        try
        {
            await pricing.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
            await WaitForAsync(client, early, "confirmed", TimeSpan.FromSeconds(60));

            // kill -9 of the pricing process while orders come in: capture keeps answering 202, and the orders settle after the restart.
            var during = new List<Guid>();
            var placing = Task.Run(async () => during.AddRange(await PlaceAsync(client, 40, pause: TimeSpan.FromMilliseconds(50))));
            await Task.Delay(TimeSpan.FromMilliseconds(600));
            await pricing.KillAsync();
            await placing;
            await pricing.DisposeAsync();
            pricing = Start(setup, PricingOnly);
            await pricing.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
            await WaitForAsync(client, during, "confirmed", TimeSpan.FromSeconds(90));

            var all = early.Concat(during).ToArray();
            await Invariants.AssertHoldAsync(setup.Database, all);
            // No second effect: each order was priced once, and each pricing reached Orders once.
            Assert.Equal(all.Length, await CountAsync(setup.Database, "SELECT count(DISTINCT partition_key) FROM pricing.outbox_messages WHERE message_type = 'pricing.order-priced.v1'"));
            Assert.Equal(all.Length, await CountAsync(setup.Database, "SELECT count(*) FROM pricing.outbox_messages WHERE message_type = 'pricing.order-priced.v1'"));
            Assert.Equal(all.Length, await CountAsync(setup.Database, "SELECT count(*) FROM orders.inbox_messages WHERE message_type = 'pricing.order-priced.v1'"));
        }
        finally
        {
            await pricing.DisposeAsync();
        }
    }

    [Fact]
    public async Task Events_of_one_order_published_by_two_processes_reach_the_consumer_in_commit_order()
    {
        var setup = await SetUpAsync("oms_broker_order");
        // Small claims, so that the two processes' dispatchers split one outbox between them.
        string[] racing = [.. Rest, "--Oms:Messaging:BatchSize", "5"];
        await using var first = Start(setup, racing);
        await first.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        await using var second = Start(setup, racing);
        await using var pricing = Start(setup, PricingOnly);
        await Task.WhenAll(second.WaitUntilReadyAsync(TimeSpan.FromSeconds(120)), pricing.WaitUntilReadyAsync(TimeSpan.FromSeconds(120)));
        using var placing = Client(first, setup.Key);
        using var cancelling = Client(second, setup.Key);

        // With the broker down, orders are placed through one process and cancelled through the other, so each
        // order's OrderPlaced and OrderCancelled wait in Orders' outbox together; when the broker is back both
        // processes' dispatchers race for that outbox.
        if (!TestBroker.IsOwn)
        {
            return; // an external broker (OMS_TEST_RABBITMQ_URI) is not ours to stop
        }

        await TestBroker.StopAsync();
        var orders = new List<Guid>();
        try
        {
            // Each order placed and at once cancelled, one after the other: OrderPlaced and OrderCancelled of
            // different orders interleave in the outbox, so claims of five cut between an order's two events.
            for (var i = 0; i < 30; i++)
            {
                var id = (await OrderSuite.PlaceAsync(placing, [OrderSuite.Order($"DEMO-{101 + (i % 48):0000}")])).Single();
                orders.Add(id);
                await CancelAllAsync(cancelling, [id]);
            }

            Assert.True(await UndispatchedAsync(setup.Database, "orders.order-cancelled.v1") > 0, "cancellations wait in the outbox beside their OrderPlaced");
        }
        finally
        {
            await TestBroker.StartAgainAsync();
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        const string received = "SELECT count(*) FROM pricing.inbox_messages WHERE message_type IN ('orders.order-placed.v1', 'orders.order-cancelled.v1')";
        var expected = orders.Count + await CountAsync(setup.Database, "SELECT count(*) FROM orders.outbox_messages WHERE message_type = 'orders.order-cancelled.v1'");
        while (await CountAsync(setup.Database, received) < expected && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
        }

        Assert.Equal(expected, await CountAsync(setup.Database, received));
        Assert.True(await CountAsync(setup.Database, "SELECT count(*) FROM orders.outbox_messages WHERE message_type = 'orders.order-cancelled.v1'") > 0);
        // For every order the consumer received OrderPlaced before OrderCancelled, as Orders committed them.
        Assert.Equal(0, await CountAsync(setup.Database, """
            SELECT count(*) FROM pricing.inbox_messages c
            JOIN pricing.inbox_messages p ON p.partition_key = c.partition_key AND p.message_type = 'orders.order-placed.v1'
            WHERE c.message_type = 'orders.order-cancelled.v1' AND c.sequence < p.sequence
            """));
        Assert.True(await CountAsync(setup.Database, "SELECT count(DISTINCT trace_parent) FROM pricing.inbox_messages WHERE trace_parent IS NOT NULL") > 0, "trace context travels in the headers");
    }

    [Fact]
    public async Task Orders_placed_while_rabbitmq_restarts_all_settle_once()
    {
        if (!TestBroker.IsOwn)
        {
            return; // an external broker (OMS_TEST_RABBITMQ_URI) is not ours to restart
        }

        var setup = await SetUpAsync("oms_broker_restart");
        await using var rest = Start(setup, Rest);
        await rest.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        await using var pricing = Start(setup, PricingOnly);
        await pricing.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        using var client = Client(rest, setup.Key);

        var before = await PlaceAsync(client, 5);
        var during = new List<Guid>();
        var placing = Task.Run(async () => during.AddRange(await PlaceAsync(client, 30, pause: TimeSpan.FromMilliseconds(100))));
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        await TestBroker.RestartAsync(down: TimeSpan.FromSeconds(3)); // capture keeps answering 202 meanwhile (asserted by PlaceAsync)
        await placing;

        var all = before.Concat(during).ToArray();
        try
        {
            await WaitForAsync(client, all, "confirmed", TimeSpan.FromSeconds(90));
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            throw new Xunit.Sdk.XunitException($"{exception.Message}\n{BrokerLines(rest)}\n--- pricing ---\n{BrokerLines(pricing)}");
        }

        Assert.True(rest.Output.Contains("RabbitMQ connection recovered", StringComparison.Ordinal), string.Join("\n", rest.Output.Split("\n").Where(l => l.Contains("abbit", StringComparison.Ordinal) || l.Contains("ransport", StringComparison.Ordinal)).Take(30))); // the outage happened, and both processes came back
        Assert.Contains("RabbitMQ connection recovered", pricing.Output, StringComparison.Ordinal);
        await Invariants.AssertHoldAsync(setup.Database, all);
        Assert.Equal(all.Length, await CountAsync(setup.Database, "SELECT count(*) FROM pricing.outbox_messages WHERE message_type = 'pricing.order-priced.v1'"));
        Assert.Equal(all.Length, await CountAsync(setup.Database, "SELECT count(*) FROM orders.inbox_messages WHERE message_type = 'pricing.order-priced.v1'"));
    }

    [Fact]
    public async Task Without_a_broker_a_process_keeps_the_events_of_a_module_it_does_not_host_and_the_backlog_says_why()
    {
        var setup = await SetUpAsync("oms_inprocess_subset");
        List<Guid> orders;
        await using (var rest = HostProcess.Start([.. setup.Common(), .. Rest]))
        {
            await rest.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
            using var client = Client(rest, setup.Key);
            orders = await PlaceAsync(client, 3);
            var deadline = DateTime.UtcNow.AddSeconds(30);
            JsonElement backlog;
            while (true)
            {
                backlog = (await client.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/backlog")).EnumerateArray().Single(m => m.GetProperty("module").GetString() == "Orders");
                if (backlog.GetProperty("outboxWaiting").GetArrayLength() > 0 || DateTime.UtcNow > deadline)
                {
                    break;
                }

                await Task.Delay(200);
            }

            Assert.True(backlog.GetProperty("outboxPending").GetInt64() >= orders.Count, backlog.ToString());
            var reason = backlog.GetProperty("outboxWaiting")[0].GetProperty("reason").GetString();
            Assert.Contains("Module Pricing consumes orders.order-placed.v1 but is not hosted in this process", reason, StringComparison.Ordinal);
            Assert.All(await StatusesAsync(client, orders), s => Assert.Equal("pending", s));
        }

        // Nothing was lost: the same database as one monolith delivers the waiting events.
        await using var monolith = HostProcess.Start(setup.Common());
        await monolith.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        using var all = Client(monolith, setup.Key);
        await WaitForAsync(all, orders, "confirmed", TimeSpan.FromSeconds(60));
    }

    /// <summary>What a process logged about the broker and the outbox (for a failing test's message).</summary>
    private static string BrokerLines(HostProcess host) => string.Join("\n", host.Output.Split('\n')
        .Where(l => l.Contains("RabbitMQ", StringComparison.Ordinal) || l.Contains("outbox", StringComparison.OrdinalIgnoreCase) || l.Contains("consum", StringComparison.OrdinalIgnoreCase))
        .TakeLast(25).Select(l => l.Length > 400 ? l[..400] : l));

    private static Task CancelAllAsync(HttpClient client, IEnumerable<Guid> orders) => Task.WhenAll(orders.Select(async id =>
    {
        using var cancel = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/orders/{id}/cancel")
        {
            Content = JsonContent.Create(new { reason = "customer-request" }),
        };
        cancel.Headers.Add("Idempotency-Key", $"cancel-{id}");
        using var response = await client.SendAsync(cancel);
        Assert.True(response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted or HttpStatusCode.Conflict, await response.Content.ReadAsStringAsync());
    }));

    private static HostProcess Start(Topology setup, string[] modules) => HostProcess.Start([.. setup.Common(), .. setup.Broker(), .. modules]);

    private static HttpClient Client(HostProcess host, string key) => Topology.Client(host, key);

    private static Task<Topology> SetUpAsync(string name) => Topology.SetUpAsync(name);

    private static Task<string[]> StatusesAsync(HttpClient client, IEnumerable<Guid> ids) => OrderSuite.StatusesAsync(client, ids);

    private static Task WaitForAsync(HttpClient client, IReadOnlyCollection<Guid> ids, string status, TimeSpan timeout) => OrderSuite.WaitForAsync(client, ids, status, timeout);

    /// <summary>Orders of one unit each, spread over SKUs every warehouse stocks, optionally paced.</summary>
    private static async Task<List<Guid>> PlaceAsync(HttpClient client, int count, TimeSpan? pause = null)
    {
        var ids = new List<Guid>();
        for (var i = 0; i < count; i++)
        {
            ids.AddRange(await OrderSuite.PlaceAsync(client, [OrderSuite.Order($"DEMO-{101 + (i % 48):0000}")]));
            if (pause is { } wait)
            {
                await Task.Delay(wait);
            }
        }

        return ids;
    }

    private static async Task<long> QueueDepthAsync(Topology setup, string schema)
    {
        var factory = new ConnectionFactory { Uri = new Uri(setup.BrokerUri) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync();
        return (await channel.QueueDeclarePassiveAsync($"{setup.Prefix}.{schema}")).MessageCount;
    }

    private static Task<long> UndispatchedAsync(string database, string wireName) =>
        CountAsync(database, $"SELECT count(*) FROM orders.outbox_messages WHERE dispatched_at IS NULL AND message_type = '{wireName}'");

    private static Task<long> CountAsync(string database, string sql) => OrderSuite.CountAsync(database, sql);
}
