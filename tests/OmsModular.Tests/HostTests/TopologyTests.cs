using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using OmsModular.Testing;
using OmsModular.Tests.Infrastructure;

namespace OmsModular.Tests.HostTests;

/// <summary>
/// The same end-to-end order suite against the same binary in different topologies: the monolith, and
/// Orders alone beside the other six modules (events over RabbitMQ, module API requests over HTTP).
/// Each topology gets a fresh database with the demo data.
/// </summary>
[Collection(BrokerCollection.Name)]
public sealed class TopologyTests
{
    private const string Others = "Inventory,Payments,Pricing,Fulfillment,Notifications,Returns";

    [Fact]
    public async Task The_order_suite_passes_in_the_monolith()
    {
        var setup = await Topology.SetUpAsync("oms_topology_monolith");
        await using var monolith = HostProcess.Start([.. setup.Common()]);
        await monolith.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        var client = Topology.Client(monolith, setup.Key);
        await OrderSuite.RunAsync(setup, client, client, client);
    }

    [Fact]
    public async Task The_order_suite_passes_with_orders_in_its_own_process_and_orders_wait_while_the_modules_it_calls_are_down()
    {
        var setup = await Topology.SetUpAsync("oms_topology_orders_apart");
        var othersPort = HostProcess.FreePort();
        var others = HostProcess.StartOnPort(othersPort, [.. setup.Common(), .. setup.Broker(), "--modules", Others]);
        try
        {
            await others.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
            await using var orders = HostProcess.Start([
                .. setup.Common(), .. setup.Broker(), "--modules", "Orders",
                .. new[] { "Inventory", "Payments", "Pricing" }.SelectMany(m => new[] { $"--Oms:Remote:{m}", $"http://127.0.0.1:{othersPort}" }),
                "--Oms:Remote:ApiKey", setup.Key, "--Oms:Remote:AttemptTimeout", "00:00:03", "--Oms:Remote:TotalTimeout", "00:00:06",
            ]);
            await orders.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
            using var ordersClient = Topology.Client(orders, setup.Key);
            var othersClient = Topology.Client(others, setup.Key);
            await OrderSuite.RunAsync(setup, ordersClient, othersClient, othersClient);

            // The process Orders calls (stock, payment, pricing) stops: captures still answer 202, the orders wait,
            // and they settle once it is back on its address.
            await others.StopAsync(TimeSpan.FromSeconds(60));
            await others.DisposeAsync();
            var waiting = await OrderSuite.PlaceAsync(ordersClient, Enumerable.Range(0, 5).Select(i => OrderSuite.Order($"DEMO-{160 + i:0000}")).ToArray());
            await Task.Delay(TimeSpan.FromSeconds(3));
            Assert.All(await OrderSuite.StatusesAsync(ordersClient, waiting), s => Assert.Equal("pending", s));
            others = HostProcess.StartOnPort(othersPort, [.. setup.Common(), .. setup.Broker(), "--modules", Others]);
            await others.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
            await OrderSuite.WaitForAsync(ordersClient, waiting, "confirmed", TimeSpan.FromSeconds(90));
            await Invariants.AssertHoldAsync(setup.Database, waiting);
        }
        finally
        {
            await others.DisposeAsync();
        }
    }
}

/// <summary>The third topology: every module in its own process, and a gateway as the one public URL.</summary>
[Collection(BrokerCollection.Name)]
public sealed class ApartTopologyTests
{
    private static readonly string[] Modules = ["Orders", "Inventory", "Payments", "Pricing", "Fulfillment", "Notifications", "Returns"];

