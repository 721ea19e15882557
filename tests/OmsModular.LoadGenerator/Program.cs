using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;

// Order load generator: places orders over HTTP at a chosen concurrency with a realistic mix and
// reports capture throughput and latency, end-to-end confirmations, capture→confirmed latency and
// PostgreSQL commits per order. Loopback only.
//   dotnet build -c Release Host && dotnet run -c Release --project tests/OmsModular.LoadGenerator -- [--concurrency 32] [--seconds 60] [--warmup 20] [--rate 300] [--cancel-percent 5] [--host-args "--modules Orders"]
// --cancel-percent N: that share of the captured orders is cancelled by its customer 150 ms after capture
// (while the pipeline works on it); the report counts the other orders that did not confirm for a reason
// a cancel could cause. After each phase the money and stock invariant checker runs over its orders.
// --rate offers a fixed number of orders per second (open loop) to measure a sustained rate: the
// pipeline keeps up when confirmations follow captures at that rate with a bounded capture→confirmed latency.
// Without --url it starts its own Host (Release build, embedded PostgreSQL in a temporary folder, demo data).
// --ship 1: beside capture, shippers pick, pack and ship every order that confirms (--ship-workers, 8);
// the Host then sends its e-mails to an SMTP server and its webhooks to a receiver that this program
// runs on loopback, and the report adds shipments, captures, e-mails and webhooks per second.
// --change P (with --ship 1): P % of the shipped orders are changed first (one more unit of their
// first line) and shipped once the change is decided; the report adds changes applied and refused.
var concurrency = Arg("--concurrency", 32);
var seconds = Arg("--seconds", 60);
var rate = Arg("--rate", 0); // orders per second offered (open loop); 0 = as fast as the workers go (closed loop)
var cancelPercent = Arg("--cancel-percent", 0);
var url = ArgText("--url");
var ship = Arg("--ship", 0) == 1;
var shipWorkers = Arg("--ship-workers", 8);
var changePercent = Arg("--change", 0); // with --ship 1: the percentage of shipped orders changed first (one more unit)
await using var receivers = ship ? await Receivers.StartAsync() : null;
string[] demoSkus = [.. Enumerable.Range(1, 300).Select(i => $"DEMO-{i:0000}")]; // the demo data's catalogue
HostRun? host = null;
if (url is null)
{
    host = await HostRun.StartAsync([.. (ArgText("--host-args") ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries), .. receivers?.HostArguments ?? []]);
    url = host.Url;
}

using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(30) };
// The API key: the embedded default's first admin key for a Host it started, else --api-key or OMS_API_KEY.
var apiKey = host?.AdminKey ?? ArgText("--api-key") ?? Environment.GetEnvironmentVariable("OMS_API_KEY")
             ?? throw new InvalidOperationException("With --url, give an API key with the orders, inventory, fulfillment and admin scopes: --api-key or OMS_API_KEY.");
http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
var connectionString = host?.ConnectionString ?? Environment.GetEnvironmentVariable("OMS_LOAD_CONNECTION_STRING");

try
{
    var warmup = Arg("--warmup", 20);
    if (warmup > 0)
    {
        // JIT tiering, pools and caches warm up first. Then (warm-up or not) the stock is topped up so that
        // the measured phase sees the demo's mix (a few SKUs have no stock at all) rather than a sold-out catalogue.
        await RunPhaseAsync("warm-up (not the result)", warmup);
    }

    await RestockAsync();
    if (receivers is not null)
    {
        using var subscribed = await http.PostAsJsonAsync("/api/v1/notifications/webhooks/endpoints", new { url = receivers.WebhookUrl, description = "load generator" });
        subscribed.EnsureSuccessStatusCode();
    }

    await RunPhaseAsync("measured", seconds);
}
finally
{
    if (host is not null)
    {
        await host.DisposeAsync(); // never leave the Host (and its cluster) running, even when a phase fails
    }
}

