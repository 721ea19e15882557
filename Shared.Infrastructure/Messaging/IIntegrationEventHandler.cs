using System.Diagnostics;
using OmsModular.Shared.Contracts;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>
/// A consumer of another module's integration event. It runs inside its module's transaction
/// together with its inbox row and any events it publishes; the infrastructure saves the
/// module's DbContext after it returns. Delivery is at least once, effect exactly once.
/// Consumers are scoped services shared by the deliveries of one inbox batch: keep no
/// per-message state in fields.
/// </summary>
public interface IIntegrationEventHandler<in TEvent>
    where TEvent : class, IIntegrationEvent
{
    Task HandleAsync(TEvent message, MessageContext context, CancellationToken cancellationToken);
}

/// <summary>
/// A consumer that handles the deliveries of one inbox batch together (one call for up to a
/// batch's worth of its messages, in delivery order, at most one per partition), so it can read
/// and call other modules once per batch instead of once per message. Same guarantees as
/// <see cref="IIntegrationEventHandler{TEvent}"/>: it runs in its module's transaction with the
/// inbox rows; if it throws, the batch is rolled back and each delivery is retried on its own (a
/// call with one message), so one bad message never holds back the others. Publish what a message
/// causes inside <see cref="Delivered{TEvent}.Enter"/> so the event carries that message's
/// correlation and trace.
/// </summary>
public interface IIntegrationEventBatchHandler<TEvent>
    where TEvent : class, IIntegrationEvent
{
    Task HandleAsync(IReadOnlyList<Delivered<TEvent>> batch, CancellationToken cancellationToken);
}

/// <summary>One delivered message of a batch, with its context.</summary>
public sealed class Delivered<TEvent>(TEvent message, MessageContext context, MessagingAmbient ambient)
{
    public TEvent Message { get; } = message;

    public MessageContext Context { get; } = context;

    /// <summary>Makes this message the cause of what is published until disposed (correlation, causation, trace).</summary>
    public IDisposable Enter()
    {
        var scope = MessagingAmbient.Begin(ambient);
        ActivityContext.TryParse(ambient.TraceParent, ambient.TraceState, isRemote: true, out var parent);
        var activity = MessagingTelemetry.ActivitySource.StartActivity($"{Context.MessageType} process", ActivityKind.Consumer, parent);
        activity?.SetTag("messaging.message.id", Context.MessageId.ToString());
        activity?.SetTag("messaging.consumer.group.name", Context.Consumer);
        return new Entered(scope, activity);
    }

    private sealed class Entered(IDisposable ambient, Activity? activity) : IDisposable
    {
        public void Dispose()
        {
            activity?.Dispose();
            ambient.Dispose();
        }
    }
}

/// <summary>What a consumer knows about the message it is handling.</summary>
public sealed record MessageContext(
    Guid MessageId,
    string MessageType,
    string Consumer,
    string? PartitionKey,
    string? CorrelationId,
    string? CausationId,
    DateTimeOffset OccurredAt,
    int Attempt);

/// <summary>A consumer declared in a module manifest.</summary>
public sealed class ConsumerDescriptor
{
    private ConsumerDescriptor(
        string moduleName,
        string consumerName,
        Type eventType,
        Type consumerType,
        string wireName,
        Func<IServiceProvider, object, MessageContext, CancellationToken, Task> invoke,
        Func<IServiceProvider, IReadOnlyList<(object Message, MessageContext Context, MessagingAmbient Ambient)>, CancellationToken, Task>? invokeBatch = null)
    {
        ModuleName = moduleName;
        ConsumerName = consumerName;
        EventType = eventType;
        ConsumerType = consumerType;
        WireName = wireName;
        Invoke = invoke;
        InvokeBatch = invokeBatch;
    }

    public string ModuleName { get; }

    public string ConsumerName { get; }

    public Type EventType { get; }

    public Type ConsumerType { get; }

    public string WireName { get; }

    internal Func<IServiceProvider, object, MessageContext, CancellationToken, Task> Invoke { get; }

    /// <summary>Set for a consumer that handles a batch at once (<see cref="IIntegrationEventBatchHandler{TEvent}"/>).</summary>
    internal Func<IServiceProvider, IReadOnlyList<(object Message, MessageContext Context, MessagingAmbient Ambient)>, CancellationToken, Task>? InvokeBatch { get; }

    /// <summary>True when the consumer handles the deliveries of an inbox batch in one call.</summary>
    public bool HandlesBatches => InvokeBatch is not null;

    internal static ConsumerDescriptor Create<TEvent, TConsumer>(string moduleName, string consumerName)
        where TEvent : class, IIntegrationEvent
        where TConsumer : class, IIntegrationEventHandler<TEvent>
        => new(
            moduleName,
            consumerName,
            typeof(TEvent),
            typeof(TConsumer),
            WireNames.Of(typeof(TEvent)),
            (services, message, context, ct) =>
                ((IIntegrationEventHandler<TEvent>)services.GetService(typeof(TConsumer))!).HandleAsync((TEvent)message, context, ct));

    internal static ConsumerDescriptor CreateBatch<TEvent, TConsumer>(string moduleName, string consumerName)
        where TEvent : class, IIntegrationEvent
        where TConsumer : class, IIntegrationEventBatchHandler<TEvent>
        => new(
            moduleName,
            consumerName,
            typeof(TEvent),
            typeof(TConsumer),
            WireNames.Of(typeof(TEvent)),
            (services, message, context, ct) =>
                ((IIntegrationEventBatchHandler<TEvent>)services.GetService(typeof(TConsumer))!).HandleAsync(
                    [new Delivered<TEvent>((TEvent)message, context, MessagingAmbient.Current ?? new MessagingAmbient(context.CorrelationId, context.MessageId.ToString()))],
                    ct),
            (services, batch, ct) =>
                ((IIntegrationEventBatchHandler<TEvent>)services.GetService(typeof(TConsumer))!).HandleAsync(
                    batch.Select(d => new Delivered<TEvent>((TEvent)d.Message, d.Context, d.Ambient)).ToArray(),
                    ct));
}
