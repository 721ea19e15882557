using System.Diagnostics;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Shared.Contracts;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Shared.Infrastructure.Modules;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Tests.Messaging;

[IntegrationEvent("test.something-happened", 1)]
public sealed record SomethingHappened(Guid Id, string Key, int Sequence) : IIntegrationEvent;

[IntegrationEvent("test.something-followed", 1)]
public sealed record SomethingFollowed(Guid Id, string Key, int Sequence) : IIntegrationEvent;

public sealed record AskQuestion(string Text) : IModuleRequest<Answer>;

public sealed record Answer(string Text, string AnsweredBy);

/// <summary>Tags give each test module its own DbContext and consumer types.</summary>
public sealed class TagA;

public sealed class TagB;

public sealed class TagC;

/// <summary>A consumer's observable effect, written in the consumer's transaction.</summary>
public sealed class Effect
{
    public long Position { get; set; }

    public Guid EventId { get; set; }

    public Guid MessageId { get; set; }

    public required string Consumer { get; set; }

    public required string Key { get; set; }

    public int Sequence { get; set; }

    public string? TraceId { get; set; }

    public string? CorrelationId { get; set; }

    public string? CausationId { get; set; }

    /// <summary>The effect a test consumer records for one message (the trace is the current one).</summary>
    public static Effect Of(Guid eventId, string key, int sequence, MessageContext context, string? correlationId, string? causationId) => new()
    {
        EventId = eventId,
        MessageId = context.MessageId,
        Consumer = context.Consumer,
        Key = key,
        Sequence = sequence,
        TraceId = Activity.Current?.TraceId.ToString(),
        CorrelationId = correlationId,
        CausationId = causationId,
    };
}

public sealed class TestDbContext<TTag>(DbContextOptions<TestDbContext<TTag>> options) : ModuleDbContext(options)
{
    public DbSet<Effect> Effects => Set<Effect>();

    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
        var effect = modelBuilder.Entity<Effect>();
        effect.ToTable("effects");
        effect.HasKey(e => e.Position);
        effect.Property(e => e.Position).UseIdentityAlwaysColumn();
    }
}

/// <summary>What the test wants the consumers to do.</summary>
public sealed class ConsumerBehaviour
{
    /// <summary>(consumer, event, attempt) → throw?</summary>
    public Func<string, SomethingHappened, int, bool> Fail { get; set; } = (_, _, _) => false;

    /// <summary>What a failing consumer throws (a message's own failure unless set).</summary>
    public Func<string, Exception>? FailWith { get; set; }

    public Exception Failure(string description) => FailWith?.Invoke(description) ?? new InvalidOperationException(description);

    /// <summary>Publish a follow-up event from module B's consumer (the one that declares it).</summary>
    public bool PublishFollowUp { get; set; }

    public int Invocations;

    /// <summary>The most deliveries a batch consumer got in one call.</summary>
    public int LargestBatch;

    /// <summary>When set, each handler call stays in flight this long and counts calls that overlap on one key.</summary>
    public TimeSpan HoldFor { get; set; }

    public System.Collections.Concurrent.ConcurrentDictionary<string, int> InFlight { get; } = new();

    public int Overlaps;
}

/// <summary>Module C's consumer in its batch form: records each message like <see cref="RecordingConsumer{TTag}"/>.</summary>
public sealed class BatchRecordingConsumer<TTag>(TestDbContext<TTag> db, ConsumerBehaviour behaviour) : IIntegrationEventBatchHandler<SomethingHappened>
{
    public Task HandleAsync(IReadOnlyList<Delivered<SomethingHappened>> batch, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref behaviour.Invocations);
        var largest = behaviour.LargestBatch;
        while (batch.Count > largest && Interlocked.CompareExchange(ref behaviour.LargestBatch, batch.Count, largest) != largest)
        {
            largest = behaviour.LargestBatch;
        }

        foreach (var delivered in batch)
        {
            var (message, context) = (delivered.Message, delivered.Context);
            if (behaviour.Fail(context.Consumer, message, context.Attempt))
            {
                throw behaviour.Failure($"{context.Consumer} fails {message.Id} on purpose (attempt {context.Attempt}).");
            }

            using var cause = delivered.Enter();
            db.Effects.Add(Effect.Of(message.Id, message.Key, message.Sequence, context, MessagingAmbient.Current?.CorrelationId, MessagingAmbient.Current?.CausationId));
        }

        return Task.CompletedTask;
    }
}

public sealed class RecordingConsumer<TTag>(TestDbContext<TTag> db, ConsumerBehaviour behaviour) : IIntegrationEventHandler<SomethingHappened>
{
    public async Task HandleAsync(SomethingHappened message, MessageContext context, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref behaviour.Invocations);
        if (behaviour.HoldFor > TimeSpan.Zero)
        {
            var key = $"{typeof(TTag).Name}:{message.Key}"; // per module: another module may handle the same partition meanwhile
            if (behaviour.InFlight.AddOrUpdate(key, 1, (_, n) => n + 1) > 1)
            {
                Interlocked.Increment(ref behaviour.Overlaps);
            }

            await Task.Delay(behaviour.HoldFor, cancellationToken);
            behaviour.InFlight.AddOrUpdate(key, 0, (_, n) => n - 1);
        }

        if (behaviour.Fail(context.Consumer, message, context.Attempt))
        {
            throw behaviour.Failure($"{context.Consumer} fails {message.Id} on purpose (attempt {context.Attempt}).");
        }

        db.Effects.Add(Effect.Of(message.Id, message.Key, message.Sequence, context, context.CorrelationId, context.CausationId));
        if (behaviour.PublishFollowUp && typeof(TTag) == typeof(TagB))
        {
            db.Publish(new SomethingFollowed(message.Id, message.Key, message.Sequence), message.Key);
        }

    }
}

public sealed class FollowUpConsumer<TTag>(TestDbContext<TTag> db) : IIntegrationEventHandler<SomethingFollowed>
{
    public Task HandleAsync(SomethingFollowed message, MessageContext context, CancellationToken cancellationToken)
    {
        db.Effects.Add(Effect.Of(message.Id, message.Key, message.Sequence, context, context.CorrelationId, context.CausationId));
        return Task.CompletedTask;
    }
}

public sealed class AnswerQuestion<TTag>(TestDbContext<TTag> db) : IModuleRequestHandler<AskQuestion, Answer>
{
    public Task<Answer> HandleAsync(AskQuestion request, CancellationToken cancellationToken) =>
        Task.FromResult(new Answer(request.Text.ToUpperInvariant(), db.Schema));
}

/// <summary>A module assembled by a test.</summary>
public sealed class TestModule(ModuleManifest manifest) : IModule
{
    public ModuleManifest Manifest { get; } = manifest;

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
    }
}
