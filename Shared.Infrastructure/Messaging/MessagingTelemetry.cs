using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>The backbone's own spans and meters (source and meter <c>OmsModular.Messaging</c>).</summary>
public static class MessagingTelemetry
{
    public const string Name = "OmsModular.Messaging";

    public static readonly ActivitySource ActivitySource = new(Name);

    private static readonly Meter Meter = new(Name);

    internal static readonly Counter<long> Dispatched = Meter.CreateCounter<long>("oms.messaging.dispatched", "{message}", "Outbox messages handed to the transport.");

    internal static readonly Counter<long> DispatchFailures = Meter.CreateCounter<long>("oms.messaging.dispatch_failures", "{message}", "Outbox messages the transport refused.");

    internal static readonly Counter<long> Delivered = Meter.CreateCounter<long>("oms.messaging.delivered", "{delivery}", "Deliveries processed by their consumer.");

    internal static readonly Counter<long> Failures = Meter.CreateCounter<long>("oms.messaging.failures", "{delivery}", "Failed consumer attempts.");

    internal static readonly Counter<long> DeadLettered = Meter.CreateCounter<long>("oms.messaging.dead_lettered", "{delivery}", "Deliveries parked as dead letters.");

    internal static readonly Histogram<double> OutboxLag = Meter.CreateHistogram<double>("oms.messaging.outbox_lag", "ms", "Time from publish to dispatch.");

    internal static readonly Histogram<double> EndToEnd = Meter.CreateHistogram<double>("oms.messaging.delivery_latency", "ms", "Time from publish to the consumer's commit.");
}