async Task RunPhaseAsync(string name, int phaseSeconds)
{
    Console.WriteLine($"--- {name}: {phaseSeconds} s at concurrency {concurrency}{(rate > 0 ? $", offering {rate} orders/s" : string.Empty)} ---");
    var commitsBefore = connectionString is null ? 0 : await CommitsAsync(connectionString);
    var latencies = new ConcurrentBag<double>();
    var ids = new ConcurrentBag<Guid>();
    var cancelled = new ConcurrentDictionary<Guid, int>(); // order → the cancel's HTTP status
    var cancels = new ConcurrentBag<Task>();
    var errors = 0;
    var stopAt = Stopwatch.GetTimestamp() + (long)(phaseSeconds * Stopwatch.Frequency);
    var started = Stopwatch.GetTimestamp();
    var startedAt = DateTimeOffset.UtcNow;
    var sent = -1L;
    var toShip = System.Threading.Channels.Channel.CreateUnbounded<Guid>();
    var shipping = ship ? Shipper.RunAsync(http, toShip.Reader, shipWorkers, changePercent / 100.0) : Task.FromResult(new Shipper.Report(0, 0, 0, 0, []));
    var emailsBefore = receivers?.Emails ?? 0;
    var webhooksBefore = receivers?.Webhooks ?? 0;
    await Task.WhenAll(Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
    {
        var rng = new Random(worker);
        while (Stopwatch.GetTimestamp() < stopAt)
        {
            if (rate > 0)
            {
                // Open loop: order n is due at n / rate seconds after the start, whatever the answers take.
                var due = started + (long)(Interlocked.Increment(ref sent) * (double)Stopwatch.Frequency / rate);
                if (due >= stopAt)
                {
                    break;
                }

                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), due);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }
            }

            var body = NewOrder(rng);
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/orders")
            {
                Content = new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
                Headers = { { "Idempotency-Key", Guid.NewGuid().ToString() } },
            };
            var t0 = Stopwatch.GetTimestamp();
            try
            {
                using var response = await http.SendAsync(request);
                latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                if ((int)response.StatusCode == 202)
                {
                    var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid();
                    ids.Add(id);
                    toShip.Writer.TryWrite(id);
                    if (cancelPercent > 0 && rng.Next(100) < cancelPercent)
                    {
                        cancels.Add(CancelLaterAsync(id, cancelled));
                    }
                }
                else
                {
                    Interlocked.Increment(ref errors);
                }
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref errors);
            }
        }
    })));
    var captureSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
    toShip.Writer.Complete();
    await Task.WhenAll(cancels);
    var sorted = latencies.Order().ToArray();
    Console.WriteLine($"capture: {ids.Count} orders in {captureSeconds:0.0} s = {ids.Count / captureSeconds:0} orders/s at concurrency {concurrency}; latency p50={P(sorted, 0.5):0.0} ms p99={P(sorted, 0.99):0.0} ms; errors={errors}");

    // Wait for the pipeline to settle, then read every order's outcome and timeline.
    var settleStart = Stopwatch.GetTimestamp();
    while (true)
    {
        var backlog = await http.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/backlog");
        if (backlog.EnumerateArray().All(m => m.GetProperty("outboxPending").GetInt64() == 0 && m.GetProperty("inboxPending").GetInt64() == 0))
        {
            break;
        }

        await Task.Delay(200);
    }

    Console.WriteLine($"pipeline settled {Stopwatch.GetElapsedTime(settleStart).TotalSeconds:0.0} s after the last capture");
    if (ship)
    {
        var shipped = await shipping;
        while (true)
        {
            var backlog = await http.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/backlog");
            if (backlog.EnumerateArray().All(m => m.GetProperty("outboxPending").GetInt64() == 0 && m.GetProperty("inboxPending").GetInt64() == 0))
            {
                break;
            }

            await Task.Delay(200);
        }

        var shipSorted = shipped.ShipLatenciesMs.Order().ToArray();
        if (changePercent > 0)
        {
            var changeSorted = (shipped.ChangeLatenciesMs ?? []).Order().ToArray();
            Console.WriteLine($"changes: {shipped.ChangesApplied} applied, {shipped.ChangesRefused} refused{(shipped.RefusedBecause is { Count: > 0 } because ? $" ({string.Join(", ", because.Select(b => $"{b.Value} {b.Key}"))})" : string.Empty)} ({(shipped.ChangesApplied + shipped.ChangesRefused) / captureSeconds:0.0} changes/s over the capture phase); request to decided p50={P(changeSorted, 0.5):0} ms p99={P(changeSorted, 0.99):0} ms (polled every 100 ms)");
        }

        Console.WriteLine($"shipping: {shipped.Shipments} shipments of {shipped.Orders} orders ({shipped.Skipped} not confirmed, not shipped); {shipped.Shipments / captureSeconds:0} shipments/s over the capture phase, the last one {shipped.LastShipmentSeconds:0.0} s after the start; pick+pack+ship calls p50={P(shipSorted, 0.5):0} ms p99={P(shipSorted, 0.99):0} ms");
        if (connectionString is not null)
        {
            var (captures, inPhase) = await CountAsync(connectionString, "payments.captures", "captured_at", startedAt, captureSeconds);
            Console.WriteLine($"captures: {captures} ({inPhase} during the capture phase = {inPhase / captureSeconds:0} captures/s sustained)");
        }

        var (emailsInPhase, webhooksInPhase) = (receivers!.Emails - emailsBefore, receivers.Webhooks - webhooksBefore);
        Console.WriteLine($"notifications when the pipeline settled: {emailsInPhase} e-mails, {webhooksInPhase} webhooks received");
        if (connectionString is not null)
        {
            // The senders drain what is stored: wait for it (bounded), then rate everything sent since the phase began.
            var drainStart = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(drainStart) < TimeSpan.FromMinutes(3) && await PendingNotificationsAsync(connectionString) > 0)
            {
                await Task.Delay(500);
            }

            var emails = receivers.Emails - emailsBefore;
            var webhooks = receivers.Webhooks - webhooksBefore;
            var window = (DateTimeOffset.UtcNow - startedAt).TotalSeconds;
            Console.WriteLine($"notifications drained {Stopwatch.GetElapsedTime(drainStart).TotalSeconds:0.0} s later: {emails} e-mails and {webhooks} webhooks in {window:0} s since the phase began = {emails / window:0} e-mails/s, {webhooks / window:0} webhooks/s; still pending: {await PendingNotificationsAsync(connectionString)}");
        }
    }
    var outcomes = new ConcurrentBag<(string Status, double? ToConfirmMs, DateTimeOffset? ConfirmedAt)>();
    var reasons = new ConcurrentDictionary<string, int>();
    var uncancelledLost = 0;
    await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (id, ct) =>
    {
        var order = await http.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}", ct);
        var placedAt = order.GetProperty("placedAt").GetDateTimeOffset();
        var confirmed = order.GetProperty("timeline").EnumerateArray().FirstOrDefault(t => t.GetProperty("event").GetString() == "pending -> confirmed");
        DateTimeOffset? at = confirmed.ValueKind == JsonValueKind.Object ? confirmed.GetProperty("at").GetDateTimeOffset() : null;
        outcomes.Add((order.GetProperty("status").GetString()!, at is null ? null : (at.Value - placedAt).TotalMilliseconds, at));
        if (order.GetProperty("statusReason").GetString() is { } reason)
        {
            reasons.AddOrUpdate($"{order.GetProperty("status").GetString()} {reason}", 1, (_, n) => n + 1);
            if (reason == "reservation-lost" && !cancelled.ContainsKey(id))
            {
                Interlocked.Increment(ref uncancelledLost);
            }
        }
    });
    if (cancelPercent > 0)
    {
        Console.WriteLine($"cancels: {cancelled.Count} requested ({cancelled.Values.Count(c => c == 200)} answered 200, {cancelled.Values.Count(c => c == 409)} 409, {cancelled.Values.Count(c => c is not 200 and not 409)} other); orders nobody cancelled that were rejected reservation-lost: {uncancelledLost}");
    }
    foreach (var group in outcomes.GroupBy(o => o.Status).OrderBy(g => g.Key))
    {
        Console.WriteLine($"  {group.Key}: {group.Count()}");
    }

    foreach (var reason in reasons.OrderByDescending(r => r.Value))
    {
        Console.WriteLine($"    {reason.Key}: {reason.Value}");
    }

    var confirmations = outcomes.Where(o => o.ConfirmedAt is not null).ToArray();
    if (confirmations.Length > 0)
    {
        var toConfirm = confirmations.Select(o => o.ToConfirmMs!.Value).Order().ToArray();
        var window = (confirmations.Max(o => o.ConfirmedAt!.Value) - startedAt).TotalSeconds;
        Console.WriteLine($"confirmed: {confirmations.Length} in {window:0.0} s = {confirmations.Length / window:0} confirmed orders/s end to end; capture→confirmed p50={P(toConfirm, 0.5):0} ms p99={P(toConfirm, 0.99):0} ms");
        var inPhase = confirmations.Count(o => o.ConfirmedAt!.Value <= startedAt.AddSeconds(captureSeconds));
        Console.WriteLine($"confirmed during the {captureSeconds:0} s of capture: {inPhase} = {inPhase / captureSeconds:0} confirmed orders/s sustained");
    }

    if (connectionString is not null)
    {
        var commits = await CommitsAsync(connectionString) - commitsBefore;
        Console.WriteLine($"PostgreSQL: {commits} commits = {(double)commits / Math.Max(1, ids.Count):0.0} commits per order (all activity of the database, reads included)");
        var report = await OmsModular.Testing.Invariants.CheckAsync(connectionString, ids.ToArray());
        Console.WriteLine($"invariants: {report}");
    }
}

