using System.Diagnostics;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using OmsModular.Shared.Infrastructure.Modules;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>
/// Runs one module's consumers over its inbox. A consumer's handler, its inbox row and the
/// events it publishes commit in one transaction (effect exactly once). A delivery that fails on
/// its own retries with exponential backoff and jitter and becomes a dead letter after the last
/// attempt; a failing delivery holds back only later messages of its own partition for its own
/// consumer. An outage of what the consumer depends on (see <see cref="Failures"/>) spends no
/// attempt: the consumer pauses and probes (<see cref="ConsumerPauses"/>). A certain outage (the
/// database cannot be reached, a module or an external dependency says it is unavailable) never
/// spends attempts. A failure that only may be one (a time-out) is taken for the message's own when
/// another delivery of the consumer succeeds in the batch, and after
/// <see cref="MessagingOptions.OutageProbes"/> failed probes in a row, so a lone message that only
/// looks like an outage still ends as a dead letter. A lost race retries against a larger budget. A
/// batch whose commit fails is retried one delivery per transaction.
/// </summary>
public sealed class InboxProcessor : BackgroundService, IMessagingWorker
{
    private readonly ModuleManifest _module;
    private readonly ModuleDatabase _database;
    private readonly ModuleRegistry _registry;
    private readonly IServiceScopeFactory _scopeFactory;
    private readonly MessagingSignals _signals;
    private readonly MessagingOptions _options;
    private readonly ILogger<InboxProcessor> _logger;
    private readonly string _claimSql;
    private readonly string _processedSql;
    private readonly string _failSql;
    private readonly string _deferSql;
    private readonly string _pendingSql;

