using System.Diagnostics;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OmsModular.Shared.Contracts;
using OmsModular.Shared.Infrastructure.Database;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Modules;
using OmsModular.Shared.Infrastructure.Persistence;

// Messaging backbone benchmark: outbox → dispatcher → in-process transport → inbox → trivial consumer.
//   dotnet run -c Release --project tests/OmsModular.Benchmarks [-- --events 50000 --latency-events 2000 --batch 500 --durable]
// Throughput: events pre-committed to the outbox, then drained by 1 and by 2 dispatchers/processors.
// Hop latency: events published one at a time into running workers; time from the publisher's
// SaveChanges (commit included) to the consumer's handler.
var events = Arg("--events", 50_000);
var latencyEvents = Arg("--latency-events", 2_000);
var durable = args.Contains("--durable");
var batchSize = Arg("--batch", 500);
var connectionString = Environment.GetEnvironmentVariable("OMS_BENCH_CONNECTION_STRING");
EmbeddedPostgres? embedded = null;
var directory = Path.Combine(Path.GetTempPath(), $"oms-bench-pg-{Guid.NewGuid():N}");
if (string.IsNullOrWhiteSpace(connectionString))
{
    embedded = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions
    {
        Directory = directory,
        Database = "oms_bench",
        FastUnsafe = !durable,
        Settings = new Dictionary<string, string> { ["shared_buffers"] = "512MB" },
    });
    connectionString = embedded.ConnectionString;
}

Console.WriteLine($"PostgreSQL: {(embedded is null ? "external" : durable ? "embedded, durable (fsync on, synchronous_commit on)" : "embedded, fsync off, synchronous_commit off")}");
Console.WriteLine($"Machine: {Environment.ProcessorCount} cores, .NET {Environment.Version}");
try
{
    foreach (var workers in new[] { 1, 2 })
    {
        await using var bench = await Bench.CreateAsync(connectionString, batchSize);
        await bench.PublishBulkAsync(events);
        var started = Stopwatch.GetTimestamp();
        await bench.StartWorkersAsync(workers);
        await bench.WaitForAsync(events);
        var elapsed = Stopwatch.GetElapsedTime(started);
        Console.WriteLine($"throughput, {workers} dispatcher(s) + {workers} inbox processor(s): {events} deliveries in {elapsed.TotalSeconds:0.00} s = {events / elapsed.TotalSeconds:0} deliveries/s");
    }

    foreach (var workers in new[] { 1, 2 })
    {
        await using var bench = await Bench.CreateAsync(connectionString, batchSize);
        await bench.StartWorkersAsync(workers);
        for (var i = 0; i < 200; i++)
        {
            await bench.PublishOneAsync(); // warm-up
        }

        await bench.WaitForAsync(200);
        bench.Consumer.Latencies.Clear();
        for (var i = 0; i < latencyEvents; i++)
        {
            await bench.PublishOneAsync();
            await Task.Delay(1); // a steady trickle, not a burst
        }

        await bench.WaitForAsync(200 + latencyEvents);
        var sorted = bench.Consumer.Latencies.ToArray().Order().ToArray();
        Console.WriteLine(
            $"hop latency, {workers} dispatcher(s): n={sorted.Length} p50={Percentile(sorted, 0.50):0.00} ms p90={Percentile(sorted, 0.90):0.00} ms " +
            $"p99={Percentile(sorted, 0.99):0.00} ms max={sorted[^1]:0.00} ms");
    }
}
finally
{
    if (embedded is not null)
    {
        await embedded.StopAsync();
        Directory.Delete(directory, recursive: true);
    }
}

