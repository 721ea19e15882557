namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>A message as it leaves a module's outbox.</summary>
public sealed record TransportMessage(
    Guid MessageId,
    string MessageType,
    string Payload,
    string? PartitionKey,
    DateTimeOffset OccurredAt,
    string? TraceParent,
    string? TraceState,
    string? CorrelationId,
    string? CausationId,
    string SourceModule);

/// <summary>
/// Carries dispatched messages to the consuming modules' inboxes. In-process by default; a
/// broker transport implements the same interface, so switching is configuration, not code.
/// <see cref="SendAsync"/> returns only when every message is durably received (or throws).
/// </summary>
public interface IMessageTransport
{
    Task SendAsync(IReadOnlyList<TransportMessage> messages, CancellationToken cancellationToken);

    /// <summary>
    /// Why the message cannot be delivered to every module that consumes it right now (a consuming
    /// module neither hosted nor reachable, the broker's topology not declared yet), or null when it
    /// can. Such a message stays in the outbox, with the reason, until it can.
    /// </summary>
    string? CannotDeliver(TransportMessage message);
}

/// <summary>
/// Thrown by a transport that durably delivered some of the messages before it failed: those are
/// marked dispatched (not sent again), the others are retried. A transport that throws it never
/// delivered a later message of a partition whose earlier message failed.
/// </summary>
public sealed class PartialDeliveryException(IReadOnlyCollection<Guid> delivered, Exception inner) : Exception(inner.Message, inner)
{
    public IReadOnlyCollection<Guid> Delivered { get; } = delivered;
}

/// <summary>
/// The in-process transport: hands each message to the inbox of every hosted module that has a
/// consumer for it, in dispatch order.
/// </summary>
internal sealed class InProcessTransport(Modules.ModuleRegistry registry, InboxWriter inboxWriter) : IMessageTransport
{
    public string? CannotDeliver(TransportMessage message) =>
        registry.ConsumersOf(message.MessageType).FirstOrDefault(c => registry.FindHosted(c.ModuleName) is null) is { } absent
            ? $"Module {absent.ModuleName} consumes {message.MessageType} but is not hosted in this process, and the in-process transport cannot reach another process (Oms:Messaging:Transport=RabbitMq can); the message waits."
            : null;

    public async Task SendAsync(IReadOnlyList<TransportMessage> messages, CancellationToken cancellationToken)
    {
        var deliveries = messages
            .SelectMany(m => registry.HostedConsumersOf(m.MessageType).Select(c => (Consumer: c, Message: m)))
            .GroupBy(d => d.Consumer.ModuleName, StringComparer.Ordinal);
        foreach (var module in deliveries)
        {
            await inboxWriter.WriteAsync(module.Key, module.Select(d => (d.Message, d.Consumer.ConsumerName)).ToArray(), cancellationToken).ConfigureAwait(false);
        }
    }
}