    [Fact]
    public async Task The_order_suite_passes_with_all_seven_modules_apart_behind_the_gateway()
    {
        var setup = await Topology.SetUpAsync("oms_topology_apart");
        var ports = Modules.ToDictionary(m => m, _ => HostProcess.FreePort());
        var gatewayPort = HostProcess.FreePort();
        var gatewayUrl = $"http://127.0.0.1:{gatewayPort}";
        var services = new List<HostProcess>();
        try
        {
            // Each service reaches the others' module API through the gateway (one address to configure).
            services.AddRange(Modules.Select(m => HostProcess.StartOnPort(ports[m], [
                .. setup.Common(), .. setup.Broker(), "--modules", m,
                "--Oms:Remote:Gateway", gatewayUrl, "--Oms:Remote:ApiKey", setup.Key,
            ])));
            services.Add(HostProcess.StartOnPort(gatewayPort, [
                .. setup.Common(), "--modules", "none", "--Oms:Gateway:Enabled", "true",
                .. Modules.SelectMany(m => new[] { $"--Oms:Remote:{m}", $"http://127.0.0.1:{ports[m]}" }),
            ]));
            await Task.WhenAll(services.Select(s => s.WaitUntilReadyAsync(TimeSpan.FromSeconds(180))));
            var gateway = services[^1];
            using var client = Topology.Client(gateway, setup.Key);

            // Readiness of the gateway is the services' readiness.
            var ready = await client.GetFromJsonAsync<JsonElement>("/health/ready");
            Assert.Equal("Healthy", ready.GetProperty("checks").EnumerateArray().Single(c => c.GetProperty("name").GetString() == "services").GetProperty("status").GetString());

            await OrderSuite.RunAsync(setup, client, client, Topology.Client(services[Array.IndexOf(Modules, "Pricing")], setup.Key));

            // The internal module API needs the service credential, at the gateway and at the process behind it.
            using (var created = await client.PostAsJsonAsync("/api/v1/admin/api-keys", new { name = "shop", scopes = new[] { "orders:write" } }))
            {
                Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
                var shopKey = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!;
                var pricingProcess = services[Array.IndexOf(Modules, "Pricing")];
                foreach (var (target, credential, expected) in new[]
                         {
                             (gateway, shopKey, HttpStatusCode.Forbidden), (pricingProcess, shopKey, HttpStatusCode.Forbidden),
                             (gateway, (string?)null, HttpStatusCode.Unauthorized), (pricingProcess, null, HttpStatusCode.Unauthorized),
                         })
                {
                    using var caller = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{target.Port}") };
                    if (credential is not null)
                    {
                        caller.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", credential);
                    }

                    using var call = await caller.PostAsJsonAsync("/internal/modules/pricing/GetServiceLevels", new { currency = "EUR" });
                    Assert.Equal(expected, call.StatusCode);
                    Assert.False(call.Headers.Contains("X-Oms-Module"), "refused before the module API");
                }
            }

            // One service down: the gateway still answers, and reports it.
            var pricing = services[Array.IndexOf(Modules, "Pricing")];
            await pricing.StopAsync(TimeSpan.FromSeconds(60));
            using var degraded = await client.GetAsync("/health/ready");
            var body = await degraded.Content.ReadAsStringAsync();
            Assert.Contains("Degraded", body, StringComparison.Ordinal);
            Assert.Contains("unreachable", body, StringComparison.Ordinal);
            using var anonymous = new HttpClient { BaseAddress = client.BaseAddress };
            Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/api/v1/orders")).StatusCode); // the gateway checks the credential itself
        }
        finally
        {
            await Task.WhenAll(services.Select(s => s.DisposeAsync().AsTask()));
        }
    }
}

/// <summary>The tests that use the test broker run one after the other: some stop it.</summary>
[CollectionDefinition(Name)]
public sealed class BrokerCollection
{
    public const string Name = "broker";
}