/// <summary>The customer cancels 150 ms after capture (the pipeline is then usually working on the order).</summary>
async Task CancelLaterAsync(Guid id, ConcurrentDictionary<Guid, int> answers)
{
    await Task.Delay(150);
    try
    {
        using var response = await http.PostAsJsonAsync($"/api/v1/orders/{id}/cancel", new { reason = "customer-request" });
        answers[id] = (int)response.StatusCode;
    }
    catch (HttpRequestException)
    {
        answers[id] = 0;
    }
}

/// <summary>
/// Tops up every demo stock row that holds stock, in warehouses and stores (the SKUs the demo keeps
/// out of stock stay at zero, and a store still lacks the SKUs it does not carry), and lifts every
/// node's daily cap (the demo's stores take 50 orders a day, its warehouses 5,000), so the measured
/// phase measures the pipeline rather than a sold-out catalogue or capacity rejections. Skipped
/// when Inventory or Fulfillment is not hosted (e.g. --host-args "--modules Orders").
/// </summary>
async Task RestockAsync()
{
    using var listed = await http.GetAsync("/api/v1/fulfillment/nodes");
    using var stock = await http.GetAsync("/api/v1/inventory/availability?" + string.Join('&', demoSkus.Select(s => $"sku={s}")));
    if (!listed.IsSuccessStatusCode || !stock.IsSuccessStatusCode)
    {
        return;
    }

    var nodes = (await listed.Content.ReadFromJsonAsync<JsonElement>()).EnumerateArray().ToArray();
    var rows = (await stock.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("skus").EnumerateArray()
        .SelectMany(s => s.GetProperty("locations").EnumerateArray())
        .Where(l => l.GetProperty("onHand").GetInt32() > 0)
        .Select(l => new { sku = l.GetProperty("sku").GetString(), location = l.GetProperty("location").GetString(), onHand = 1_000_000 })
        .ToArray();
    using (var restocked = await http.PostAsJsonAsync("/api/v1/inventory/stock/batch", new { items = rows }))
    {
        restocked.EnsureSuccessStatusCode();
    }

    foreach (var node in nodes)
    {
        var view = JsonNode.Parse(node.GetRawText())!.AsObject();
        var body = new JsonObject();
        foreach (var field in new[] { "name", "kind", "countryCode", "latitude", "longitude", "canShip", "canPickup", "priority", "active" })
        {
            body[field] = view[field]?.DeepClone(); // the request's fields only: the API refuses unknown ones
        }

        body["dailyCapacity"] = 0;
        using var put = await http.PutAsJsonAsync($"/api/v1/fulfillment/nodes/{node.GetProperty("code").GetString()}", body);
        put.EnsureSuccessStatusCode();
    }
}

JsonObject NewOrder(Random rng)
{
    var roll = rng.Next(100);
    var channel = roll < 50 ? "web" : roll < 75 ? "app" : roll < 90 ? "marketplace" : "store";
    var skus = Enumerable.Range(0, rng.Next(1, 6)).Select(_ => demoSkus[rng.Next(demoSkus.Length)]).Distinct().ToArray();
    var order = new JsonObject
    {
        ["channel"] = channel,
        ["customer"] = new JsonObject { ["id"] = $"load-{rng.Next(10_000)}", ["email"] = "load@example.com", ["name"] = "Load Test" },
        ["currency"] = "EUR",
        ["lines"] = new JsonArray(skus.Select(s => (JsonNode)new JsonObject { ["sku"] = s, ["quantity"] = rng.Next(1, 3) }).ToArray()),
        ["shippingAddress"] = new JsonObject
        {
            ["name"] = "Load Test",
            ["lines"] = new JsonArray("Teststraße 1"),
            ["city"] = "Berlin",
            ["postalCode"] = "10117",
            ["countryCode"] = "DE",
            ["latitude"] = 52.0 + rng.NextDouble() * 2,
            ["longitude"] = 8.0 + rng.NextDouble() * 6,
        },
        ["delivery"] = rng.Next(10) == 0
            ? new JsonObject { ["method"] = "pickup", ["pickupLocation"] = rng.Next(2) == 0 ? "STORE-BER-MITTE" : "STORE-KOELN" }
            : new JsonObject { ["method"] = "ship", ["serviceLevel"] = rng.Next(5) == 0 ? "express" : "standard" },
        ["couponCodes"] = rng.Next(10) == 0 ? new JsonArray("WELCOME10") : new JsonArray(),
        ["payment"] = new JsonObject { ["method"] = "card", ["token"] = rng.Next(20) == 0 ? "sandbox-decline" : "sandbox-approve" },
    };
    if (channel == "marketplace")
    {
        order["marketplace"] = "demo-market";
        order["externalOrderId"] = Guid.NewGuid().ToString("N");
    }

    return order;
}

static async Task<long> PendingNotificationsAsync(string connectionString)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand("SELECT (SELECT count(*) FROM notifications.emails WHERE status = 'Pending') + (SELECT count(*) FROM notifications.webhook_deliveries WHERE status = 'Pending')", connection);
    return (long)(await command.ExecuteScalarAsync())!;
}

