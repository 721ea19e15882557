using System.Diagnostics;
using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using OmsModular.Shared.Contracts;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Modules;

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

    /// <summary>True when outbox rows were saved and their dispatcher has not been woken yet.</summary>
    internal bool HasUnsignalledOutbox { get; set; }

    /// <summary>
    /// Adds an integration event to this module's outbox. It is written by the next
    /// <c>SaveChanges</c>, in the same transaction as the state change.
    /// </summary>
    /// <param name="message">The event contract.</param>
    /// <param name="partitionKey">Messages with the same key reach each consumer in commit order (use the order id).</param>
    public void Publish<TEvent>(TEvent message, string? partitionKey = null)
        where TEvent : class, IIntegrationEvent
    {
        ArgumentNullException.ThrowIfNull(message);
        ApplicationService<ModuleRegistry>()?.EnsurePublishes(Schema, typeof(TEvent));
        var ambient = MessagingAmbient.Current;
        var activity = Activity.Current;
        Set<OutboxMessage>().Add(new OutboxMessage
        {
            Id = MonotonicUuid.Next(), // sorts in publish order: EF inserts one SaveChanges in key order
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

    public override async Task<int> SaveChangesAsync(bool acceptAllChangesOnSuccess, CancellationToken cancellationToken = default)
    {
        var publishes = ChangeTracker.Entries<OutboxMessage>().Any(e => e.State == EntityState.Added);
        if (!publishes)
        {
            return await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken).ConfigureAwait(false);
        }

        // NOTIFY is transactional: other Host instances hear it only when the rows are committed.
        if (Database.CurrentTransaction is not null)
        {
            var written = await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken).ConfigureAwait(false);
            await NotifyAsync(cancellationToken).ConfigureAwait(false);
            HasUnsignalledOutbox = true; // the transaction's owner wakes the dispatcher after commit
            return written;
        }

        await using var transaction = await Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var count = await base.SaveChangesAsync(acceptAllChangesOnSuccess, cancellationToken).ConfigureAwait(false);
        await NotifyAsync(cancellationToken).ConfigureAwait(false);
        HasUnsignalledOutbox = true;
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        SignalOutboxIfNeeded();
        return count;
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

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema(Schema);
        modelBuilder.ApplyConfiguration(new OutboxMessageConfiguration());
        modelBuilder.ApplyConfiguration(new InboxMessageConfiguration());
        ConfigureModule(modelBuilder);
    }

    /// <summary>The module's own mappings (its schema is already the default).</summary>
    protected abstract void ConfigureModule(ModelBuilder modelBuilder);

    private Task NotifyAsync(CancellationToken cancellationToken) =>
        Database.ExecuteSqlRawAsync("SELECT pg_notify({0}, {1})", [MessagingSignals.Channel, "outbox:" + Schema], cancellationToken);
}
