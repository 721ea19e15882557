using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Modules;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OmsModular.Host.Messaging;

/// <summary>Settings of the RabbitMQ transport (section <c>Oms:Messaging:RabbitMq</c>).</summary>
internal sealed class RabbitMqOptions
{
    public const string Section = "Oms:Messaging:RabbitMq";

    /// <summary>The broker, as an AMQP URI (user, password and virtual host included).</summary>
    public string Uri { get; set; } = "amqp://guest:guest@localhost:5672/";

    /// <summary>The direct exchange every event is published to, with its wire name as routing key.</summary>
    public string Exchange { get; set; } = "oms.events";

    /// <summary>A consuming module's durable queue is this prefix plus the module's schema.</summary>
    public string QueuePrefix { get; set; } = "oms.";

    /// <summary>Unacknowledged deliveries per consuming module (also the most written to its inbox in one commit).</summary>
    public ushort Prefetch { get; set; } = 500;

    /// <summary>How long to wait before connecting again when the broker cannot be reached at start-up.</summary>
    public TimeSpan ConnectRetry { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a batch waits for the broker's confirms before it is retried.</summary>
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// The broker topology, derived from the manifests of every module of the build (not only the hosted
/// ones): one durable direct exchange; per consuming module one durable queue with a single active
/// consumer, bound to every wire name the module consumes. Every process declares all of it before it
/// publishes, so a message for a module that has never run waits in that module's queue.
/// </summary>
internal sealed class RabbitMqTopology(ModuleRegistry registry, RabbitMqOptions options)
{
    public string Exchange => options.Exchange;

    /// <summary>Consuming module → (queue, wire names it is bound to).</summary>
    public IReadOnlyDictionary<string, (string Queue, IReadOnlyList<string> WireNames)> Queues { get; } = registry.All
        .Where(m => m.Consumes.Count > 0)
        .ToDictionary(
            m => m.Name,
            m => (options.QueuePrefix + m.Schema, (IReadOnlyList<string>)m.Consumes.Select(c => c.WireName).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray()),
            StringComparer.Ordinal);

    public bool IsConsumed(string wireName) => Queues.Values.Any(q => q.WireNames.Contains(wireName, StringComparer.Ordinal));

    public async Task DeclareAsync(IChannel channel, CancellationToken cancellationToken)
    {
        await channel.ExchangeDeclareAsync(options.Exchange, ExchangeType.Direct, durable: true, autoDelete: false, cancellationToken: cancellationToken).ConfigureAwait(false);
        foreach (var (queue, wireNames) in Queues.Values)
        {
            // One active consumer per queue: the inbox receives a module's messages in queue order,
            // which is publish order, which the outbox keeps per partition.
            await channel.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false,
                arguments: new Dictionary<string, object?> { ["x-single-active-consumer"] = true }, cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var wireName in wireNames)
            {
                await channel.QueueBindAsync(queue, options.Exchange, wireName, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }
    }

    public string Describe() => string.Join("; ", Queues.Select(q => $"{q.Value.Queue} ← {string.Join(", ", q.Value.WireNames)}"));
}

/// <summary>Message properties and headers: what a <see cref="TransportMessage"/> is on the wire.</summary>
internal static class RabbitMqMessages
{
    private const string TraceParent = "oms-trace-parent";
    private const string TraceState = "oms-trace-state";
    private const string Causation = "oms-causation-id";
    private const string Source = "oms-source-module";
    private const string Partition = "oms-partition-key";
    private const string OccurredAt = "oms-occurred-at";

    public static BasicProperties Properties(TransportMessage message)
    {
        var headers = new Dictionary<string, object?>
        {
            [Source] = message.SourceModule,
            [OccurredAt] = message.OccurredAt.ToString("O"),
        };
        Add(headers, TraceParent, message.TraceParent);
        Add(headers, TraceState, message.TraceState);
        Add(headers, Causation, message.CausationId);
        Add(headers, Partition, message.PartitionKey);
        return new BasicProperties
        {
            MessageId = message.MessageId.ToString(),
            Type = message.MessageType,
            ContentType = "application/json",
            ContentEncoding = "utf-8",
            DeliveryMode = DeliveryModes.Persistent,
            CorrelationId = message.CorrelationId,
            Timestamp = new AmqpTimestamp(message.OccurredAt.ToUnixTimeSeconds()),
            Headers = headers,
        };
    }

    public static TransportMessage Read(IReadOnlyBasicProperties properties, string routingKey, ReadOnlyMemory<byte> body)
    {
        var headers = properties.Headers ?? new Dictionary<string, object?>();
        return new TransportMessage(
            Guid.Parse(properties.MessageId ?? throw new InvalidDataException("A message without a message id.")),
            properties.Type ?? routingKey,
            Encoding.UTF8.GetString(body.Span),
            Text(headers, Partition),
            Text(headers, OccurredAt) is { } occurred ? DateTimeOffset.Parse(occurred, System.Globalization.CultureInfo.InvariantCulture) : DateTimeOffset.UtcNow,
            Text(headers, TraceParent),
            Text(headers, TraceState),
            properties.CorrelationId,
            Text(headers, Causation),
            Text(headers, Source) ?? "unknown");
    }

    private static void Add(Dictionary<string, object?> headers, string name, string? value)
    {
        if (value is not null)
        {
            headers[name] = value;
        }
    }

    private static string? Text(IDictionary<string, object?> headers, string name) => headers.TryGetValue(name, out var value)
        ? value switch
        {
            byte[] bytes => Encoding.UTF8.GetString(bytes),
            string text => text,
            _ => value?.ToString(),
        }
        : null;
}

/// <summary>
/// The RabbitMQ transport. Publishing (its own connection): every message some module consumes goes to
/// the exchange as persistent and mandatory on a channel with publisher confirms; <see cref="SendAsync"/>
/// returns when the broker confirmed every one (a nack, or a return because no queue took it, throws,
/// and the outbox keeps the message; what was confirmed before is reported as delivered). Receiving
/// (another connection, so a broker that blocks publishers still takes acknowledgements): for each hosted
/// module that consumes, deliveries are written to the module's inbox (which de-duplicates) and
/// acknowledged only after that commit. Until the topology is declared, while a connection is down or
/// blocked, nothing is dispatched (<see cref="CannotDeliver"/> says why); when it is back, the waiting
/// outbox messages are made due at once.
/// </summary>
internal sealed class RabbitMqTransport(
    ModuleRegistry registry,
    RabbitMqTopology topology,
    InboxWriter inbox,
    IServiceProvider services,
    IOptions<RabbitMqOptions> options,
    ILogger<RabbitMqTransport> logger) : BackgroundService, IMessageTransport
{
    private readonly ConcurrentDictionary<string, Lazy<Task<IChannel>>> _publishers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, IChannel> _consumers = new(StringComparer.Ordinal);
    private IConnection? _publishing;
    private IConnection? _consuming;
    private readonly ConcurrentDictionary<string, string> _problems = new(StringComparer.Ordinal) { ["topology"] = "the RabbitMQ topology is not declared yet" };
    private CancellationToken _stopping;

    public bool IsReady => _problems.IsEmpty;

    /// <summary>What keeps the transport from delivering (each connection, the topology and each consumer report their own), or null.</summary>
    public string? NotReadyReason => _problems.IsEmpty ? null : string.Join("; ", _problems.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => p.Value));

    public string? CannotDeliver(TransportMessage message) =>
        !_problems.IsEmpty && NotReadyReason is { } reason && topology.IsConsumed(message.MessageType) ? $"Not dispatched: {reason}; the message waits." : null;

    private void Problem(string what, string? reason)
    {
        if (reason is null)
        {
            _problems.TryRemove(what, out _);
        }
        else
        {
            _problems[what] = reason;
        }
    }

    public async Task SendAsync(IReadOnlyList<TransportMessage> messages, CancellationToken cancellationToken)
    {
        var consumed = messages.Where(m => topology.IsConsumed(m.MessageType)).ToArray();
        if (consumed.Length == 0)
        {
            return; // no module consumes these: nothing to carry
        }

        var channel = await PublisherAsync(consumed[0].SourceModule).ConfigureAwait(false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.PublishTimeout); // a broker that blocks publishers (memory or disk alarm) must not hold the outbox rows' locks for ever

        // Within a partition one after the other (each confirmed before the next is published: the
        // queue gets them in order), and a partition stops at its first failure; partitions side by side.
        var delivered = new ConcurrentBag<Guid>();
        var failures = new ConcurrentBag<Exception>();
        await Task.WhenAll(consumed.GroupBy(m => m.PartitionKey ?? m.MessageId.ToString(), StringComparer.Ordinal).Select(async partition =>
        {
            try
            {
                foreach (var message in partition)
                {
                    await channel.BasicPublishAsync(topology.Exchange, message.MessageType, mandatory: true, RabbitMqMessages.Properties(message),
                        Encoding.UTF8.GetBytes(message.Payload), timeout.Token).ConfigureAwait(false);
                    delivered.Add(message.MessageId);
                }
            }
            catch (Exception exception)
            {
                failures.Add(exception);
            }
        })).ConfigureAwait(false);

        if (failures.IsEmpty)
        {
            return;
        }

        if (!channel.IsOpen)
        {
            Evict(consumed[0].SourceModule, channel); // closed by the broker (or the connection is down): the next batch opens a new one
        }

        var first = failures.First();
        var error = first is OperationCanceledException && !cancellationToken.IsCancellationRequested
            ? new TimeoutException($"RabbitMQ did not confirm within {options.Value.PublishTimeout}.", first)
            : first;
        throw delivered.IsEmpty ? error : new PartialDeliveryException(delivered.ToArray(), error);
    }

    /// <summary>A confirming channel per publishing module (each module's dispatcher publishes one batch at a time).</summary>
    private async Task<IChannel> PublisherAsync(string module)
    {
        var connection = _publishing ?? throw new InvalidOperationException("RabbitMQ is not connected.");
        var lazy = _publishers.GetOrAdd(module, _ => new Lazy<Task<IChannel>>(() => connection.CreateChannelAsync(
            new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true))));
        try
        {
            var channel = await lazy.Value.ConfigureAwait(false);
            if (channel.IsOpen || !connection.IsOpen)
            {
                return channel; // a connection that is down recovers its channels
            }

            Evict(module, channel);
            return await PublisherAsync(module).ConfigureAwait(false);
        }
        catch
        {
            _publishers.TryRemove(new KeyValuePair<string, Lazy<Task<IChannel>>>(module, lazy)); // the next batch tries a new channel
            throw;
        }
    }

    private void Evict(string module, IChannel channel)
    {
        if (_publishers.TryGetValue(module, out var lazy) && lazy.IsValueCreated && lazy.Value.IsCompletedSuccessfully && ReferenceEquals(lazy.Value.Result, channel)
            && _publishers.TryRemove(new KeyValuePair<string, Lazy<Task<IChannel>>>(module, lazy)))
        {
            _ = channel.DisposeAsync().AsTask();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _stopping = stoppingToken;
        var settings = options.Value;
        var hosted = string.Join(',', registry.Hosted.Select(m => m.Name));
        ConnectionFactory Factory(string role) => new()
        {
            Uri = new Uri(settings.Uri),
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(1),
            ClientProvidedName = $"oms:{hosted}:{role}",
        };
        var endpoint = Factory("publish").Endpoint;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                _publishing = await Factory("publish").CreateConnectionAsync(stoppingToken).ConfigureAwait(false);
                Watch(_publishing, "publishing");
                _consuming = await Factory("consume").CreateConnectionAsync(stoppingToken).ConfigureAwait(false);
                Watch(_consuming, "consuming");

                await using (var declaring = await _publishing.CreateChannelAsync(cancellationToken: stoppingToken).ConfigureAwait(false))
                {
                    await topology.DeclareAsync(declaring, stoppingToken).ConfigureAwait(false);
                }

                foreach (var manifest in registry.Hosted.Where(m => topology.Queues.ContainsKey(m.Name)))
                {
                    await ConsumeAsync(manifest).ConfigureAwait(false);
                }

                Problem("topology", null);
                logger.LogInformation("RabbitMQ topology declared on {Broker}: {Topology}", endpoint, topology.Describe());
                WakeOutboxes();
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                Problem("topology", $"RabbitMQ at {endpoint} could not be reached or refused the topology ({exception.Message})");
                logger.LogWarning("Not dispatching until RabbitMQ at {Broker} takes the topology: {Error}; retrying in {Delay}", endpoint, exception.Message, settings.ConnectRetry);
                await DisposeConnectionsAsync().ConfigureAwait(false);
                await Task.Delay(settings.ConnectRetry, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>A connection that goes down or is blocked by the broker stops dispatching until it is back.</summary>
    private void Watch(IConnection connection, string role)
    {
        connection.ConnectionShutdownAsync += (_, e) =>
        {
            if (!_stopping.IsCancellationRequested)
            {
                Problem(role, $"the {role} connection to RabbitMQ is down ({e.ReplyText})");
            }

            return Task.CompletedTask;
        };
        connection.ConnectionBlockedAsync += (_, e) =>
        {
            Problem($"{role}-blocked", $"RabbitMQ blocks the {role} connection ({e.Reason})");
            logger.LogWarning("RabbitMQ blocks the {Role} connection: {Reason}", role, e.Reason);
            return Task.CompletedTask;
        };
        connection.ConnectionUnblockedAsync += (_, _) =>
        {
            Problem($"{role}-blocked", null);
            logger.LogInformation("RabbitMQ unblocked the {Role} connection", role);
            WakeOutboxes();
            return Task.CompletedTask;
        };
        connection.RecoverySucceededAsync += (_, _) =>
        {
            Problem(role, null);
            logger.LogInformation("RabbitMQ connection recovered ({Role})", role);
            WakeOutboxes();
            return Task.CompletedTask;
        };
    }

    /// <summary>
    /// The messages that waited for the broker leave now, not at their next retry. In the background: it
    /// runs from the client's event handlers, which must not wait for the database.
    /// </summary>
    private void WakeOutboxes()
    {
        if (!IsReady)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            foreach (var dispatcher in services.GetServices<OutboxDispatcher>())
            {
                try
                {
                    await dispatcher.RetryWaitingNowAsync(_stopping).ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is not OperationCanceledException)
                {
                    logger.LogDebug(exception, "Could not make the waiting messages of {Worker} due; they leave at their next retry", dispatcher.WorkerName);
                }
            }
        }, _stopping);
    }

    /// <summary>
    /// Receives a module's queue into its inbox: a batch of what has arrived is written in one commit, then
    /// acknowledged up to its last delivery. A channel the broker closes while the connection stays up (a
    /// consumer time-out, a deleted queue) is replaced; one closed with its connection is recovered by the client.
    /// </summary>
    private async Task ConsumeAsync(ModuleManifest manifest)
    {
        var queue = topology.Queues[manifest.Name].Queue;
        var connection = _consuming ?? throw new InvalidOperationException("RabbitMQ is not connected.");
        var channel = await connection.CreateChannelAsync(cancellationToken: _stopping).ConfigureAwait(false);
        await channel.BasicQosAsync(0, options.Value.Prefetch, global: false, _stopping).ConfigureAwait(false);
        var arrived = System.Threading.Channels.Channel.CreateUnbounded<(ulong Tag, TransportMessage? Message)>(new UnboundedChannelOptions { SingleReader = true });
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, delivery) =>
        {
            TransportMessage? message = null;
            try
            {
                message = RabbitMqMessages.Read(delivery.BasicProperties, delivery.RoutingKey, delivery.Body);
            }
            catch (Exception exception)
            {
                logger.LogError(exception, "Unreadable message on {Queue} (routing key {RoutingKey}) acknowledged and dropped", queue, delivery.RoutingKey);
            }

            arrived.Writer.TryWrite((delivery.DeliveryTag, message));
            return Task.CompletedTask;
        };
        channel.ChannelShutdownAsync += (_, e) =>
        {
            if (_stopping.IsCancellationRequested || e.Initiator == ShutdownInitiator.Application || !connection.IsOpen
                || !_consumers.TryGetValue(manifest.Name, out var current) || !ReferenceEquals(current, channel))
            {
                // Stopping, closed by us, or the connection's recovery brings this channel (and its consumer) back:
                // the buffer stays open for what the recovered channel delivers.
                return Task.CompletedTask;
            }

            arrived.Writer.TryComplete(); // this channel is done: what it delivered and nobody acknowledged comes again on the new one

            Problem($"consumer:{manifest.Name}", $"the consumer of {manifest.Name} was closed by RabbitMQ ({e.ReplyText})");
            logger.LogWarning("RabbitMQ closed the consumer channel of {Module} ({Reason}); consuming again", manifest.Name, e.ReplyText);
            _ = Task.Run(() => ReconsumeAsync(manifest), _stopping);
            return Task.CompletedTask;
        };
        if (_consumers.TryGetValue(manifest.Name, out var replaced))
        {
            _ = replaced.DisposeAsync().AsTask(); // closed by the broker
        }

        _consumers[manifest.Name] = channel;
        _ = Task.Run(() => WriteInboxAsync(channel, manifest, arrived.Reader), _stopping);
        await channel.BasicConsumeAsync(queue, autoAck: false, consumer, _stopping).ConfigureAwait(false);
    }

    /// <summary>A new consumer channel for the module, tried with a growing pause until it works or the process stops.</summary>
    private async Task ReconsumeAsync(ModuleManifest manifest)
    {
        for (var attempt = 1; !_stopping.IsCancellationRequested; attempt++)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(500 * Math.Pow(2, Math.Min(attempt, 6)), 30_000)), _stopping).ConfigureAwait(false);
                await ConsumeAsync(manifest).ConfigureAwait(false);
                Problem($"consumer:{manifest.Name}", null);
                return;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogWarning("Could not consume {Module} again (attempt {Attempt}): {Error}", manifest.Name, attempt, exception.Message);
            }
        }
    }

    private async Task WriteInboxAsync(IChannel channel, ModuleManifest manifest, ChannelReader<(ulong Tag, TransportMessage? Message)> arrived)
    {
        var batch = new List<(ulong Tag, TransportMessage? Message)>(options.Value.Prefetch);
        while (await WaitToReadAsync(arrived).ConfigureAwait(false))
        {
            try
            {
                batch.Clear();
                while (batch.Count < options.Value.Prefetch && arrived.TryRead(out var next))
                {
                    batch.Add(next);
                }

                var deliveries = batch
                    .Where(d => d.Message is not null)
                    .SelectMany(d => registry.HostedConsumersOf(d.Message!.MessageType)
                        .Where(c => c.ModuleName == manifest.Name)
                        .Select(c => (d.Message!, c.ConsumerName)))
                    .ToArray();
                // The same batch again until the inbox holds it (its database may be down): nothing is
                // acknowledged that the inbox does not hold, and nothing later is written before it. A
                // channel closed meanwhile gives the batch back to the queue: it comes again on the new one.
                for (var attempt = 1; channel.IsOpen; attempt++)
                {
                    try
                    {
                        await inbox.WriteAsync(manifest.Name, deliveries, _stopping).ConfigureAwait(false);
                        await channel.BasicAckAsync(batch[^1].Tag, multiple: true, _stopping).ConfigureAwait(false);
                        break;
                    }
                    catch (Exception exception) when (!_stopping.IsCancellationRequested && channel.IsOpen)
                    {
                        var pause = TimeSpan.FromMilliseconds(Math.Min(200 * Math.Pow(2, Math.Min(attempt, 10)), 10_000));
                        logger.LogWarning("Could not write {Count} deliveries into the inbox of {Module} (attempt {Attempt}): {Error}; again in {Pause}",
                            batch.Count, manifest.Name, attempt, exception.Message, pause);
                        await Task.Delay(pause, _stopping).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                // The channel closed under the acknowledgement (a broker restart): the deliveries come again after recovery, and the inbox drops repeats.
                logger.LogWarning("Acknowledging deliveries of {Module} failed: {Error}", manifest.Name, exception.Message);
            }
        }
    }

    private async Task<bool> WaitToReadAsync(ChannelReader<(ulong Tag, TransportMessage? Message)> arrived)
    {
        try
        {
            return await arrived.WaitToReadAsync(_stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await DisposeConnectionsAsync().ConfigureAwait(false);
    }

    private async Task DisposeConnectionsAsync()
    {
        foreach (var channel in _consumers.Values)
        {
            await channel.DisposeAsync().ConfigureAwait(false);
        }

        _consumers.Clear();
        foreach (var publisher in _publishers.Values.Where(p => p.IsValueCreated && p.Value.IsCompletedSuccessfully))
        {
            await publisher.Value.Result.DisposeAsync().ConfigureAwait(false);
        }

        _publishers.Clear();
        foreach (var connection in new[] { _publishing, _consuming })
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }

        _publishing = null;
        _consuming = null;
    }
}

/// <summary>Readiness of the broker: degraded (requests are served, messages wait) while the topology is not declared or the connection is down.</summary>
internal sealed class RabbitMqHealthCheck(RabbitMqTransport transport) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(transport.IsReady
            ? HealthCheckResult.Healthy("RabbitMQ connected; topology declared.")
            : HealthCheckResult.Degraded($"Messages wait in the outboxes: {transport.NotReadyReason}."));
}

internal static class RabbitMqSetup
{
    public const string TransportKey = "Oms:Messaging:Transport";

    public static bool IsConfigured(IConfiguration configuration) =>
        string.Equals(configuration[TransportKey], "RabbitMq", StringComparison.OrdinalIgnoreCase);

    /// <summary>Registers the RabbitMQ transport in place of the in-process one.</summary>
    public static void AddRabbitMqTransport(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RabbitMqOptions>().Bind(configuration.GetSection(RabbitMqOptions.Section));
        services.AddSingleton(sp => new RabbitMqTopology(sp.GetRequiredService<ModuleRegistry>(), sp.GetRequiredService<IOptions<RabbitMqOptions>>().Value));
        services.AddSingleton<RabbitMqTransport>();
        services.AddSingleton<IMessageTransport>(sp => sp.GetRequiredService<RabbitMqTransport>());
        services.AddHostedService(sp => sp.GetRequiredService<RabbitMqTransport>());
        services.AddHealthChecks().AddCheck<RabbitMqHealthCheck>("rabbitmq", tags: [Shared.Infrastructure.Hosting.OmsHealthChecks.ReadyTag]);
    }

    /// <summary>Declares the topology once and disconnects (the <c>migrate</c> verb).</summary>
    public static async Task DeclareTopologyAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        var settings = services.GetRequiredService<IOptions<RabbitMqOptions>>().Value;
        var topology = services.GetRequiredService<RabbitMqTopology>();
        var factory = new ConnectionFactory { Uri = new Uri(settings.Uri), ClientProvidedName = "oms:migrate" };
        await using var connection = await factory.CreateConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var channel = await connection.CreateChannelAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await topology.DeclareAsync(channel, cancellationToken).ConfigureAwait(false);
        Serilog.Log.Information("RabbitMQ topology declared on {Broker}: {Topology}", factory.Endpoint, topology.Describe());
    }
}
