using System.Collections.Concurrent;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Modules;
using OmsModular.Tests.Infrastructure;

namespace OmsModular.Tests.Messaging;

/// <summary>
/// Three modules in throwaway schemas on the test PostgreSQL, wired by the real backbone
/// (registry, outbox, dispatcher, in-process transport, inbox, processors):
/// A publishes <see cref="SomethingHappened"/>; B and C consume it; B publishes
/// <see cref="SomethingFollowed"/>, which A consumes; B answers <see cref="AskQuestion"/>.
/// Workers are started only when a test asks, so it can play crashes and races.
/// </summary>
public sealed class MessagingHarness : IAsyncDisposable
{
    private readonly List<Task> _running = [];
    private readonly CancellationTokenSource _stop = new();

    private MessagingHarness(ServiceProvider services, string prefix, IReadOnlyList<ModuleManifest> modules)
    {
        Services = services;
        Prefix = prefix;
        Modules = modules;
    }

    public ServiceProvider Services { get; }

    public string Prefix { get; }

    public IReadOnlyList<ModuleManifest> Modules { get; }

    public ModuleManifest A => Modules[0];

    public ModuleManifest B => Modules[1];

    public ModuleManifest C => Modules[2];

    public ConsumerBehaviour Behaviour => Services.GetRequiredService<ConsumerBehaviour>();

    public CountingTransport Transport => (CountingTransport)Services.GetRequiredService<IMessageTransport>();

    public MessagingAdmin Admin => Services.GetRequiredService<MessagingAdmin>();

    /// <param name="batchConsumerInC">Module C consumes through a batch consumer (<see cref="BatchRecordingConsumer{TTag}"/>).</param>
    /// <param name="secondConsumerInB">Module B has a second consumer of the same event (<c>…_b.second</c>) and handles a partition one delivery at a time across both (<see cref="ModuleManifest.PartitionsAcrossConsumers"/>).</param>
    public static async Task<MessagingHarness> CreateAsync(string? prefix = null, bool createTables = true, Action<IDictionary<string, string?>>? settings = null, bool batchConsumerInC = false, bool secondConsumerInB = false)
    {
        prefix ??= "t" + Guid.NewGuid().ToString("N")[..10];
        var connectionString = await TestDatabase.GetConnectionStringAsync();
        var values = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Oms"] = connectionString,
            ["Oms:Messaging:BatchSize"] = "100",
            ["Oms:Messaging:PollInterval"] = "00:00:00.500",
            ["Oms:Messaging:MaxAttempts"] = "3",
            ["Oms:Messaging:BaseRetryDelay"] = "00:00:00.010",
            ["Oms:Messaging:MaxRetryDelay"] = "00:00:00.050",
        };
        settings?.Invoke(values);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();

        var modules = new IModule[]
        {
            new TestModule(ModuleManifest.Create($"A{prefix}", $"{prefix}_a")
                .UseDbContext<TestDbContext<TagA>>()
                .Publishes<SomethingHappened>()
                .Consumes<SomethingFollowed, FollowUpConsumer<TagA>>()
                .Build()),
            new TestModule(secondConsumerInB
                ? ModuleManifest.Create($"B{prefix}", $"{prefix}_b")
                    .UseDbContext<TestDbContext<TagB>>()
                    .PartitionsAcrossConsumers()
                    .Publishes<SomethingFollowed>()
                    .Consumes<SomethingHappened, RecordingConsumer<TagB>>()
                    .Consumes<SomethingHappened, RecordingConsumer<TagB>>($"{prefix}_b.second")
                    .Handles<AskQuestion, Answer, AnswerQuestion<TagB>>()
                    .Build()
                : ModuleManifest.Create($"B{prefix}", $"{prefix}_b")
                    .UseDbContext<TestDbContext<TagB>>()
                    .Publishes<SomethingFollowed>()
                    .Consumes<SomethingHappened, RecordingConsumer<TagB>>()
                    .Handles<AskQuestion, Answer, AnswerQuestion<TagB>>()
                    .Build()),
            new TestModule(batchConsumerInC
                ? ModuleManifest.Create($"C{prefix}", $"{prefix}_c")
                    .UseDbContext<TestDbContext<TagC>>()
                    .ConsumesInBatches<SomethingHappened, BatchRecordingConsumer<TagC>>()
                    .Build()
                : ModuleManifest.Create($"C{prefix}", $"{prefix}_c")
                    .UseDbContext<TestDbContext<TagC>>()
                    .Consumes<SomethingHappened, RecordingConsumer<TagC>>()
                    .Build()),
        };

        var services = new ServiceCollection();
        services.AddLogging(l =>
        {
            l.SetMinimumLevel(LogLevel.Warning);
            if (Environment.GetEnvironmentVariable("OMS_TEST_LOG") == "1")
            {
                l.AddSimpleConsole();
            }
        });
        services.AddSingleton<ConsumerBehaviour>();
        services.AddOmsModules(configuration, modules);
        var original = services.Single(d => d.ServiceType == typeof(IMessageTransport));
        services.Remove(original);
        services.AddSingleton<IMessageTransport>(sp =>
            new CountingTransport((IMessageTransport)ActivatorUtilities.CreateInstance(sp, original.ImplementationType!)));

