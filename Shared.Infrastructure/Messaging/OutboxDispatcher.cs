using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>
/// Moves one module's outbox to the transport. Claims rows with <c>FOR UPDATE SKIP LOCKED</c>
/// in batches (several Host instances run side by side, none dispatches a row twice), keeps
/// per-partition commit order across dispatchers, and is woken right after commit (in-process
/// signal, <c>LISTEN/NOTIFY</c>), polling only as a fallback.
/// </summary>
public sealed class OutboxDispatcher : BackgroundService, IMessagingWorker
{
    private readonly ModuleManifest _module;
    private readonly ModuleDatabase _database;
    private readonly IMessageTransport _transport;
    private readonly MessagingSignals _signals;
    private readonly MessagingOptions _options;
    private readonly ILogger<OutboxDispatcher> _logger;
    private readonly string _claimSql;
    private readonly string _claimHeadsSql;
    private bool _claimHeads;
    private readonly Dictionary<string, DateTimeOffset> _waitLogged = new(StringComparer.Ordinal);
    private readonly string _markSql;
    private readonly string _failSql;

    public OutboxDispatcher(
        ModuleManifest module,
        ModuleDatabase database,
        IMessageTransport transport,
        MessagingSignals signals,
        IOptions<MessagingOptions> options,
        ILogger<OutboxDispatcher> logger)
    {
        _module = module;
        _database = database;
        _transport = transport;
        _signals = signals;
        _options = options.Value;
        _logger = logger;
        var table = $"\"{module.Schema}\".outbox_messages";
        // Claim due rows in commit order, skipping rows another dispatcher holds and rows behind an
        // earlier row of their partition that waits for its retry (they cannot go before it, and must not
        // fill the claim so that other partitions starve). A claimed row is
        // held back when an earlier, not yet dispatched row of its partition is not in this claim
        // (another dispatcher holds it, or it waits for a retry): per-partition order survives
        // several dispatchers. It is locked out when that earlier row is due, so only another
        // dispatcher's lock keeps it from this claim: then looking again soon helps; a row that waits
        // for a retry is not looked at again before it is due. One round trip.
        _claimSql = $"""
            WITH claimed AS (
                SELECT id, sequence, message_type, payload, partition_key, occurred_at,
                       trace_parent, trace_state, correlation_id, causation_id, attempts
                FROM {table} m
                WHERE dispatched_at IS NULL AND next_attempt_at <= now()
                  AND (partition_key IS NULL OR NOT EXISTS (
                        SELECT 1 FROM {table} w
                        WHERE w.dispatched_at IS NULL AND w.partition_key = m.partition_key AND w.sequence < m.sequence
                          AND w.next_attempt_at > now()))
                ORDER BY sequence
                LIMIT $1
                FOR UPDATE SKIP LOCKED)
            SELECT c.id, c.sequence, c.message_type, c.payload::text, c.partition_key, c.occurred_at,
                   c.trace_parent, c.trace_state, c.correlation_id, c.causation_id, c.attempts,
                   c.partition_key IS NOT NULL AND EXISTS (
                       SELECT 1 FROM {table} o
                       WHERE o.dispatched_at IS NULL AND o.partition_key = c.partition_key AND o.sequence < c.sequence
                         AND o.id NOT IN (SELECT id FROM claimed)) AS held_back,
                   c.partition_key IS NOT NULL AND EXISTS (
                       SELECT 1 FROM {table} o
                       WHERE o.dispatched_at IS NULL AND o.partition_key = c.partition_key AND o.sequence < c.sequence
                         AND o.next_attempt_at <= now() AND o.id NOT IN (SELECT id FROM claimed)) AS locked_out
            FROM claimed c
            ORDER BY c.sequence
            """;
        // After a claim that was partly held back (another dispatcher, another Host instance, has the
        // earlier rows of those partitions in flight), the next claim takes partition heads only, so two
        // dispatchers do not keep claiming what the other must go first on.
        _claimHeadsSql = $"""
            WITH claimed AS (
                SELECT id, sequence, message_type, payload, partition_key, occurred_at,
                       trace_parent, trace_state, correlation_id, causation_id, attempts
                FROM {table} m
                WHERE dispatched_at IS NULL AND next_attempt_at <= now()
                  AND (partition_key IS NULL OR NOT EXISTS (
                        SELECT 1 FROM {table} e
                        WHERE e.dispatched_at IS NULL AND e.partition_key = m.partition_key AND e.sequence < m.sequence))
                ORDER BY sequence
                LIMIT $1
                FOR UPDATE SKIP LOCKED)
            SELECT c.id, c.sequence, c.message_type, c.payload::text, c.partition_key, c.occurred_at,
                   c.trace_parent, c.trace_state, c.correlation_id, c.causation_id, c.attempts,
                   c.partition_key IS NOT NULL AND EXISTS (
                       SELECT 1 FROM {table} o
                       WHERE o.dispatched_at IS NULL AND o.partition_key = c.partition_key AND o.sequence < c.sequence
                         AND o.id NOT IN (SELECT id FROM claimed)) AS held_back,
                   c.partition_key IS NOT NULL AND EXISTS (
                       SELECT 1 FROM {table} o
                       WHERE o.dispatched_at IS NULL AND o.partition_key = c.partition_key AND o.sequence < c.sequence
                         AND o.next_attempt_at <= now() AND o.id NOT IN (SELECT id FROM claimed)) AS locked_out
            FROM claimed c
            ORDER BY c.sequence
            """;
        _markSql = $"UPDATE {table} SET dispatched_at = now(), attempts = attempts + 1, last_error = NULL WHERE id = ANY($1)";
        _failSql = $"UPDATE {table} SET attempts = attempts + 1, next_attempt_at = now() + $2, last_error = $3 WHERE id = ANY($1)";
    }