/// <summary>What a topology test starts from: a seeded database, a key, a broker topology of its own.</summary>
internal sealed record Topology(string Database, string Key, string BrokerUri, string Prefix)
{
    public static async Task<Topology> SetUpAsync(string name)
    {
        var database = await TestDatabase.CreateDatabaseAsync($"{name}_{Environment.ProcessId}");
        var broker = await TestBroker.GetUriAsync();
        var (exitCode, output) = await HostProcess.RunToExitAsync(TimeSpan.FromSeconds(120), "seed-demo", "--connection-string", database);
        Assert.True(exitCode == 0, output);
        (exitCode, output) = await HostProcess.RunToExitAsync(TimeSpan.FromSeconds(60), "keys", "create", "--name", "topology-tests",
            "--scopes", "orders:write,orders:review,inventory:write,fulfillment:write,payments:read,admin,modules:call", "--connection-string", database);
        Assert.True(exitCode == 0, output);
        var key = output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("oms_", StringComparison.Ordinal));
        return new Topology(database, key, broker, $"t{Guid.NewGuid():N}"[..9]);
    }

    /// <summary>Settings every process of the topology shares: the database, short retry pauses, the hold rule the suite uses.</summary>
    public string[] Common() =>
    [
        "--connection-string", Database,
        "--Oms:Messaging:PollInterval", "00:00:00.500",
        "--Oms:Messaging:BaseRetryDelay", "00:00:00.100",
        "--Oms:Messaging:MaxOutagePause", "00:00:01",
        "--Oms:Messaging:MaxAttempts", "3",
        "--Oms:Payments:CircuitBreaker:MinimumThroughput", "100000",
        "--Oms:Orders:Holds:TotalAbove", "500",
        "--Oms:RateLimit:Enabled", "false",
    ];

    public string[] Broker() =>
    [
        "--Oms:Messaging:Transport", "RabbitMq",
        "--Oms:Messaging:RabbitMq:Uri", BrokerUri,
        "--Oms:Messaging:RabbitMq:Exchange", $"{Prefix}.events",
        "--Oms:Messaging:RabbitMq:QueuePrefix", $"{Prefix}.",
    ];

    public static HttpClient Client(HostProcess host, string key)
    {
        var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.Port}"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }
}

