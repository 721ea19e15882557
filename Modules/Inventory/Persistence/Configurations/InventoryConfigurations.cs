using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using OmsModular.Modules.Inventory.Domain;

namespace OmsModular.Modules.Inventory.Persistence.Configurations;

internal sealed class StockLevelConfiguration : IEntityTypeConfiguration<StockLevel>
{
    public void Configure(EntityTypeBuilder<StockLevel> builder)
    {
        builder.ToTable("stock_levels", t =>
        {
            t.HasCheckConstraint("ck_stock_levels_on_hand", "on_hand >= 0");
            t.HasCheckConstraint("ck_stock_levels_reserved", "reserved >= 0");
            t.HasCheckConstraint("ck_stock_levels_safety_stock", "safety_stock >= 0");
        });
        builder.HasKey(s => new { s.Sku, s.Location });
        builder.Property(s => s.Sku).HasMaxLength(64);
        builder.Property(s => s.Location).HasMaxLength(64);
        builder.Ignore(s => s.Available);
        builder.HasIndex(s => s.Location);
    }
}

internal sealed class StockMovementConfiguration : IEntityTypeConfiguration<StockMovement>
{
    public void Configure(EntityTypeBuilder<StockMovement> builder)
    {
        builder.ToTable("stock_movements");
        builder.HasKey(m => m.Id);
        builder.Property(m => m.Sku).HasMaxLength(64);
        builder.Property(m => m.Location).HasMaxLength(64);
        builder.Property(m => m.Kind).HasConversion<string>().HasMaxLength(20);
        builder.Property(m => m.Reference).HasMaxLength(200);
        builder.HasIndex(m => new { m.Sku, m.Location, m.OccurredAt });
    }
}

internal sealed class ReservationConfiguration : IEntityTypeConfiguration<Reservation>
{
    public void Configure(EntityTypeBuilder<Reservation> builder)
    {
        builder.ToTable("reservations");
        builder.HasKey(r => r.Id);
        builder.Property(r => r.Location).HasMaxLength(64);
        builder.Property(r => r.Status).HasConversion<string>().HasMaxLength(20);
        builder.Property(r => r.EndReason).HasMaxLength(200);
        // One holding reservation per (order, location, reference); an ended one may be followed by a new one (re-planning).
        builder.HasIndex(r => new { r.OrderId, r.Location, r.Reference }).IsUnique().AreNullsDistinct(false).HasFilter("status IN ('Active', 'Confirmed')");
        builder.HasIndex(r => r.ExpiresAt).HasFilter("status = 'Active'");
        builder.OwnsMany(r => r.Lines, line =>
        {
            line.ToTable("reservation_lines");
            line.WithOwner().HasForeignKey("reservation_id");
            line.Property<int>("id").UseIdentityAlwaysColumn();
            line.HasKey("id");
            line.Property(l => l.Sku).HasMaxLength(64);
        });
        builder.Navigation(r => r.Lines).AutoInclude();
    }
}

internal sealed class EndedOrderConfiguration : IEntityTypeConfiguration<EndedOrder>
{
    public void Configure(EntityTypeBuilder<EndedOrder> builder)
    {
        builder.ToTable("ended_orders");
        builder.HasKey(e => e.OrderId);
        builder.Property(e => e.OrderId).ValueGeneratedNever();
        builder.Property(e => e.Reason).HasMaxLength(200);
    }
}
