using System.Diagnostics;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using OmsModular.Shared.Contracts;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Modules;
using static OmsModular.Shared.Infrastructure.Persistence.SqlParameters;

namespace OmsModular.Shared.Infrastructure.Persistence;

/// <summary>
/// Base of every module's DbContext: maps the module's schema (and only it), its outbox and
/// inbox tables, and publishes integration events into the outbox in the same transaction as
/// the state change.
/// </summary>
public abstract class ModuleDbContext : DbContext
{
    protected ModuleDbContext(DbContextOptions options)
        : base(options)
    {
        Schema = options.FindExtension<ModuleSchemaExtension>()?.Schema
            ?? throw new InvalidOperationException($"{GetType().Name} was configured without a module schema.");

        // Every SaveChanges here runs inside a transaction its caller owns and rolls back on failure
        // (the transaction behaviour, the inbox processor with its own savepoint per delivery, the
        // capture writer): EF's savepoint around each SaveChanges would only add two round trips.
        Database.AutoSavepointsEnabled = false;
    }

    /// <summary>The schema this context maps.</summary>
    public string Schema { get; }

    private readonly List<OutboxMessage> _outbox = [];

    /// <summary>True when outbox rows were saved and their dispatcher has not been woken yet.</summary>
    internal bool HasUnsignalledOutbox { get; set; }

    /// <summary>
    /// Adds an integration event to this module's outbox. It is written by the next
    /// <c>SaveChanges</c>, in the same transaction as the state change.
    /// </summary>
    /// <param name="message">The event contract.</param>
    /// <param name="partitionKey">Messages with the same key reach each consumer in commit order (use the order id).</param>
    /// <summary>
    /// Drops the events published in this unit of work (not yet saved) under the given partition keys:
    /// for a caller that decided not to write those aggregates after all (they changed meanwhile).
    /// </summary>
    public void DiscardPublished(IReadOnlySet<string> partitionKeys) =>
        _outbox.RemoveAll(m => m.PartitionKey is { } key && partitionKeys.Contains(key));

    /// <summary>
    /// Forgets the unit of work (tracked changes and events published, not saved): for a caller that
    /// runs a step once more after its transaction lost a race and was rolled back.
    /// </summary>
    public void Forget()
    {
        ChangeTracker.Clear();
        _outbox.Clear();
    }

    public void Publish<TEvent>(TEvent message, string? partitionKey = null)
        where TEvent : class, IIntegrationEvent
    {
        ArgumentNullException.ThrowIfNull(message);
        ApplicationService<ModuleRegistry>()?.EnsurePublishes(Schema, typeof(TEvent));
        var ambient = MessagingAmbient.Current;
        var activity = Activity.Current;
        _outbox.Add(new OutboxMessage
        {
            Id = MonotonicUuid.Next(),
            MessageType = WireNames.Of(typeof(TEvent)),
            Payload = JsonSerializer.Serialize(message, MessageSerialization.Options),
            PartitionKey = partitionKey,
            OccurredAt = DateTimeOffset.UtcNow,
            NextAttemptAt = DateTimeOffset.UtcNow,
            TraceParent = activity?.Id is { } id && activity.IdFormat == ActivityIdFormat.W3C ? id : ambient?.TraceParent,
            TraceState = activity?.TraceStateString ?? ambient?.TraceState,
            CorrelationId = ambient?.CorrelationId ?? activity?.TraceId.ToString(),
            CausationId = ambient?.CausationId,
        });
    }

