using Npgsql;
using NpgsqlTypes;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>
/// Receives messages into a consuming module's inbox, through that module's own connection:
/// one row per (message id, consumer); a redelivered message is ignored by the unique key.
/// Used by the in-process transport and by a broker consumer alike.
/// </summary>
public sealed class InboxWriter(ModuleRegistry registry, ModuleDatabases databases, MessagingSignals signals)
{
    public async Task WriteAsync(string moduleName, IReadOnlyList<(TransportMessage Message, string Consumer)> deliveries, CancellationToken cancellationToken)
    {
        if (deliveries.Count == 0)
        {
            return;
        }

        var manifest = registry.FindHosted(moduleName) ?? throw new InvalidOperationException($"Module {moduleName} is not hosted here.");
        var database = databases.For(moduleName);
        var schema = manifest.Schema;
        var n = deliveries.Count;
        var ids = new Guid[n];
        var messageIds = new Guid[n];
        var consumers = new string[n];
        var types = new string[n];
        var payloads = new string[n];
        var keys = new string?[n];
        var occurred = new DateTime[n];
        var traceParents = new string?[n];
        var traceStates = new string?[n];
        var correlations = new string?[n];
        var causations = new string?[n];
        for (var i = 0; i < n; i++)
        {
            var (m, consumer) = deliveries[i];
            ids[i] = Guid.CreateVersion7();
            messageIds[i] = m.MessageId;
            consumers[i] = consumer;
            types[i] = m.MessageType;
            payloads[i] = m.Payload;
            keys[i] = m.PartitionKey;
            occurred[i] = m.OccurredAt.UtcDateTime;
            traceParents[i] = m.TraceParent;
            traceStates[i] = m.TraceState;
            correlations[i] = m.CorrelationId;
            causations[i] = m.CausationId;
        }

        await using var connection = new NpgsqlConnection(database.WorkerConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new NpgsqlBatchCommand($"""
                    INSERT INTO "{schema}".inbox_messages
                        (id, message_id, consumer, message_type, payload, partition_key, occurred_at, received_at,
                         trace_parent, trace_state, correlation_id, causation_id, status, attempts, next_attempt_at)
                    SELECT u.id, u.message_id, u.consumer, u.message_type, u.payload::jsonb, u.partition_key, u.occurred_at, now(),
                           u.trace_parent, u.trace_state, u.correlation_id, u.causation_id, 0, 0, now()
                    FROM unnest($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) WITH ORDINALITY
                         AS u(id, message_id, consumer, message_type, payload, partition_key, occurred_at,
                              trace_parent, trace_state, correlation_id, causation_id, ord)
                    ORDER BY u.ord
                    ON CONFLICT (message_id, consumer) DO NOTHING
                    """)
                {
                    Parameters =
                    {
                        new() { Value = ids, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
                        new() { Value = messageIds, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid },
                        new() { Value = consumers, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                        new() { Value = types, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                        new() { Value = payloads, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                        new() { Value = keys, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                        new() { Value = occurred, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz },
                        new() { Value = traceParents, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                        new() { Value = traceStates, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                        new() { Value = correlations, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                        new() { Value = causations, NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
                    },
                },
                new NpgsqlBatchCommand("SELECT pg_notify($1, $2)")
                {
                    Parameters = { new() { Value = MessagingSignals.Channel }, new() { Value = "inbox:" + schema } },
                },
            },
        };

        // One implicit transaction: the batch commits as a whole.
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        signals.Inbox(schema).Set();
    }
}