static double Percentile(double[] sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

int Arg(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

[IntegrationEvent("bench.ticked", 1)]
public sealed record Ticked(long PublishedAt) : IIntegrationEvent;

public sealed class ProducerTag;

public sealed class ConsumerTag;

public sealed class BenchDbContext<TTag>(DbContextOptions<BenchDbContext<TTag>> options) : ModuleDbContext(options)
{
    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
    }
}

/// <summary>The trivial consumer: records the hop latency.</summary>
public sealed class RecordTick(TickCounter counter) : IIntegrationEventHandler<Ticked>
{
    public Task HandleAsync(Ticked message, MessageContext context, CancellationToken cancellationToken)
    {
        counter.Record(Stopwatch.GetElapsedTime(message.PublishedAt).TotalMilliseconds);
        return Task.CompletedTask;
    }
}

public sealed class TickCounter
{
    private long _count;

    public System.Collections.Concurrent.ConcurrentQueue<double> Latencies { get; } = new();

    public long Count => Interlocked.Read(ref _count);

    public void Record(double milliseconds)
    {
        Latencies.Enqueue(milliseconds);
        Interlocked.Increment(ref _count);
    }
}

public sealed class BenchModule(ModuleManifest manifest) : IModule
{
    public ModuleManifest Manifest { get; } = manifest;

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
    }
}

public sealed class Bench : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Microsoft.Extensions.Hosting.BackgroundService> _workers = [];
    private readonly ServiceProvider _services;
    private readonly ModuleManifest _producer;
    private readonly ModuleManifest _consumer;

    private Bench(ServiceProvider services, ModuleManifest producer, ModuleManifest consumer)
    {
        _services = services;
        _producer = producer;
        _consumer = consumer;
    }

    public TickCounter Consumer => _services.GetRequiredService<TickCounter>();

    public static async Task<Bench> CreateAsync(string connectionString, int batchSize)
    {
        var prefix = "b" + Guid.NewGuid().ToString("N")[..8];
        var producer = ModuleManifest.Create("Producer", prefix + "_p").UseDbContext<BenchDbContext<ProducerTag>>().Publishes<Ticked>().Build();
        var consumer = ModuleManifest.Create("Consumer", prefix + "_c").UseDbContext<BenchDbContext<ConsumerTag>>().Consumes<Ticked, RecordTick>().Build();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:Oms"] = connectionString,
            ["Oms:Messaging:BatchSize"] = batchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Oms:Messaging:InboxBatchSize"] = batchSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging(l => l.SetMinimumLevel(LogLevel.Warning).AddSimpleConsole());
        services.AddSingleton<TickCounter>();
        services.AddOmsModules(configuration, [new BenchModule(producer), new BenchModule(consumer)]);
        var bench = new Bench(services.BuildServiceProvider(), producer, consumer);
        foreach (var module in new[] { producer, consumer })
        {
            await using var scope = bench._services.CreateAsyncScope();
            var db = (DbContext)scope.ServiceProvider.GetRequiredService(module.DbContextType);
            await db.GetService<IRelationalDatabaseCreator>().CreateTablesAsync();
        }

        return bench;
    }

    public async Task PublishBulkAsync(int count)
    {
        for (var done = 0; done < count; done += 5_000)
        {
            await using var scope = _services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BenchDbContext<ProducerTag>>();
            for (var i = done; i < Math.Min(count, done + 5_000); i++)
            {
                db.Publish(new Ticked(Stopwatch.GetTimestamp()), partitionKey: $"order-{i % 1000}");
            }

            await db.SaveChangesAsync();
        }
    }

    public async Task PublishOneAsync()
    {
        await using var scope = _services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BenchDbContext<ProducerTag>>();
        // The clock starts just before the publishing transaction commits (so the hop includes the commit).
        db.Publish(new Ticked(Stopwatch.GetTimestamp()), partitionKey: Guid.NewGuid().ToString());
        await db.SaveChangesAsync();
    }

    public async Task StartWorkersAsync(int count)
    {
        var factory = _services.GetRequiredService<MessagingWorkerFactory>();
        for (var i = 0; i < count; i++)
        {
            _workers.Add(factory.CreateDispatcher(_producer));
            _workers.Add(factory.CreateProcessor(_consumer));
        }

        foreach (var worker in _workers)
        {
            await worker.StartAsync(_stop.Token);
        }
    }

    public async Task WaitForAsync(long count)
    {
        while (Consumer.Count < count)
        {
            await Task.Delay(1);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        foreach (var worker in _workers)
        {
            await worker.StopAsync(CancellationToken.None);
            worker.Dispose();
        }

        await _services.DisposeAsync();
    }
}
