using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace OmsModular.Shared.Infrastructure.Messaging;

internal enum InboxStatus : short
{
    Pending = 0,
    Processed = 1,
    DeadLettered = 2,
}

/// <summary>
/// A row of a consuming module's inbox: one delivery of one message to one consumer, keyed by
/// (message id, consumer). Its own retries, failures and dead-lettering.
/// </summary>
internal sealed class InboxMessage
{
    public Guid Id { get; set; }

    public long Sequence { get; set; }

    public Guid MessageId { get; set; }

    public required string Consumer { get; set; }

    public required string MessageType { get; set; }

    public required string Payload { get; set; }

    public string? PartitionKey { get; set; }

    public DateTimeOffset OccurredAt { get; set; }

    public DateTimeOffset ReceivedAt { get; set; }

    public string? TraceParent { get; set; }

    public string? TraceState { get; set; }

    public string? CorrelationId { get; set; }

    public string? CausationId { get; set; }

    public InboxStatus Status { get; set; }

    public int Attempts { get; set; }

    public DateTimeOffset NextAttemptAt { get; set; }

    public string? LastError { get; set; }

    public DateTimeOffset? ProcessedAt { get; set; }

    public DateTimeOffset? DeadLetteredAt { get; set; }
}

internal sealed class InboxMessageConfiguration : IEntityTypeConfiguration<InboxMessage>
{
    public void Configure(EntityTypeBuilder<InboxMessage> builder)
    {
        builder.ToTable("inbox_messages");
        builder.HasKey(m => m.Id);
        builder.Property(m => m.Id).ValueGeneratedNever();
        builder.Property(m => m.Sequence).UseIdentityAlwaysColumn();
        builder.Property(m => m.Consumer).HasMaxLength(200);
        builder.Property(m => m.MessageType).HasMaxLength(200);
        builder.Property(m => m.Payload).HasColumnType("jsonb");
        builder.Property(m => m.PartitionKey).HasMaxLength(200);
        builder.Property(m => m.TraceParent).HasMaxLength(55);
        builder.Property(m => m.TraceState).HasMaxLength(512);
        builder.Property(m => m.CorrelationId).HasMaxLength(100);
        builder.Property(m => m.CausationId).HasMaxLength(100);
        builder.Property(m => m.Status).HasConversion<short>();
        builder.HasIndex(m => new { m.MessageId, m.Consumer }).IsUnique().HasDatabaseName("ux_inbox_messages_message_consumer");
        builder.HasIndex(m => m.Sequence).HasFilter("status = 0").HasDatabaseName("ix_inbox_messages_pending");
        // The partition hold-back probes this one: "is an earlier delivery of this partition still
        // pending" is an equality on its two leading columns over pending rows only, so the probe never
        // walks the processed rows a partition keeps for the retention period. (It replaces a non-partial
        // index on the same columns, whose probe walked them: 6,300-8,300 instead of ~20,000 deliveries/s.)
        builder.HasIndex(m => new { m.Consumer, m.PartitionKey, m.Sequence }).HasFilter("status = 0").HasDatabaseName("ix_inbox_messages_partition_pending");
        builder.HasIndex(m => m.ProcessedAt).HasFilter("status = 1").HasDatabaseName("ix_inbox_messages_processed");
        builder.HasIndex(m => m.DeadLetteredAt).HasFilter("status = 2").HasDatabaseName("ix_inbox_messages_dead");
    }
}
