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
        Func<IServiceProvider, object, MessageContext, CancellationToken, Task> invoke)
    {
        ModuleName = moduleName;
        ConsumerName = consumerName;
        EventType = eventType;
        ConsumerType = consumerType;
        WireName = wireName;
        Invoke = invoke;
    }

    public string ModuleName { get; }

    public string ConsumerName { get; }

    public Type EventType { get; }

    public Type ConsumerType { get; }

    public string WireName { get; }

    internal Func<IServiceProvider, object, MessageContext, CancellationToken, Task> Invoke { get; }

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
}
