using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>A row of a module's outbox: an event committed with the state change that caused it.</summary>
internal sealed class OutboxMessage
{
    public Guid Id { get; set; }

    /// <summary>Commit-ordered position (identity); dispatch order within a partition.</summary>
    public long Sequence { get; set; }

    public required string MessageType { get; set; }

    public required string Payload { get; set; }

    public string? PartitionKey { get; set; }

    public DateTimeOffset OccurredAt { get; set; }

    public string? TraceParent { get; set; }

    public string? TraceState { get; set; }

    public string? CorrelationId { get; set; }

    public string? CausationId { get; set; }

    public DateTimeOffset? DispatchedAt { get; set; }

    public int Attempts { get; set; }

    public DateTimeOffset NextAttemptAt { get; set; }

    public string? LastError { get; set; }
}

internal sealed class OutboxMessageConfiguration : IEntityTypeConfiguration<OutboxMessage>
{
    public void Configure(EntityTypeBuilder<OutboxMessage> builder)
    {
        builder.ToTable("outbox_messages");
        builder.HasKey(m => m.Id);
        builder.Property(m => m.Id).ValueGeneratedNever();
        builder.Property(m => m.Sequence).UseIdentityAlwaysColumn();
        builder.Property(m => m.MessageType).HasMaxLength(200);
        builder.Property(m => m.Payload).HasColumnType("jsonb");
        builder.Property(m => m.PartitionKey).HasMaxLength(200);
        builder.Property(m => m.TraceParent).HasMaxLength(55);
        builder.Property(m => m.TraceState).HasMaxLength(512);
        builder.Property(m => m.CorrelationId).HasMaxLength(100);
        builder.Property(m => m.CausationId).HasMaxLength(100);
        builder.HasIndex(m => m.Sequence).HasFilter("dispatched_at IS NULL").HasDatabaseName("ix_outbox_messages_pending");
        builder.HasIndex(m => new { m.PartitionKey, m.Sequence }).HasFilter("dispatched_at IS NULL").HasDatabaseName("ix_outbox_messages_pending_partition");
        builder.HasIndex(m => m.DispatchedAt).HasFilter("dispatched_at IS NOT NULL").HasDatabaseName("ix_outbox_messages_dispatched");
    }
}
