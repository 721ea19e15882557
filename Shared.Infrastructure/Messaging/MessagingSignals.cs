using System.Collections.Concurrent;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>
/// In-process wake-ups for dispatchers and inbox processors, keyed by schema. Other Host
/// instances are woken through PostgreSQL <c>LISTEN/NOTIFY</c> on <see cref="Channel"/>.
/// </summary>
public sealed class MessagingSignals
{
    public const string Channel = "oms_messaging";

    private readonly ConcurrentDictionary<string, Signal> _outbox = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Signal> _inbox = new(StringComparer.Ordinal);

    public Signal Outbox(string schema) => _outbox.GetOrAdd(schema, _ => new Signal());

    /// <summary>The consumers of this process paused by an outage of what they depend on.</summary>
    public ConsumerPauses Pauses { get; } = new();

    private readonly ConcurrentDictionary<string, int> _inboxProcessors = new(StringComparer.Ordinal);

    public Signal Inbox(string schema) => _inbox.GetOrAdd(schema, _ => new Signal());

    /// <summary>Counts an inbox processor of the schema in this process.</summary>
    public void AddInboxProcessor(string schema) => _inboxProcessors.AddOrUpdate(schema, 1, (_, n) => n + 1);

    /// <summary>More than one processor of the schema runs in this process (they wake each other).</summary>
    public bool SharesInbox(string schema) => _inboxProcessors.GetValueOrDefault(schema) > 1;

    /// <summary>Routes a NOTIFY payload (<c>outbox:orders</c>, <c>inbox:inventory</c>) to its signal.</summary>
    public void Route(string payload)
    {
        var separator = payload.IndexOf(':', StringComparison.Ordinal);
        if (separator <= 0)
        {
            return;
        }

        var schema = payload[(separator + 1)..];
        switch (payload[..separator])
        {
            case "outbox":
                Outbox(schema).Set();
                break;
            case "inbox":
                Inbox(schema).Set();
                break;
        }
    }

    /// <summary>
    /// An auto-reset wake-up shared by every waiter of one schema (several dispatchers in one
    /// process are woken together; a spurious wake-up only costs one empty claim).
    /// </summary>
    public sealed class Signal
    {
        private TaskCompletionSource _next = NewSource();

        public void Set() => Interlocked.Exchange(ref _next, NewSource()).TrySetResult();

        /// <summary>Captures the wake-up to wait for before checking for work (no lost wake-ups).</summary>
        public Task Next => Volatile.Read(ref _next).Task;

        private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