        var harness = new MessagingHarness(services.BuildServiceProvider(validateScopes: true), prefix, modules.Select(m => m.Manifest).ToArray());
        if (createTables)
        {
            foreach (var module in harness.Modules)
            {
                await using var scope = harness.Services.CreateAsyncScope();
                var db = (DbContext)scope.ServiceProvider.GetRequiredService(module.DbContextType);
                await db.GetService<IRelationalDatabaseCreator>().CreateTablesAsync();
            }
        }

        return harness;
    }

    public OutboxDispatcher NewDispatcher(ModuleManifest module) =>
        Services.GetRequiredService<MessagingWorkerFactory>().CreateDispatcher(module);

    public InboxProcessor NewProcessor(ModuleManifest module) =>
        Services.GetRequiredService<MessagingWorkerFactory>().CreateProcessor(module);

    /// <summary>Starts one dispatcher and one inbox processor per module (as the Host does).</summary>
    public async Task StartWorkersAsync(int dispatchersPerModule = 1, int processorsPerModule = 1)
    {
        foreach (var module in Modules)
        {
            for (var i = 0; i < dispatchersPerModule; i++)
            {
                await StartAsync(NewDispatcher(module));
            }

            for (var i = 0; i < processorsPerModule; i++)
            {
                await StartAsync(NewProcessor(module));
            }
        }
    }

    /// <summary>Starts the workers exactly as the Host does (dispatchers, processors, LISTEN connection).</summary>
    public async Task StartHostedWorkersAsync()
    {
        foreach (var hosted in Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>())
        {
            await hosted.StartAsync(_stop.Token);
            _running.Add(Task.Run(async () =>
            {
                await _stop.Token.WhenCanceled();
                await hosted.StopAsync(CancellationToken.None);
            }));
        }
    }

    /// <summary>Publishes each event from module A in its own transaction.</summary>
    public async Task PublishAsync(params SomethingHappened[] events)
    {
        foreach (var message in events)
        {
            await using var scope = Services.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<TestDbContext<TagA>>();
            db.Publish(message, message.Key);
            await db.SaveChangesAsync();
        }
    }

    public async Task<List<Effect>> EffectsAsync(ModuleManifest module)
    {
        await using var scope = Services.CreateAsyncScope();
        var db = (DbContext)scope.ServiceProvider.GetRequiredService(module.DbContextType);
        return await db.Set<Effect>().AsNoTracking().OrderBy(e => e.Position).ToListAsync();
    }

    /// <summary>Waits until every outbox is dispatched and every inbox settled (processed or dead).</summary>
    public Task SettleAsync(TimeSpan? timeout = null) =>
        WaitUntilAsync(async () => (await Admin.GetBacklogAsync(CancellationToken.None)).All(b => b.OutboxPending == 0 && b.InboxPending == 0), timeout);

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        var signals = new SemaphoreSlim(0);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The messaging cascade did not settle in time.");
            }

            // a short, bounded back-off between checks of the database (not a fixed sleep for the result)
            await signals.WaitAsync(TimeSpan.FromMilliseconds(20));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_running);
        await Services.DisposeAsync();
        _stop.Dispose();
    }

    private async Task StartAsync(Microsoft.Extensions.Hosting.BackgroundService worker)
    {
        await worker.StartAsync(_stop.Token);
        _running.Add(Task.Run(async () =>
        {
            try
            {
                await _stop.Token.WhenCanceled();
            }
            finally
            {
                await worker.StopAsync(CancellationToken.None);
                worker.Dispose();
            }
        }));
    }
}

/// <summary>Counts how often the transport was asked to carry each message.</summary>
public sealed class CountingTransport(IMessageTransport inner) : IMessageTransport
{
    public ConcurrentDictionary<Guid, int> Sends { get; } = new();

    public Func<IReadOnlyList<TransportMessage>, bool> Refuse { get; set; } = _ => false;

    /// <summary>A slow transport keeps each dispatcher's batch claimed for a while (forces overlap).</summary>
    public TimeSpan Latency { get; set; }

    public string? CannotDeliver(TransportMessage message) => inner.CannotDeliver(message);

    public async Task SendAsync(IReadOnlyList<TransportMessage> messages, CancellationToken cancellationToken)
    {
        if (Latency > TimeSpan.Zero)
        {
            await Task.Delay(Latency, cancellationToken);
        }

        if (Refuse(messages))
        {
            throw new InvalidOperationException("The transport is down (test).");
        }

        await inner.SendAsync(messages, cancellationToken);
        foreach (var message in messages)
        {
            Sends.AddOrUpdate(message.MessageId, 1, (_, n) => n + 1);
        }
    }
}

internal static class CancellationTokenExtensions
{
    public static Task WhenCanceled(this CancellationToken token)
    {
        var source = new TaskCompletionSource();
        token.Register(() => source.TrySetResult());
        return source.Task;
    }
}