    /// <summary>
    /// Saves the tracked changes, then the published events: the outbox rows in publish order (their
    /// sequence is their dispatch order) with one set-based insert, and the NOTIFY that wakes the
    /// dispatchers, in one round trip and the same transaction. Outbox rows are plain inserts that
    /// nothing reads back, so they skip EF's change tracking (most units publish several).
    /// </summary>
    public override async Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        if (_outbox.Count == 0)
        {
            return await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken).ConfigureAwait(false);
        }

        // NOTIFY is transactional: other Host instances hear it only when the rows are committed.
        if (Database.CurrentTransaction is not null)
        {
            var written = await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken).ConfigureAwait(false);
            written += await WriteOutboxAsync(cancellationToken).ConfigureAwait(false);
            HasUnsignalledOutbox = true; // the transaction's owner wakes the dispatcher after commit
            return written;
        }

        await using var transaction = await Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var count = await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken).ConfigureAwait(false);
        count += await WriteOutboxAsync(cancellationToken).ConfigureAwait(false);
        HasUnsignalledOutbox = true;
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        SignalOutboxIfNeeded();
        return count;
    }

    private async Task<int> WriteOutboxAsync(CancellationToken cancellationToken)
    {
        var rows = _outbox.ToArray();
        await using var batch = await CreateBatchAsync(cancellationToken).ConfigureAwait(false);
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"""
            INSERT INTO "{Schema}".outbox_messages (id, message_type, payload, partition_key, occurred_at, trace_parent, trace_state,
                correlation_id, causation_id, attempts, next_attempt_at)
            SELECT m.id, m.message_type, m.payload::jsonb, m.partition_key, m.occurred_at, m.trace_parent, m.trace_state,
                m.correlation_id, m.causation_id, 0, m.next_attempt_at
            FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[], $10::timestamptz[])
                WITH ORDINALITY AS m(id, message_type, payload, partition_key, occurred_at, trace_parent, trace_state, correlation_id, causation_id, next_attempt_at, position)
            ORDER BY m.position
            """)
        {
            Parameters =
            {
                ArrayParameter(rows.Select(r => r.Id)),
                ArrayParameter(rows.Select(r => r.MessageType)),
                ArrayParameter(rows.Select(r => r.Payload)),
                ArrayParameter(rows.Select(r => r.PartitionKey)),
                ArrayParameter(rows.Select(r => r.OccurredAt)),
                ArrayParameter(rows.Select(r => r.TraceParent)),
                ArrayParameter(rows.Select(r => r.TraceState)),
                ArrayParameter(rows.Select(r => r.CorrelationId)),
                ArrayParameter(rows.Select(r => r.CausationId)),
                ArrayParameter(rows.Select(r => r.NextAttemptAt)),
            },
        });
        batch.BatchCommands.Add(new NpgsqlBatchCommand("SELECT pg_notify($1, $2)")
        {
            Parameters = { new NpgsqlParameter<string> { TypedValue = MessagingSignals.Channel }, new NpgsqlParameter<string> { TypedValue = "outbox:" + Schema } },
        });
        await batch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        _outbox.Clear(); // written: a failed save keeps them for the retry, like EF's added entities
        return rows.Length;
    }

    public override int SaveChanges(bool acceptAllChangesOnSuccess) =>
        throw new NotSupportedException("Module contexts save asynchronously (SaveChangesAsync).");

    /// <summary>
    /// A hand-written SQL command on this context's connection and current transaction, so it
    /// commits with the rest of the unit of work (for the places where SQL wins: upserts, guarded
    /// decrements, locks). Only this module's schema belongs in it.
    /// </summary>
    public async Task<NpgsqlCommand> CreateCommandAsync(string sql, CancellationToken cancellationToken)
    {
        if (Database.GetDbConnection().State != System.Data.ConnectionState.Open)
        {
            await Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }

        return new NpgsqlCommand(sql, (NpgsqlConnection)Database.GetDbConnection(), (NpgsqlTransaction?)Database.CurrentTransaction?.GetDbTransaction());
    }

    /// <summary>A batch of statements on this context's connection, in its current transaction (if any).</summary>
    public async Task<NpgsqlBatch> CreateBatchAsync(CancellationToken cancellationToken)
    {
        if (Database.GetDbConnection().State != System.Data.ConnectionState.Open)
        {
            await Database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }

        return new NpgsqlBatch((NpgsqlConnection)Database.GetDbConnection(), (NpgsqlTransaction?)Database.CurrentTransaction?.GetDbTransaction());
    }

    /// <summary>Serialises work on one key (e.g. an order) until the current transaction ends.</summary>
    public Task LockAsync(string key, CancellationToken cancellationToken) => LockAsync([key], cancellationToken);

    /// <summary>
    /// Takes the transaction-scoped locks of many keys in one round trip, in one fixed (ordinal)
    /// order, so two transactions locking overlapping sets cannot deadlock on them.
    /// </summary>
    public async Task LockAsync(IEnumerable<string> keys, CancellationToken cancellationToken)
    {
        var ordered = keys.Select(k => $"{Schema}:{k}").Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToArray();
        if (ordered.Length == 0)
        {
            return;
        }

        await using var command = await CreateCommandAsync(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest($1::text[]) WITH ORDINALITY AS u(k, n)",
            cancellationToken).ConfigureAwait(false);
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = ordered });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Wakes this module's outbox dispatcher in this process (after commit).</summary>
    public void SignalOutboxIfNeeded()
    {
        if (!HasUnsignalledOutbox)
        {
            return;
        }

        HasUnsignalledOutbox = false;
        ApplicationService<MessagingSignals>()?.Outbox(Schema).Set();
    }

    private T? ApplicationService<T>()
        where T : class =>
        this.GetService<IDbContextOptions>().FindExtension<CoreOptionsExtension>()?.ApplicationServiceProvider?.GetService(typeof(T)) as T;

    /// <summary>
    /// Times are stored in UTC: a value with another offset (a client's local time) is converted, as
    /// Npgsql refuses to write a non-zero offset to <c>timestamptz</c>; query parameters compared with
    /// these columns are converted the same way.
    /// </summary>
    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<UtcDateTimeOffsetConverter>();
        base.ConfigureConventions(configurationBuilder);
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema(Schema);
        modelBuilder.ApplyConfiguration(new OutboxMessageConfiguration());
        modelBuilder.ApplyConfiguration(new InboxMessageConfiguration());
        ConfigureModule(modelBuilder);
    }

    /// <summary>The module's own mappings (its schema is already the default).</summary>
    protected abstract void ConfigureModule(ModelBuilder modelBuilder);
}

/// <summary>Any offset in, UTC out (the same instant).</summary>
public sealed class UtcDateTimeOffsetConverter() : Microsoft.EntityFrameworkCore.Storage.ValueConversion.ValueConverter<DateTimeOffset, DateTimeOffset>(v => v.ToUniversalTime(), v => v);