static async Task<(long All, long InPhase)> CountAsync(string connectionString, string table, string column, DateTimeOffset from, double seconds)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand($"SELECT count(*) FILTER (WHERE {column} >= $1), count(*) FILTER (WHERE {column} >= $1 AND {column} <= $2) FROM {table}", connection);
    command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = from });
    command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = from.AddSeconds(seconds) });
    await using var reader = await command.ExecuteReaderAsync();
    await reader.ReadAsync();
    return (reader.GetInt64(0), reader.GetInt64(1));
}

static double P(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

static async Task<long> CommitsAsync(string connectionString)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()", connection);
    return (long)(await command.ExecuteScalarAsync())!;
}

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

string? ArgText(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

/// <summary>The Host (Release build) run as its own process on an embedded cluster with demo data.</summary>
internal sealed class HostRun : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private HostRun(Process process, string directory, string url)
    {
        _process = process;
        _directory = directory;
        Url = url;
    }

    public string Url { get; }

    /// <summary>Where the cluster lives (its own folder, or where it was placed when the postgres user cannot reach it).</summary>
    private string ClusterDirectory =>
        File.Exists(Path.Combine(_directory, "cluster-location"))
            ? System.Text.RegularExpressions.Regex.Match(File.ReadAllText(Path.Combine(_directory, "cluster-location")), "lives in (?<dir>.+?): ").Groups["dir"].Value
            : _directory;

    /// <summary>The admin API key the embedded default created on its first start.</summary>
    public string AdminKey => File.ReadAllText(Path.Combine(_directory, "admin-key")).Trim();

    public string ConnectionString
    {
        get
        {
            var port = File.ReadAllLines(Path.Combine(ClusterDirectory, "data", "postmaster.pid"))[3];
            var password = File.ReadAllText(Path.Combine(ClusterDirectory, "password")).Trim();
            return $"Host=127.0.0.1;Port={port};Username=oms;Password={password};Database=oms;Pooling=false";
        }
    }

    public static async Task<HostRun> StartAsync(string[] extraArguments)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "OmsModular.sln")))
        {
            root = root.Parent!;
        }

        var dll = Path.Combine(root.FullName, "Host", "bin", "Release", "net10.0", "OmsModular.Host.dll");
        var directory = Path.Combine(Path.GetTempPath(), $"oms-load-{Guid.NewGuid():N}");
        var url = "http://127.0.0.1:5099";
        var process = Process.Start(new ProcessStartInfo("dotnet", [dll, "--data-dir", directory, "--urls", url, "--seed-demo", "true", .. extraArguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            // The load is one client: its rate limit is lifted so that the system, not the limiter, is measured.
            Environment =
            {
                ["ASPNETCORE_ENVIRONMENT"] = "Production", ["Serilog__MinimumLevel__Default"] = "Warning", ["Oms__RateLimit__Enabled"] = "false",
                ["Oms__Notifications__Email__PickupDirectory"] = Path.Combine(directory, "mail"), // without an SMTP server: files, removed with the run
            },
        })!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var probe = new HttpClient();
        for (var i = 0; i < 600; i++)
        {
            try
            {
                if ((await probe.GetAsync($"{url}/health/ready")).IsSuccessStatusCode)
                {
                    return new HostRun(process, directory, url);
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(200);
        }

        throw new TimeoutException("The Host did not start.");
    }

    public async ValueTask DisposeAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        await _process.WaitForExitAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