    public string WorkerName => $"outbox-dispatcher:{_module.Name}";

    public DateTimeOffset? LastHeartbeat { get; private set; }

    public bool IsFaulted { get; private set; }

    /// <summary>How long to wait before looking again when rows were held back by another dispatcher.</summary>
    internal static readonly TimeSpan BlockedRetry = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Makes every message that waits for a retry due now and wakes the dispatcher: for a transport that
    /// has just become able to deliver (a broker that is back), so the backlog leaves at once.
    /// </summary>
    public async Task RetryWaitingNowAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_database.WorkerConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        // Rows a dispatcher holds right now are skipped: they are being sent.
        await using var command = new NpgsqlCommand(
            $"UPDATE \"{_module.Schema}\".outbox_messages SET next_attempt_at = now() WHERE id IN (SELECT id FROM \"{_module.Schema}\".outbox_messages WHERE dispatched_at IS NULL AND next_attempt_at > now() FOR UPDATE SKIP LOCKED)",
            connection) { CommandTimeout = 10 };
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        _signals.Outbox(_module.Schema).Set();
    }

    /// <summary>Dispatches until the outbox has nothing due; returns the number of messages dispatched.</summary>
    public async Task<int> DispatchPendingAsync(CancellationToken cancellationToken) =>
        (await DispatchDueAsync(cancellationToken).ConfigureAwait(false)).Dispatched;

    private async Task<(int Dispatched, bool Blocked)> DispatchDueAsync(CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            var heads = _claimHeads; // a heads-only claim takes one row per partition: fewer rows claimed does not mean drained
            var (claimed, dispatched, lockedOut) = await DispatchBatchAsync(cancellationToken).ConfigureAwait(false);
            total += dispatched;
            if (dispatched == 0)
            {
                // Another dispatcher holds earlier rows of these partitions, or the heads are in flight elsewhere:
                // look again soon. Rows held back behind one that waits for its retry are not.
                return (total, lockedOut || (heads && claimed == 0));
            }

            if (claimed < _options.BatchSize && !heads)
            {
                return (total, false);
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var signal = _signals.Outbox(_module.Schema);
        while (!stoppingToken.IsCancellationRequested)
        {
            var wake = signal.Next;
            var wait = _options.PollInterval;
            try
            {
                LastHeartbeat = DateTimeOffset.UtcNow;
                var (_, blocked) = await DispatchDueAsync(stoppingToken).ConfigureAwait(false);
                if (blocked)
                {
                    wait = BlockedRetry;
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
                _logger.LogError(exception, "Outbox dispatcher of {Module} failed; retrying in {Delay}", _module.Name, wait);
            }

            await WaitAsync(wake, wait, stoppingToken).ConfigureAwait(false);
        }
    }

    internal static async Task WaitAsync(Task wake, TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await wake.WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // the fallback poll
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    private async Task<(int Claimed, int Dispatched, bool LockedOut)> DispatchBatchAsync(CancellationToken cancellationToken)
    {
        await using var connection = new NpgsqlConnection(_database.WorkerConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        var rows = new List<(TransportMessage Message, long Sequence, int Attempts)>(_options.BatchSize);
        var claimed = 0;
        var lockedOut = false;
        await using (var claim = new NpgsqlCommand(_claimHeads ? _claimHeadsSql : _claimSql, connection, transaction))
        {
            claim.Parameters.Add(new NpgsqlParameter<int> { TypedValue = _options.BatchSize });
            await using var reader = await claim.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                claimed++;
                if (reader.GetBoolean(11))
                {
                    lockedOut |= reader.GetBoolean(12);
                    continue; // held back for partition order
                }

                rows.Add((
                    new TransportMessage(
                        reader.GetGuid(0),
                        reader.GetString(2),
                        reader.GetString(3),
                        reader.IsDBNull(4) ? null : reader.GetString(4),
                        reader.GetFieldValue<DateTimeOffset>(5),
                        reader.IsDBNull(6) ? null : reader.GetString(6),
                        reader.IsDBNull(7) ? null : reader.GetString(7),
                        reader.IsDBNull(8) ? null : reader.GetString(8),
                        reader.IsDBNull(9) ? null : reader.GetString(9),
                        _module.Name),
                    reader.GetInt64(1),
                    reader.GetInt32(10)));
            }
        }

        _claimHeads = lockedOut; // another dispatcher has earlier rows of some partitions: take partition heads next time
        if (rows.Count == 0)
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return (claimed, 0, lockedOut);
        }

        // A message the transport cannot deliver to every consuming module now waits, and so does
        // every later message of its partition in this claim (partition order).
        var waiting = new List<(Guid Id, string Reason, int Attempts)>();
        var blockedPartitions = new HashSet<string>(StringComparer.Ordinal);
        var deliverable = new List<(TransportMessage Message, long Sequence, int Attempts)>(rows.Count);
        foreach (var row in rows)
        {
            var reason = _transport.CannotDeliver(row.Message)
                         ?? (row.Message.PartitionKey is { } key && blockedPartitions.Contains(key) ? "Waits for an earlier message of its partition." : null);
            if (reason is null)
            {
                deliverable.Add(row);
                continue;
            }

            waiting.Add((row.Message.MessageId, reason, row.Attempts));
            if (row.Message.PartitionKey is { } partition)
            {
                blockedPartitions.Add(partition);
            }
        }

        if (waiting.Count > 0)
        {
            foreach (var reason in waiting.Select(w => w.Reason).Distinct(StringComparer.Ordinal))
            {
                if (!_waitLogged.TryGetValue(reason, out var logged) || DateTimeOffset.UtcNow - logged > TimeSpan.FromMinutes(1))
                {
                    _waitLogged[reason] = DateTimeOffset.UtcNow; // once a minute per reason, not per batch
                    _logger.LogWarning("{Count} messages of {Module} wait in the outbox: {Reason}", waiting.Count(w => w.Reason == reason), _module.Name, reason);
                }
            }

            foreach (var group in waiting.GroupBy(w => w.Reason, StringComparer.Ordinal))
            {
                await FailAsync(connection, transaction, group.Select(w => w.Id).ToArray(), WaitDelay(group.Max(w => w.Attempts) + 1), group.Key, cancellationToken).ConfigureAwait(false);
            }
        }


        if (deliverable.Count == 0)
        {
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return (claimed, 0, lockedOut);
        }

        rows = deliverable;
        var ids = rows.Select(r => r.Message.MessageId).ToArray();
        try
        {
            await _transport.SendAsync(rows.Select(r => r.Message).ToArray(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // What the transport did deliver is marked as such (not sent again); the rest is retried.
            var delivered = (exception as PartialDeliveryException)?.Delivered.ToHashSet() ?? [];
            var failed = ids.Where(id => !delivered.Contains(id)).ToArray();
            var delay = WaitDelay(rows.Where(r => !delivered.Contains(r.Message.MessageId)).Select(r => r.Attempts).DefaultIfEmpty(0).Max() + 1);
            _logger.LogWarning(exception.InnerException ?? exception, "Transport refused {Count} messages of {Module}; next attempt in {Delay}", failed.Length, _module.Name, delay);
            await FailAsync(connection, transaction, failed, delay, Truncate((exception.InnerException ?? exception).ToString()), cancellationToken).ConfigureAwait(false);
            if (delivered.Count > 0)
            {
                await MarkAsync(connection, transaction, [.. delivered], cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            MessagingTelemetry.DispatchFailures.Add(failed.Length, new KeyValuePair<string, object?>("module", _module.Name));
            return (claimed, delivered.Count, lockedOut);
        }

        await MarkAsync(connection, transaction, ids, cancellationToken).ConfigureAwait(false);

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);

        var now = DateTimeOffset.UtcNow;
        var tag = new KeyValuePair<string, object?>("module", _module.Name);
        MessagingTelemetry.Dispatched.Add(ids.Length, tag);
        foreach (var row in rows)
        {
            MessagingTelemetry.OutboxLag.Record((now - row.Message.OccurredAt).TotalMilliseconds, tag);
        }

        return (claimed, rows.Count, lockedOut);
    }

    /// <summary>
    /// A message that cannot leave yet is not a poison message: it is retried with backoff, but never
    /// later than the longest outage pause, so it leaves soon after the transport can take it.
    /// </summary>
    private TimeSpan WaitDelay(int attempt) =>
        TimeSpan.FromTicks(Math.Min(_options.RetryDelay(attempt).Ticks, (long)(_options.MaxOutagePause.Ticks * (0.5 + (Random.Shared.NextDouble() * 0.5))))); // jittered at the cap too

    private async Task MarkAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[] ids, CancellationToken cancellationToken)
    {
        await using var mark = new NpgsqlCommand(_markSql, connection, transaction);
        mark.Parameters.Add(new NpgsqlParameter { Value = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        await mark.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task FailAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid[] ids, TimeSpan delay, string reason, CancellationToken cancellationToken)
    {
        await using var fail = new NpgsqlCommand(_failSql, connection, transaction);
        fail.Parameters.Add(new NpgsqlParameter { Value = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid });
        fail.Parameters.Add(new NpgsqlParameter { Value = delay, NpgsqlDbType = NpgsqlDbType.Interval });
        fail.Parameters.Add(new NpgsqlParameter { Value = reason, NpgsqlDbType = NpgsqlDbType.Text });
        await fail.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    internal static string Truncate(string text) => text.Length <= 4000 ? text : text[..4000];
}

/// <summary>A background worker of the backbone, watched by the readiness check.</summary>
public interface IMessagingWorker
{
    string WorkerName { get; }

    DateTimeOffset? LastHeartbeat { get; }

    bool IsFaulted { get; }
}
