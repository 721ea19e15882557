using Npgsql;
using NpgsqlTypes;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>A delivery parked after its last attempt.</summary>
public sealed record DeadLetter(
    string Module,
    Guid Id,
    Guid MessageId,
    string MessageType,
    string Consumer,
    string? PartitionKey,
    int Attempts,
    string? LastError,
    DateTimeOffset OccurredAt,
    DateTimeOffset? DeadLetteredAt,
    string? CorrelationId);

/// <summary>What is still in flight in one module.</summary>
public sealed record ModuleBacklog(string Module, long OutboxPending, long InboxPending, long DeadLetters, IReadOnlyList<PausedConsumer> PausedConsumers, IReadOnlyList<OutboxWait> OutboxWaiting);

/// <summary>Outbox messages that have not left yet, grouped by why (the transport cannot reach a consumer, the broker refused them).</summary>
public sealed record OutboxWait(string Reason, long Messages, DateTimeOffset Oldest);

/// <summary>A consumer of this process paused by an outage of what it depends on: until when, after how many pauses in a row, and why.</summary>
public sealed record PausedConsumer(string Consumer, DateTimeOffset Until, int Pauses, string Reason);

/// <summary>Dead letters (list, replay) and backlog, across the hosted modules, each through its own connection.</summary>
public sealed class MessagingAdmin(ModuleRegistry registry, ModuleDatabases databases, MessagingSignals signals)
{
    public async Task<IReadOnlyList<DeadLetter>> ListDeadLettersAsync(string? module, string? consumer, int limit, CancellationToken cancellationToken)
    {
        var result = new List<DeadLetter>();
        foreach (var manifest in Select(module))
        {
            await using var connection = await OpenAsync(manifest, cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(
                $"""
                SELECT id, message_id, message_type, consumer, partition_key, attempts, last_error, occurred_at, dead_lettered_at, correlation_id
                FROM "{manifest.Schema}".inbox_messages
                WHERE status = 2 AND ($1::text IS NULL OR consumer = $1)
                ORDER BY dead_lettered_at DESC, sequence DESC
                LIMIT $2
                """,
                connection);
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)consumer ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                result.Add(new DeadLetter(
                    manifest.Name,
                    reader.GetGuid(0),
                    reader.GetGuid(1),
                    reader.GetString(2),
                    reader.GetString(3),
                    reader.IsDBNull(4) ? null : reader.GetString(4),
                    reader.GetInt32(5),
                    reader.IsDBNull(6) ? null : reader.GetString(6),
                    reader.GetFieldValue<DateTimeOffset>(7),
                    reader.IsDBNull(8) ? null : reader.GetFieldValue<DateTimeOffset>(8),
                    reader.IsDBNull(9) ? null : reader.GetString(9)));
            }
        }