    public InboxProcessor(
        ModuleManifest module,
        ModuleDatabase database,
        ModuleRegistry registry,
        IServiceScopeFactory scopeFactory,
        MessagingSignals signals,
        IOptions<MessagingOptions> options,
        ILogger<InboxProcessor> logger)
    {
        _module = module;
        _database = database;
        _registry = registry;
        _scopeFactory = scopeFactory;
        _signals = signals;
        _options = options.Value;
        _logger = logger;
        var table = $"\"{module.Schema}\".inbox_messages";
        // The partition hold-back: a delivery waits while an earlier delivery of its partition (per
        // consumer, or for a process manager across all of the module's consumers) is pending. The probe
        // goes through ix_inbox_messages_partition_pending (pending rows only), so it never walks the
        // processed rows a partition keeps.
        var samePartition = module.PartitionsAcrossConsumers && module.Consumes.Count > 0
            ? $"e.consumer IN ({string.Join(", ", module.Consumes.Select(c => $"'{c.ConsumerName.Replace("'", "''", StringComparison.Ordinal)}'"))})"
            : "e.consumer = i.consumer";
        _claimSql = $"""
            SELECT i.id, i.message_id, i.consumer, i.message_type, i.payload::text, i.partition_key, i.occurred_at,
                   i.trace_parent, i.trace_state, i.correlation_id, i.causation_id, i.attempts
            FROM {table} i
            WHERE i.status = 0 AND i.next_attempt_at <= now() AND NOT (i.consumer = ANY($2))
              AND (i.partition_key IS NULL OR NOT EXISTS (
                    SELECT 1 FROM {table} e
                    WHERE {samePartition} AND e.partition_key = i.partition_key AND e.sequence < i.sequence AND e.status = 0))
            ORDER BY i.sequence
            LIMIT $1
            FOR UPDATE SKIP LOCKED
            """;
        _processedSql = $"UPDATE {table} SET status = 1, processed_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = ANY($1)";
        // An outage or a lost race: the error is kept for the backlog view, no attempt is spent.
        // Both only touch a row still pending: a commit whose answer was lost may have processed it after all.
        _deferSql = $"UPDATE {table} SET last_error = $2, next_attempt_at = now() + $3 WHERE id = $1 AND status = 0";
        _failSql = $"""
            UPDATE {table}
            SET attempts = attempts + 1,
                last_error = $2,
                next_attempt_at = now() + $3,
                status = CASE WHEN attempts + 1 >= $4 THEN 2 ELSE 0 END,
                dead_lettered_at = CASE WHEN attempts + 1 >= $4 THEN now() END
            WHERE id = $1 AND status = 0
            RETURNING status
            """;
        // What is left once nothing can be claimed: the earliest retry still to come, and whether
        // anything is due but was not claimable (locked by another processor, or behind an earlier
        // message of its partition). One pass over the pending rows, no per-row hold-back check:
        // this runs after every busy spell, when the pending set can be large.
        _pendingSql = $"""
            SELECT min(next_attempt_at) FILTER (WHERE next_attempt_at > now()), coalesce(bool_or(next_attempt_at <= now()), false)
            FROM {table} WHERE status = 0 AND NOT (consumer = ANY($1))
            """;
        signals.AddInboxProcessor(module.Schema);
    }

    /// <summary>The longest wait between looks while due deliveries stay unclaimable.</summary>
    internal static readonly TimeSpan MaxBlockedRetry = TimeSpan.FromMilliseconds(500);

    public string WorkerName => $"inbox-processor:{_module.Name}";

    public DateTimeOffset? LastHeartbeat { get; private set; }

    public bool IsFaulted { get; private set; }

    /// <summary>Processes every delivery that is due; returns how many were claimed.</summary>
    public async Task<int> ProcessPendingAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            var claimed = await ProcessBatchAsync(cancellationToken).ConfigureAwait(false);
            total += claimed;
            if (claimed == 0)
            {
                return total;
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var signal = _signals.Inbox(_module.Schema);
        var blockedRetry = OutboxDispatcher.BlockedRetry;
        while (!stoppingToken.IsCancellationRequested)
        {
            var wake = signal.Next;
            var wait = _options.PollInterval;
            try
            {
                LastHeartbeat = DateTimeOffset.UtcNow;
                var claimed = await ProcessPendingAsync(stoppingToken).ConfigureAwait(false);
                var (nextRetry, blocked) = await PendingAsync(stoppingToken).ConfigureAwait(false);
                if (blocked)
                {
                    // Due but not claimable: held by another processor (one of this process wakes us
                    // when it commits) or behind an earlier message of its partition. Look again
                    // soon, backing off while it stays so (each look reads the pending rows).
                    blockedRetry = claimed > 0 ? OutboxDispatcher.BlockedRetry : TimeSpan.FromTicks(Math.Min(blockedRetry.Ticks * 2, MaxBlockedRetry.Ticks));
                    wait = blockedRetry;
                }
                else
                {
                    blockedRetry = OutboxDispatcher.BlockedRetry;
                }

                if (_signals.Pauses.NextProbe() is { } probe && probe - DateTimeOffset.UtcNow is var untilProbe && untilProbe < wait)
                {
                    wait = untilProbe <= TimeSpan.Zero ? OutboxDispatcher.BlockedRetry : untilProbe;
                }

                if (nextRetry is { } due && due - DateTimeOffset.UtcNow is var untilDue && untilDue < wait)
                {
                    wait = untilDue <= TimeSpan.Zero ? OutboxDispatcher.BlockedRetry : untilDue;
                }

                IsFaulted = false;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                IsFaulted = true;
                wait = TimeSpan.FromSeconds(1);
                _logger.LogError(exception, "Inbox processor of {Module} failed; retrying in {Delay}", _module.Name, wait);
            }

            await OutboxDispatcher.WaitAsync(wake, wait, stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task<(DateTimeOffset? NextRetry, bool Blocked)> PendingAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_database.WorkerConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand(_pendingSql, connection);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = _signals.Pauses.PausedNow() }); // a paused consumer's rows wait for its probe, not for a look every 500 ms
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        DateTimeOffset? next = reader.IsDBNull(0) ? null : new DateTimeOffset(DateTime.SpecifyKind(reader.GetDateTime(0), DateTimeKind.Utc));
        return (next, reader.GetBoolean(1));
    }

    private async Task<int> ProcessBatchAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_database.WorkerConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var deliveries = await ClaimAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
        if (deliveries.Count == 0)
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }

        // The claimed rows stay locked until this transaction ends, whatever happens below:
        // failures roll back to savepoints, never the whole transaction, so no other processor
        // can claim a delivery while this one is still deciding its outcome.
        var succeeded = new List<Delivery>(deliveries.Count);
        var failed = new List<(Delivery Delivery, Exception Error)>();
        var healthy = new HashSet<string>(StringComparer.Ordinal);  // consumers with a delivery that succeeded in this batch
        var suspects = new HashSet<string>(StringComparer.Ordinal); // consumers with a delivery that failed like an outage
        var outages = new HashSet<string>(StringComparer.Ordinal);  // consumers with two such failures and no success
        var publishedEvents = false;
        await transaction.SaveAsync("batch", cancellationToken).ConfigureAwait(false);
        try
        {
            // Fast path: the whole batch at once, in one DI scope and one DbContext.
            publishedEvents = await HandleAsync(deliveries, connection, transaction, cancellationToken).ConfigureAwait(false);

            succeeded.AddRange(deliveries);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            await transaction.RollbackAsync("batch", cancellationToken).ConfigureAwait(false);
            publishedEvents = false;
            if (deliveries.Count == 1)
            {
                failed.Add((deliveries[0], exception));
            }
            else
            {
                // Slow path: one savepoint per delivery, so only the failing ones are retried. A
                // consumer is taken to meet an outage when two of its deliveries (two partitions) fail
                // that way in a row; its other deliveries of the batch are then left for the probe.
                foreach (var delivery in deliveries)
                {
                    if (outages.Contains(delivery.Consumer))
                    {
                        continue;
                    }

                    await transaction.SaveAsync("delivery", cancellationToken).ConfigureAwait(false);
                    try
                    {
                        publishedEvents |= await HandleAsync([delivery], connection, transaction, cancellationToken).ConfigureAwait(false);
                        await transaction.ReleaseAsync("delivery", cancellationToken).ConfigureAwait(false);
                        succeeded.Add(delivery);
                        healthy.Add(delivery.Consumer);
                    }
                    catch (Exception error) when (!cancellationToken.IsCancellationRequested)
                    {
                        await transaction.RollbackAsync("delivery", cancellationToken).ConfigureAwait(false);
                        failed.Add((delivery, error));
                        if (Failures.Classify(error) == FailureKind.Outage && (Failures.IsCertainOutage(error) || (!healthy.Contains(delivery.Consumer) && !suspects.Add(delivery.Consumer))))
                        {
                            outages.Add(delivery.Consumer); // two in a row: leave the rest of its deliveries for the probe
                        }
                    }
                }
            }
        }

        if (succeeded.Count > 0)
        {
            await using var processed = new NpgsqlCommand(_processedSql, connection, transaction);
            processed.Parameters.Add(new NpgsqlParameter { Value = succeeded.Select(d => d.Id).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
            await processed.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var outcomes = new List<(Delivery Delivery, Exception Error, TimeSpan Delay, bool Dead)>(failed.Count);
        var paused = new List<(Delivery Delivery, Exception Error)>();
        foreach (var (delivery, error) in failed)
        {
            switch (Failures.Classify(error))
            {
                case FailureKind.Outage when Failures.IsCertainOutage(error) || (!healthy.Contains(delivery.Consumer) && _signals.Pauses.FailedProbes(delivery.Consumer) < _options.OutageProbes):
                    paused.Add((delivery, error));
                    await DeferAsync(connection, transaction, delivery, error, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
                    break;
                case FailureKind.Contention:
                    outcomes.Add(await RecordFailureAsync(connection, transaction, delivery, error, cancellationToken, ContentionAttempts).ConfigureAwait(false));
                    break;
                default: // a message's own failure, or an outage-like one while the consumer's other deliveries succeed
                    outcomes.Add(await RecordFailureAsync(connection, transaction, delivery, error, cancellationToken).ConfigureAwait(false));
                    break;
            }
        }

        try
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
        {
            // The commit itself failed (a deferred constraint, the database going away): nothing of
            // the batch took effect. A single delivery's failure is recorded on its own; a batch is
            // taken apart, one delivery per transaction, so a delivery whose commit keeps failing is
            // found and retried or dead-lettered alone instead of holding up the whole inbox.
            await connection.DisposeAsync().ConfigureAwait(false);
            if (deliveries.Count == 1)
            {
                await RecordCommitFailureAsync(deliveries[0], exception, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                _singleDeliveries = deliveries.Count;
                _logger.LogWarning(exception, "Inbox batch of {Module} failed to commit; its {Count} deliveries are retried one per transaction", _module.Name, deliveries.Count);
            }

            return deliveries.Count;
        }

        foreach (var consumer in succeeded.Select(d => d.Consumer).Distinct(StringComparer.Ordinal))
        {
            _signals.Pauses.Resume(consumer); // what it depends on answered
        }

        foreach (var (delivery, error) in paused.DistinctBy(o => o.Delivery.Consumer))
        {
            var pause = _signals.Pauses.Pause(delivery.Consumer, OutboxDispatcher.Truncate(error.Message), _options.OutagePause, _options.MaxOutagePause);
            MessagingTelemetry.Failures.Add(1, new KeyValuePair<string, object?>("consumer", delivery.Consumer));
            _logger.LogWarning(
                error,
                "Consumer {Consumer} paused for {Pause}: what it depends on is unavailable ({Error}); its deliveries keep their attempts and are probed after the pause",
                delivery.Consumer,
                pause,
                error.Message);
        }

        Completed(succeeded, publishedEvents);
        foreach (var outcome in outcomes)
        {
            LogFailure(outcome.Delivery, outcome.Error, outcome.Delay, outcome.Dead);
        }

        return deliveries.Count;
    }

    private void Completed(IReadOnlyList<Delivery> deliveries, bool publishedEvents)
    {
        var now = DateTimeOffset.UtcNow;
        foreach (var delivery in deliveries)
        {
            var consumerTag = new KeyValuePair<string, object?>("consumer", delivery.Consumer);
            MessagingTelemetry.Delivered.Add(1, consumerTag);
            MessagingTelemetry.EndToEnd.Record((now - delivery.OccurredAt).TotalMilliseconds, consumerTag);
        }

        if (publishedEvents)
        {
            _signals.Outbox(_module.Schema).Set();
        }

        if (_signals.SharesInbox(_module.Schema))
        {
            _signals.Inbox(_module.Schema).Set(); // the partitions this batch held back are free for the other processors
        }
    }

    /// <summary>Records a delivery whose transaction failed to commit, in a transaction of its own.</summary>
    private async Task RecordCommitFailureAsync(Delivery delivery, Exception exception, CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_database.WorkerConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        switch (Failures.Classify(exception))
        {
            case FailureKind.Outage when Failures.IsCertainOutage(exception) || _signals.Pauses.FailedProbes(delivery.Consumer) < _options.OutageProbes:
                await DeferAsync(connection, transaction, delivery, exception, TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                var pause = _signals.Pauses.Pause(delivery.Consumer, OutboxDispatcher.Truncate(exception.Message), _options.OutagePause, _options.MaxOutagePause);
                _logger.LogWarning(exception, "Consumer {Consumer} paused for {Pause}: its commit failed for an outage", delivery.Consumer, pause);
                return;
            case FailureKind.Contention:
                var contention = await RecordFailureAsync(connection, transaction, delivery, exception, cancellationToken, ContentionAttempts).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                LogFailure(contention.Item1, contention.Item2, contention.Item3, contention.Item4);
                return;
            default:
                var outcome = await RecordFailureAsync(connection, transaction, delivery, exception, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                LogFailure(outcome.Item1, outcome.Item2, outcome.Item3, outcome.Item4);
                return;
        }
    }

    /// <summary>A lost race is retried with backoff against four times the usual attempts: bounded, but patient.</summary>
    private int ContentionAttempts => _options.MaxAttempts * 4;

    /// <summary>After a batch failed to commit: how many claims still take one delivery each.</summary>
    private int _singleDeliveries;

    private async Task DeferAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Delivery delivery, Exception exception, TimeSpan delay, CancellationToken cancellationToken)
    {
        await using var defer = new NpgsqlCommand(_deferSql, connection, transaction);
        defer.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = delivery.Id });
        defer.Parameters.Add(new NpgsqlParameter<string> { TypedValue = OutboxDispatcher.Truncate(exception.ToString()) });
        defer.Parameters.Add(new NpgsqlParameter { Value = delay, NpgsqlDbType = NpgsqlDbType.Interval });
        await defer.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<(Delivery, Exception, TimeSpan, bool)> RecordFailureAsync(
        NpgsqlConnection connection,
        NpgsqlTransaction transaction,
        Delivery delivery,
        Exception exception,
        CancellationToken cancellationToken,
        int? maxAttempts = null)
    {
        var delay = _options.RetryDelay(delivery.Attempts + 1);
        await using var fail = new NpgsqlCommand(_failSql, connection, transaction);
        fail.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = delivery.Id });
        fail.Parameters.Add(new NpgsqlParameter<string> { TypedValue = OutboxDispatcher.Truncate(exception.ToString()) });
        fail.Parameters.Add(new NpgsqlParameter { Value = delay, NpgsqlDbType = NpgsqlDbType.Interval });
        fail.Parameters.Add(new NpgsqlParameter<int> { TypedValue = maxAttempts ?? _options.MaxAttempts });
        var result = await fail.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        var status = result is null ? (short)InboxStatus.Processed : Convert.ToInt16(result, System.Globalization.CultureInfo.InvariantCulture);
        return (delivery, exception, delay, status == (short)InboxStatus.DeadLettered);
    }

    private void LogFailure(Delivery delivery, Exception exception, TimeSpan delay, bool dead)
    {
        var consumerTag = new KeyValuePair<string, object?>("consumer", delivery.Consumer);
        MessagingTelemetry.Failures.Add(1, consumerTag);
        if (dead)
        {
            MessagingTelemetry.DeadLettered.Add(1, consumerTag);
            _logger.LogError(
                exception,
                "Delivery of {MessageType} {MessageId} to {Consumer} failed {Attempts} times and is now a dead letter",
                delivery.MessageType,
                delivery.MessageId,
                delivery.Consumer,
                delivery.Attempts + 1);
        }
        else
        {
            _logger.LogWarning(
                exception,
                "Delivery of {MessageType} {MessageId} to {Consumer} failed (attempt {Attempt}); retrying in {Delay}",
                delivery.MessageType,
                delivery.MessageId,
                delivery.Consumer,
                delivery.Attempts + 1,
                delay);
        }
    }

    private async Task<List<Delivery>> ClaimAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        var deliveries = new List<Delivery>();
        await using var claim = new NpgsqlCommand(_claimSql, connection, transaction);
        var limit = _options.InboxBatchSize;
        if (_singleDeliveries > 0)
        {
            _singleDeliveries--;
            limit = 1;
        }

        claim.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        claim.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = _signals.Pauses.PausedNow() });
        await using var reader = await claim.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            deliveries.Add(new Delivery(
                reader.GetGuid(0),
                reader.GetGuid(1),
                reader.GetString(2),
                reader.GetString(3),
                reader.GetString(4),
                reader.IsDBNull(5) ? null : reader.GetString(5),
                reader.GetFieldValue<DateTimeOffset>(6),
                reader.IsDBNull(7) ? null : reader.GetString(7),
                reader.IsDBNull(8) ? null : reader.GetString(8),
                reader.IsDBNull(9) ? null : reader.GetString(9),
                reader.IsDBNull(10) ? null : reader.GetString(10),
                reader.GetInt32(11)));
        }

        return deliveries;
    }

    /// <summary>
    /// Runs the consumers of the given deliveries inside the given transaction, in one DI scope
    /// (consumers are scoped services and must not keep per-message state in fields); saves the
    /// module's DbContext once at the end. True when the consumers published events.
    /// </summary>
    private async Task<bool> HandleAsync(IReadOnlyList<Delivery> deliveries, NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        await using var scope = _scopeFactory.CreateAsyncScope();
        var db = (ModuleDbContext)scope.ServiceProvider.GetRequiredService(_module.DbContextType);
        db.Database.SetDbConnection(connection, contextOwnsConnection: false);
        await db.Database.UseTransactionAsync(transaction, cancellationToken).ConfigureAwait(false);
        HashSet<string>? batchedConsumers = null;
        foreach (var delivery in deliveries)
        {
            var consumer = FindConsumer(delivery);
            if (!consumer.HandlesBatches)
            {
                await InvokeAsync(delivery, consumer, scope.ServiceProvider, cancellationToken).ConfigureAwait(false);
            }
            else if ((batchedConsumers ??= new(StringComparer.Ordinal)).Add(consumer.ConsumerName))
            {
                // A batch consumer gets all of its deliveries of this batch at once, where its first one stands.
                var own = deliveries.Where(d => d.Consumer == consumer.ConsumerName).ToArray();
                await InvokeBatchAsync(own, consumer, scope.ServiceProvider, cancellationToken).ConfigureAwait(false);
            }
        }

        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        var published = db.HasUnsignalledOutbox;
        db.HasUnsignalledOutbox = false;
        return published;
    }

    private ConsumerDescriptor FindConsumer(Delivery delivery) =>
        _registry.FindConsumer(delivery.Consumer)
        ?? throw new InvalidOperationException($"No consumer named '{delivery.Consumer}' is declared by module {_module.Name}.");

    private static object Deserialize(Delivery delivery, ConsumerDescriptor consumer) =>
        JsonSerializer.Deserialize(delivery.Payload, consumer.EventType, MessageSerialization.Options)
        ?? throw new InvalidOperationException($"Message {delivery.MessageId} has an empty payload.");

    private static MessageContext ContextOf(Delivery delivery) => new(
        delivery.MessageId,
        delivery.MessageType,
        delivery.Consumer,
        delivery.PartitionKey,
        delivery.CorrelationId,
        delivery.CausationId,
        delivery.OccurredAt,
        delivery.Attempts + 1);

    private static MessagingAmbient AmbientOf(Delivery delivery) => new(
        delivery.CorrelationId ?? delivery.MessageId.ToString(),
        delivery.MessageId.ToString(),
        delivery.TraceParent,
        delivery.TraceState);

    /// <summary>One call for a batch consumer's deliveries: one span linked to every message's trace.</summary>
    private async Task InvokeBatchAsync(IReadOnlyList<Delivery> deliveries, ConsumerDescriptor consumer, IServiceProvider services, CancellationToken cancellationToken)
    {
        var items = deliveries.Select(d => (Deserialize(d, consumer), ContextOf(d), AmbientOf(d))).ToArray();
        var links = deliveries
            .Select(d => ActivityContext.TryParse(d.TraceParent, d.TraceState, isRemote: true, out var parent) ? new ActivityLink(parent) : default)
            .Where(l => l.Context != default)
            .ToArray();
        using var activity = MessagingTelemetry.ActivitySource.StartActivity(ActivityKind.Consumer, default(ActivityContext), links: links, name: $"{deliveries[0].MessageType} process");
        if (activity is not null)
        {
            activity.SetTag("messaging.system", "oms");
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.destination.name", deliveries[0].MessageType);
            activity.SetTag("messaging.consumer.group.name", consumer.ConsumerName);
            activity.SetTag("messaging.batch.message_count", deliveries.Count);
        }

        using var logScope = _logger.BeginScope(new Dictionary<string, object?>
        {
            ["MessageType"] = deliveries[0].MessageType,
            ["Consumer"] = consumer.ConsumerName,
            ["BatchSize"] = deliveries.Count,
        });
        try
        {
            await consumer.InvokeBatch!(services, items, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
            throw;
        }
    }

    private async Task InvokeAsync(Delivery delivery, ConsumerDescriptor consumer, IServiceProvider services, CancellationToken cancellationToken)
    {
        var message = Deserialize(delivery, consumer);

        ActivityContext.TryParse(delivery.TraceParent, delivery.TraceState, isRemote: true, out var parent);
        using var activity = MessagingTelemetry.ActivitySource.StartActivity($"{delivery.MessageType} process", ActivityKind.Consumer, parent);
        if (activity is not null)
        {
            activity.SetTag("messaging.system", "oms");
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.destination.name", delivery.MessageType);
            activity.SetTag("messaging.message.id", delivery.MessageId.ToString());
            activity.SetTag("messaging.consumer.group.name", delivery.Consumer);
            activity.SetTag("oms.correlation_id", delivery.CorrelationId);
        }

        using var ambient = MessagingAmbient.Begin(AmbientOf(delivery));
        using var logScope = _logger.BeginScope(new Dictionary<string, object?>
        {
            ["MessageId"] = delivery.MessageId,
            ["MessageType"] = delivery.MessageType,
            ["Consumer"] = delivery.Consumer,
            ["CorrelationId"] = delivery.CorrelationId,
            ["CausationId"] = delivery.CausationId,
            ["PartitionKey"] = delivery.PartitionKey,
        });

        var context = ContextOf(delivery);
        try
        {
            await consumer.Invoke(services, message, context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception)
        {
            activity?.SetStatus(ActivityStatusCode.Error, exception.Message);
            throw;
        }
    }

    private sealed record Delivery(
        Guid Id,
        Guid MessageId,
        string Consumer,
        string MessageType,
        string Payload,
        string? PartitionKey,
        DateTimeOffset OccurredAt,
        string? TraceParent,
        string? TraceState,
        string? CorrelationId,
        string? CausationId,
        int Attempts);
}
