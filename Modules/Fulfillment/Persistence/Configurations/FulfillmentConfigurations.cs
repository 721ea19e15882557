using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using OmsModular.Modules.Fulfillment.Domain;

namespace OmsModular.Modules.Fulfillment.Persistence.Configurations;

internal sealed class NodeConfiguration : IEntityTypeConfiguration<Node>
{
    public void Configure(EntityTypeBuilder<Node> builder)
    {
        builder.ToTable("nodes");
        builder.HasKey(n => n.Code);
        builder.Property(n => n.Code).HasMaxLength(64);
        builder.Property(n => n.Name).HasMaxLength(200);
        builder.Property(n => n.Kind).HasConversion<string>().HasMaxLength(20);
        builder.Property(n => n.CountryCode).HasMaxLength(2).IsFixedLength();
    }
}

internal sealed class NodeDailyLoadConfiguration : IEntityTypeConfiguration<NodeDailyLoad>
{
    public void Configure(EntityTypeBuilder<NodeDailyLoad> builder)
    {
        builder.ToTable("node_daily_load");
        builder.HasKey(l => new { l.NodeCode, l.Day });
        builder.Property(l => l.NodeCode).HasMaxLength(64);
    }
}

internal sealed class RoutingDecisionConfiguration : IEntityTypeConfiguration<RoutingDecision>
{
    public void Configure(EntityTypeBuilder<RoutingDecision> builder)
    {
        builder.ToTable("routing_decisions");
        builder.HasKey(d => d.Id);
        builder.HasIndex(d => d.OrderId);
        builder.Property(d => d.FailureReason).HasMaxLength(50);
        builder.Property(d => d.Strategy).HasMaxLength(50);
        builder.Property(d => d.Explanation).HasColumnType("jsonb");
    }
}

internal sealed class FulfilmentOrderConfiguration : IEntityTypeConfiguration<FulfilmentOrder>
{
    public void Configure(EntityTypeBuilder<FulfilmentOrder> builder)
    {
        builder.ToTable("fulfilment_orders");
        builder.HasKey(f => f.Id);
        builder.HasIndex(f => new { f.OrderId, f.NodeCode }); // a node can hold several of an order's (its first, and units re-sourced to it later)
        builder.HasIndex(f => new { f.NodeCode, f.Status });
        builder.HasIndex(f => f.PickupExpiresAt).HasFilter("status = 'ReadyForPickup'");
        builder.Property(f => f.NodeCode).HasMaxLength(64);
        builder.Property(f => f.Status).HasConversion<string>().HasMaxLength(20);
        builder.Property(f => f.Lines).HasColumnType("jsonb");
        builder.Property(f => f.WeightKg).HasPrecision(10, 3);
        builder.Property(f => f.RejectionReason).HasMaxLength(50);
        builder.Property(f => f.PaymentHold).HasMaxLength(50);
        builder.Property(f => f.Version).IsRowVersion(); // PostgreSQL xmin: two steps of one fulfilment order never both win
    }
}

internal sealed class ShipmentConfiguration : IEntityTypeConfiguration<Shipment>
{
    public void Configure(EntityTypeBuilder<Shipment> builder)
    {
        builder.ToTable("shipments");
        builder.HasKey(s => s.Id);
        builder.HasIndex(s => s.OrderId);
        builder.HasIndex(s => new { s.FulfilmentOrderId, s.IdempotencyKey }).IsUnique();
        builder.HasIndex(s => new { s.Carrier, s.TrackingNumber });
        builder.Property(s => s.NodeCode).HasMaxLength(64);
        builder.Property(s => s.Status).HasConversion<string>().HasMaxLength(20);
        builder.Property(s => s.Carrier).HasMaxLength(50);
        builder.Property(s => s.Service).HasMaxLength(50);
        builder.Property(s => s.TrackingNumber).HasMaxLength(100);
        builder.Property(s => s.TrackingUrl).HasMaxLength(500);
        builder.Property(s => s.WeightKg).HasPrecision(10, 3);
        builder.Property(s => s.Lines).HasColumnType("jsonb");
        builder.Property(s => s.IdempotencyKey).HasMaxLength(200);
        builder.Property(s => s.RequestHash).HasMaxLength(64);
    }
}