/// <summary>The end-to-end order scenarios, through the public API only.</summary>
internal static class OrderSuite
{
    /// <param name="orders">the public URL orders are placed at</param>
    /// <param name="inventory">the public URL stock is set at</param>
    /// <param name="pricingProcess">the process hosting Pricing (messaging administration is per process)</param>
    public static async Task RunAsync(Topology setup, HttpClient orders, HttpClient inventory, HttpClient pricingProcess)
    {
        // Happy path; a pickup; a declined payment; a SKU nobody stocks.
        var happy = await PlaceAsync(orders, [Order("DEMO-0101"), Order("DEMO-0102", quantity: 2)]);
        var pickup = await PlaceAsync(orders, [Order("DEMO-0103", pickup: "STORE-BER-MITTE", quantity: 1)]);
        var declined = await PlaceAsync(orders, [Order("DEMO-0104", token: "sandbox-decline")]);
        var outOfStock = await PlaceAsync(orders, [Order("DEMO-0050")]);
        // Hold (total above 500), then release; hold, then cancel (its reservation is given back).
        var released = await PlaceAsync(orders, [Order("DEMO-0119", quantity: 12)]);
        var cancelled = await PlaceAsync(orders, [Order("DEMO-0079", quantity: 12)]);

        await WaitForAsync(orders, happy, "confirmed", TimeSpan.FromSeconds(90));
        await WaitForAsync(orders, declined, "cancelled", TimeSpan.FromSeconds(60));
        await WaitForAsync(orders, outOfStock, "rejected", TimeSpan.FromSeconds(60));
        await WaitForAsync(orders, [.. released, .. cancelled], "on-hold", TimeSpan.FromSeconds(60));
        Assert.True((await PostAsync(orders, $"/api/v1/orders/{released[0]}/release", null)).IsSuccessStatusCode);
        Assert.True((await PostAsync(orders, $"/api/v1/orders/{cancelled[0]}/cancel", new { reason = "customer-request" })).IsSuccessStatusCode);
        await WaitForAsync(orders, released, "confirmed", TimeSpan.FromSeconds(60));
        await WaitForAsync(orders, cancelled, "cancelled", TimeSpan.FromSeconds(60));
        var pickupStatus = (await StatusesAsync(orders, pickup)).Single();
        Assert.True(pickupStatus is "confirmed" or "rejected", pickupStatus); // the store may not stock it; either way it settles

        // A split: two SKUs each stocked at one warehouse only, so the order ships from two nodes.
        foreach (var node in new[] { "WH-BER", "WH-HAM", "WH-MUC", "STORE-BER-MITTE", "STORE-KOELN" })
        {
            foreach (var (sku, at) in new[] { ("DEMO-0171", "WH-BER"), ("DEMO-0172", "WH-MUC") })
            {
                using var level = await inventory.PutAsJsonAsync($"/api/v1/inventory/stock/{sku}/{node}", new { onHand = node == at ? 5 : 0 });
                Assert.True(level.IsSuccessStatusCode, await level.Content.ReadAsStringAsync());
            }
        }

        var split = await PlaceAsync(orders, [Order([("DEMO-0171", 1), ("DEMO-0172", 1)])]);
        await WaitForAsync(orders, split, "confirmed", TimeSpan.FromSeconds(60));
        Assert.Equal(2, await CountAsync(setup.Database, $"SELECT count(DISTINCT node_code) FROM fulfillment.fulfilment_orders WHERE order_id = '{split[0]}'"));

        // After confirmation: both nodes pick, pack and ship; the two captures add up to the total; the carrier delivers; the customer is told.
        var fulfilment = (await inventory.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/orders?orderId={split[0]}")).EnumerateArray().Select(f => f.GetProperty("id").GetGuid()).ToArray();
        Assert.Equal(2, fulfilment.Length);
        foreach (var fo in fulfilment)
        {
            Assert.True((await PostAsync(inventory, $"/api/v1/fulfillment/fulfilment-orders/{fo}/start-picking", null)).IsSuccessStatusCode);
            Assert.True((await PostAsync(inventory, $"/api/v1/fulfillment/fulfilment-orders/{fo}/pack", new { parcels = 1 })).IsSuccessStatusCode);
            using var ship = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/fulfillment/fulfilment-orders/{fo}/shipments")
            {
                Content = JsonContent.Create(new { carrier = "dhl", service = "parcel", trackingNumber = $"SUITE{fo:N}"[..20] }),
                Headers = { { "Idempotency-Key", $"suite-{fo}" } },
            };
            using var shipped = await inventory.SendAsync(ship);
            Assert.True(shipped.StatusCode == System.Net.HttpStatusCode.Created, await shipped.Content.ReadAsStringAsync());
            Assert.True((await PostAsync(inventory, "/api/v1/fulfillment/carrier-events", new { carrier = "dhl", trackingNumber = $"SUITE{fo:N}"[..20], @event = "delivered" })).IsSuccessStatusCode);
        }

        await WaitForAsync(orders, split, "delivered", TimeSpan.FromSeconds(60));
        var splitTotal = (await orders.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{split[0]}")).GetProperty("total").GetDecimal();
        var captureDeadline = DateTime.UtcNow.AddSeconds(60);
        while ((await inventory.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={split[0]}")).GetProperty("captured").GetDecimal() != splitTotal && DateTime.UtcNow < captureDeadline)
        {
            await Task.Delay(250);
        }

        Assert.Equal(2, await CountAsync(setup.Database, $"SELECT count(*) FROM payments.captures WHERE order_id = '{split[0]}'"));
        Assert.Equal(splitTotal, (await inventory.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={split[0]}")).GetProperty("captured").GetDecimal());
        var mailDeadline = DateTime.UtcNow.AddSeconds(60);
        while (await CountAsync(setup.Database, $"SELECT count(*) FROM notifications.emails WHERE order_id = '{split[0]}' AND status = 'Sent'") < 5 && DateTime.UtcNow < mailDeadline)
        {
            await Task.Delay(250);
        }

        Assert.Equal(5, await CountAsync(setup.Database, $"SELECT count(*) FROM notifications.emails WHERE order_id = '{split[0]}' AND status = 'Sent'")); // confirmed, two shipped, two delivered

        // Idempotent capture: the same key answers the same order, and places nothing more.
        var body = Order("DEMO-0105");
        var first = await PlaceAsync(orders, [body], key: "suite-idempotent");
        var again = await PlaceAsync(orders, [body], key: "suite-idempotent");
        Assert.Equal(first, again);
        await WaitForAsync(orders, first, "confirmed", TimeSpan.FromSeconds(60));

        // The oversell storm: 100 concurrent orders for 10 units, exactly 10 confirmed.
        using (var stock = await inventory.PutAsJsonAsync("/api/v1/inventory/stock/DEMO-0150/WH-BER", new { onHand = 10 }))
        {
            Assert.True(stock.IsSuccessStatusCode, await stock.Content.ReadAsStringAsync());
        }

        var storm = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => PlaceAsync(orders, [Order("DEMO-0150")])));
        var stormIds = storm.SelectMany(s => s).ToArray();
        var deadline = DateTime.UtcNow.AddSeconds(120);
        string[] statuses;
        while ((statuses = await StatusesAsync(orders, stormIds)).Any(s => s is "pending") && DateTime.UtcNow < deadline)
        {
            await Task.Delay(500);
        }

        Assert.Equal(10, statuses.Count(s => s == "confirmed"));
        Assert.Equal(90, statuses.Count(s => s == "rejected"));

        await Invariants.AssertHoldAsync(setup.Database, [.. happy, .. pickup, .. declined, .. outOfStock, .. released, .. cancelled, .. split, .. first, .. stormIds]);
        await DeadLetterAndReplayAsync(setup, pricingProcess, cancelled[0]);
    }

    /// <summary>
    /// A delivery Pricing cannot read (put into its inbox as a broken publisher would) becomes a dead letter
    /// after its attempts and is listed with its error; once it can be read (as after a fix), a replay
    /// over HTTP processes it.
    /// </summary>
    private static async Task DeadLetterAndReplayAsync(Topology setup, HttpClient pricingProcess, Guid cancelledOrder)
    {
        var messageId = Guid.NewGuid();
        await ExecuteAsync(setup.Database, """
            INSERT INTO pricing.inbox_messages (id, message_id, consumer, message_type, payload, partition_key, occurred_at, received_at, status, attempts, next_attempt_at)
            VALUES (gen_random_uuid(), $1, 'pricing.ReleaseCouponUsesOnCancel', 'orders.order-cancelled.v1', '{"orderId":"not-an-id"}'::jsonb, $2, now(), now(), 0, 0, now());
            SELECT pg_notify('oms_messaging', 'inbox:pricing');
            """, messageId, cancelledOrder.ToString());

        JsonElement? deadLetter = null;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (deadLetter is null && DateTime.UtcNow < deadline)
        {
            var list = await pricingProcess.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/dead-letters?module=Pricing&consumer=pricing.ReleaseCouponUsesOnCancel");
            deadLetter = list.EnumerateArray().Cast<JsonElement?>().FirstOrDefault(d => d!.Value.GetProperty("messageId").GetGuid() == messageId);
            await Task.Delay(deadLetter is null ? 300 : 0);
        }

        Assert.True(deadLetter is not null, "the unreadable delivery became a dead letter");
        Assert.False(string.IsNullOrEmpty(deadLetter!.Value.GetProperty("lastError").GetString()));

        await ExecuteAsync(setup.Database, "UPDATE pricing.inbox_messages SET payload = jsonb_build_object('orderId', $2::text, 'reason', 'customer-request', 'cancelledAt', now()) WHERE message_id = $1",
            messageId, cancelledOrder.ToString());
        using var replay = await pricingProcess.PostAsync($"/api/v1/admin/messaging/dead-letters/Pricing/{deadLetter.Value.GetProperty("id").GetGuid()}/replay", null);
        Assert.True(replay.IsSuccessStatusCode, await replay.Content.ReadAsStringAsync());
        deadline = DateTime.UtcNow.AddSeconds(60);
        while (await StatusOfAsync(setup.Database, messageId) != 1 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        Assert.Equal(1, await StatusOfAsync(setup.Database, messageId)); // processed
    }

    private static async Task ExecuteAsync(string database, string sql, params object[] values)
    {
        await using var connection = new Npgsql.NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var batch = new Npgsql.NpgsqlBatch(connection);
        foreach (var statement in sql.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var command = new Npgsql.NpgsqlBatchCommand(statement);
            var used = System.Text.RegularExpressions.Regex.Matches(statement, @"\$(\d+)").Select(m => int.Parse(m.Groups[1].Value)).DefaultIfEmpty(0).Max();
            foreach (var value in values.Take(used))
            {
                command.Parameters.Add(new Npgsql.NpgsqlParameter { Value = value });
            }

            batch.BatchCommands.Add(command);
        }

        await batch.ExecuteNonQueryAsync();
    }

    /// <summary>One count from the topology's database (a test tool may read every schema).</summary>
    public static async Task<long> CountAsync(string database, string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task<int> StatusOfAsync(string database, Guid messageId)
    {
        await using var connection = new Npgsql.NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT status FROM pricing.inbox_messages WHERE message_id = $1", connection) { Parameters = { new() { Value = messageId } } };
        return Convert.ToInt32(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public static object Order(string sku, int quantity = 1, string token = "sandbox-approve", string? pickup = null) =>
        Order([(sku, quantity)], token, pickup);

    public static object Order((string Sku, int Quantity)[] items, string token = "sandbox-approve", string? pickup = null)
    {
        var customer = TestData.Unique("suite");
        return new
        {
            channel = "web",
            customer = new { id = customer, email = $"{customer}@example.com", name = "Ada Lovelace" },
            currency = "EUR",
            lines = items.Select(i => new { sku = i.Sku, quantity = i.Quantity }).ToArray(),
            shippingAddress = new { name = "Ada Lovelace", lines = new[] { "Unter den Linden 1" }, city = "Berlin", postalCode = "10117", countryCode = "DE", latitude = 52.517, longitude = 13.389 },
            delivery = pickup is null ? (object)new { method = "ship", serviceLevel = "standard" } : new { method = "pickup", pickupLocation = pickup },
            payment = new { method = "card", token },
        };
    }

    public static async Task<List<Guid>> PlaceAsync(HttpClient client, IReadOnlyList<object> bodies, string? key = null)
    {
        var ids = new List<Guid>();
        foreach (var body in bodies)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/orders") { Content = JsonContent.Create(body) };
            request.Headers.Add("Idempotency-Key", key ?? Guid.NewGuid().ToString("N"));
            using var response = await client.SendAsync(request);
            Assert.True(response.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            ids.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid());
        }

        return ids;
    }

    public static async Task<HttpResponseMessage> PostAsync(HttpClient client, string path, object? body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = body is null ? null : JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
        return await client.SendAsync(request);
    }

    public static async Task<string[]> StatusesAsync(HttpClient client, IEnumerable<Guid> ids) =>
        await Task.WhenAll(ids.Select(async id => (await client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("status").GetString()!));

    public static async Task WaitForAsync(HttpClient client, IReadOnlyCollection<Guid> ids, string status, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        string[] statuses;
        while ((statuses = await StatusesAsync(client, ids)).Any(s => s != status))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Not all {ids.Count} orders reached {status}: {string.Join(", ", statuses.GroupBy(s => s).Select(g => $"{g.Count()} {g.Key}"))}");
            }

            await Task.Delay(300);
        }
    }
}
