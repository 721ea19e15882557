using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Threading.Channels;

/// <summary>
/// Ships what confirms: per captured order, waits until it is confirmed (or gives it up when it is
/// rejected or cancelled), then starts picking, packs and ships each of its fulfilment orders in full
/// (a pickup order is made ready for pickup and picked up at its store). With a change rate, that
/// share of the shipped orders is first changed (one more unit of its first line, through
/// <c>POST /orders/{id}/changes</c>) and shipped once the change is decided.
/// </summary>
internal static class Shipper
{
    public sealed record Report(
        int Orders, int Shipments, int Skipped, double LastShipmentSeconds, IReadOnlyList<double> ShipLatenciesMs,
        int ChangesApplied = 0, int ChangesRefused = 0, IReadOnlyList<double>? ChangeLatenciesMs = null, IReadOnlyDictionary<string, int>? RefusedBecause = null);

    public static async Task<Report> RunAsync(HttpClient http, ChannelReader<Guid> captured, int workers, double changeRate = 0)
    {
        var changeLatencies = new ConcurrentBag<double>();
        var refusedBecause = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        int applied = 0, refused = 0;
        var started = Stopwatch.GetTimestamp();
        var latencies = new ConcurrentBag<double>();
        int orders = 0, shipments = 0, skipped = 0;
        long last = 0;
        var retry = Channel.CreateUnbounded<(Guid Id, long Due)>();
        var pending = 0;
        var done = new TaskCompletionSource();
        _ = Task.Run(async () =>
        {
            await captured.Completion;
            if (Volatile.Read(ref pending) == 0)
            {
                done.TrySetResult();
            }
        });

        async Task HandleAsync(Guid id)
        {
            var order = await http.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
            var status = order.GetProperty("status").GetString();
            if (status is "pending" or "on-hold")
            {
                await retry.Writer.WriteAsync((id, Stopwatch.GetTimestamp() + Stopwatch.Frequency / 5)); // again in 200 ms
                return;
            }

            if (status != "confirmed")
            {
                Interlocked.Increment(ref skipped);
                Finished();
                return;
            }

            var expected = 1;
            if (changeRate > 0 && order.GetProperty("delivery").GetProperty("method").GetString() == "ship" && order.GetProperty("channel").GetString() != "marketplace"
                && Random.Shared.NextDouble() < changeRate)
            {
                var line = order.GetProperty("lines")[0];
                var t0 = Stopwatch.GetTimestamp();
                using var change = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/orders/{id}/changes")
                {
                    Content = JsonContent.Create(new { lines = new[] { new { sku = line.GetProperty("sku").GetString(), quantity = line.GetProperty("quantity").GetInt32() - line.GetProperty("quantities").GetProperty("cancelled").GetInt32() + 1 } } }),
                    Headers = { { "Idempotency-Key", $"load-change-{id}" } },
                };
                using var asked = await http.SendAsync(change);
                string? decided = null;
                var because = asked.StatusCode == HttpStatusCode.Accepted ? "undecided" : $"{(int)asked.StatusCode} {(await asked.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString()}";
                for (var i = 0; i < 300 && asked.StatusCode == HttpStatusCode.Accepted && decided is null; i++)
                {
                    await Task.Delay(100);
                    var now = await http.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
                    var decision = now.GetProperty("changes").EnumerateArray().FirstOrDefault(c => c.GetProperty("status").GetString() != "requested");
                    if (decision.ValueKind == JsonValueKind.Object)
                    {
                        decided = decision.GetProperty("status").GetString();
                        because = decision.GetProperty("refusalReason").GetString() ?? because;
                    }
                }

                changeLatencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                if (decided == "applied")
                {
                    Interlocked.Increment(ref applied);
                    expected = 2; // the added unit has a fulfilment order of its own
                }
                else
                {
                    Interlocked.Increment(ref refused);
                    refusedBecause.AddOrUpdate(because, 1, (_, n) => n + 1);
                }
            }

            JsonElement[] fulfilment = [];
            for (var i = 0; i < 50 && fulfilment.Length < expected; i++)
            {
                fulfilment = (await http.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/orders?orderId={id}")).EnumerateArray().ToArray();
                if (fulfilment.Length < expected)
                {
                    await Task.Delay(100);
                }
            }

            foreach (var fo in fulfilment)
            {
                var foId = fo.GetProperty("id").GetGuid();
                var t0 = Stopwatch.GetTimestamp();
                (await http.PostAsync($"/api/v1/fulfillment/fulfilment-orders/{foId}/start-picking", null)).Dispose();
                (await http.PostAsJsonAsync($"/api/v1/fulfillment/fulfilment-orders/{foId}/pack", new { parcels = 1 })).Dispose();
                if (fo.GetProperty("isPickup").GetBoolean())
                {
                    // A pickup order is handed over at its store.
                    (await http.PostAsync($"/api/v1/fulfillment/fulfilment-orders/{foId}/ready-for-pickup", null)).Dispose();
                    using var picked = await http.PostAsync($"/api/v1/fulfillment/fulfilment-orders/{foId}/picked-up", null);
                    latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                    if (picked.IsSuccessStatusCode)
                    {
                        Interlocked.Increment(ref shipments);
                        Interlocked.Exchange(ref last, Stopwatch.GetTimestamp());
                    }

                    continue;
                }

                using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/fulfillment/fulfilment-orders/{foId}/shipments")
                {
                    Content = JsonContent.Create(new { carrier = "dhl", service = "parcel", trackingNumber = $"LOAD{foId:N}"[..24] }),
                    Headers = { { "Idempotency-Key", foId.ToString() } },
                };
                using var response = await http.SendAsync(request);
                latencies.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    Interlocked.Increment(ref shipments);
                    Interlocked.Exchange(ref last, Stopwatch.GetTimestamp());
                }
            }

            Interlocked.Increment(ref orders);
            Finished();
        }

        void Finished()
        {
            if (Interlocked.Decrement(ref pending) == 0 && captured.Completion.IsCompleted)
            {
                done.TrySetResult();
            }
        }

        var tasks = Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            while (!done.Task.IsCompleted)
            {
                if (captured.TryRead(out var id))
                {
                    Interlocked.Increment(ref pending);
                    await HandleAsync(id);
                    continue;
                }

                if (retry.Reader.TryRead(out var again))
                {
                    var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), again.Due);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait);
                    }

                    await HandleAsync(again.Id);
                    continue;
                }

                await Task.WhenAny(captured.WaitToReadAsync().AsTask(), retry.Reader.WaitToReadAsync().AsTask(), done.Task, Task.Delay(100));
            }
        })).ToArray();
        await Task.WhenAll(tasks);
        return new Report(orders, shipments, skipped, last == 0 ? 0 : Stopwatch.GetElapsedTime(started, last).TotalSeconds, latencies.ToArray(), applied, refused, changeLatencies.ToArray(), refusedBecause);
    }
}