        return result.OrderByDescending(d => d.DeadLetteredAt).Take(limit).ToArray();
    }

    /// <summary>Puts dead letters back in line with fresh attempts; returns how many.</summary>
    public async Task<int> ReplayAsync(string? module, Guid? id, string? consumer, CancellationToken cancellationToken)
    {
        var replayed = 0;
        foreach (var manifest in Select(module))
        {
            await using var connection = await OpenAsync(manifest, cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(
                $"""
                UPDATE "{manifest.Schema}".inbox_messages
                SET status = 0, attempts = 0, next_attempt_at = now(), dead_lettered_at = NULL
                WHERE status = 2 AND ($1::uuid IS NULL OR id = $1) AND ($2::text IS NULL OR consumer = $2)
                """,
                connection);
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)id ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
            command.Parameters.Add(new NpgsqlParameter { Value = (object?)consumer ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            var count = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            if (count > 0)
            {
                signals.Inbox(manifest.Schema).Set();
            }

            replayed += count;
        }

        return replayed;
    }

    public async Task<IReadOnlyList<ModuleBacklog>> GetBacklogAsync(CancellationToken cancellationToken)
    {
        var result = new List<ModuleBacklog>();
        foreach (var manifest in registry.Hosted)
        {
            await using var connection = await OpenAsync(manifest, cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand(
                $"""
                SELECT (SELECT count(*) FROM "{manifest.Schema}".outbox_messages WHERE dispatched_at IS NULL),
                       (SELECT count(*) FROM "{manifest.Schema}".inbox_messages WHERE status = 0),
                       (SELECT count(*) FROM "{manifest.Schema}".inbox_messages WHERE status = 2)
                """,
                connection);
            await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var (outboxPending, inboxPending, deadLetters) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
            await reader.CloseAsync().ConfigureAwait(false);
            var waiting = new List<OutboxWait>();
            await using (var reasons = new NpgsqlCommand(
                $"""
                SELECT left(last_error, 500), count(*), min(occurred_at)
                FROM "{manifest.Schema}".outbox_messages
                WHERE dispatched_at IS NULL AND last_error IS NOT NULL
                GROUP BY 1 ORDER BY 2 DESC LIMIT 10
                """,
                connection))
            {
                await using var rows = await reasons.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                while (await rows.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    waiting.Add(new OutboxWait(rows.GetString(0), rows.GetInt64(1), rows.GetFieldValue<DateTimeOffset>(2)));
                }
            }

            var paused = signals.Pauses.Snapshot()
                .Where(p => manifest.Consumes.Any(c => c.ConsumerName == p.Key))
                .Select(p => new PausedConsumer(p.Key, p.Value.Until, p.Value.Pauses, p.Value.Reason))
                .ToArray();
            result.Add(new ModuleBacklog(manifest.Name, outboxPending, inboxPending, deadLetters, paused, waiting));
        }

        return result;
    }

    /// <summary>Removes dispatched outbox rows and processed inbox rows older than the retention.</summary>
    public async Task<long> PurgeProcessedAsync(TimeSpan olderThan, CancellationToken cancellationToken, string? module = null)
    {
        long removed = 0;
        foreach (var manifest in registry.Hosted.Where(m => module is null || string.Equals(m.Name, module, StringComparison.OrdinalIgnoreCase)))
        {
            await using var connection = await OpenAsync(manifest, cancellationToken).ConfigureAwait(false);
            foreach (var sql in new[]
                     {
                         $"""DELETE FROM "{manifest.Schema}".outbox_messages WHERE id IN (SELECT id FROM "{manifest.Schema}".outbox_messages WHERE dispatched_at < now() - $1 LIMIT 10000)""",
                         $"""DELETE FROM "{manifest.Schema}".inbox_messages WHERE id IN (SELECT id FROM "{manifest.Schema}".inbox_messages WHERE status = 1 AND processed_at < now() - $1 LIMIT 10000)""",
                     })
            {
                int count;
                do
                {
                    await using var command = new NpgsqlCommand(sql, connection);
                    command.Parameters.Add(new NpgsqlParameter { Value = olderThan, NpgsqlDbType = NpgsqlDbType.Interval });
                    count = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    removed += count;
                }
                while (count == 10000);
            }
        }

        return removed;
    }

    private IEnumerable<ModuleManifest> Select(string? module)
    {
        if (module is null)
        {
            return registry.Hosted;
        }

        var manifest = registry.FindHosted(module) ?? throw new UnknownModuleException(module);
        return [manifest];
    }

    private async Task<NpgsqlConnection> OpenAsync(ModuleManifest manifest, CancellationToken cancellationToken)
    {
        var connection = new NpgsqlConnection(databases.For(manifest.Name).ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return connection;
    }
}

/// <summary>A module name that is not hosted here (maps to 404).</summary>
public sealed class UnknownModuleException(string module) : Exception($"Module '{module}' is not hosted in this process.")
{
    public string Module { get; } = module;
}

/// <summary>The recurring Hangfire job that applies the retention of processed messages.</summary>
public sealed class MessagingRetentionJob(MessagingAdmin admin, Microsoft.Extensions.Options.IOptions<MessagingOptions> options, Microsoft.Extensions.Logging.ILogger<MessagingRetentionJob> logger)
{
    public const string JobId = "messaging-retention";

    /// <summary>The recurring job of one module (on the module's queue: run by a process that hosts it).</summary>
    public static string JobIdOf(ModuleManifest manifest) => $"{JobId}-{manifest.Schema}";

    public async Task RunAsync(CancellationToken cancellationToken) => await RunAsync(null, cancellationToken).ConfigureAwait(false);

    public async Task RunAsync(string? module, CancellationToken cancellationToken)
    {
        var removed = await admin.PurgeProcessedAsync(options.Value.Retention, cancellationToken, module).ConfigureAwait(false);
        Microsoft.Extensions.Logging.LoggerExtensions.LogInformation(logger, "Messaging retention removed {Count} processed rows older than {Retention}", removed, options.Value.Retention);
    }
}
