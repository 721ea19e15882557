using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using OmsModular.Modules.Orders.Domain;

namespace OmsModular.Modules.Orders.Persistence.Configurations;

internal sealed class OrderConfiguration : IEntityTypeConfiguration<Order>
{
    public void Configure(EntityTypeBuilder<Order> builder)
    {
        builder.ToTable("orders");
        builder.HasKey(o => o.Id);
        builder.Property(o => o.Id).ValueGeneratedNever();
        builder.Property(o => o.Number).HasMaxLength(20);
        builder.HasIndex(o => o.Number).IsUnique();
        builder.Property(o => o.Channel).HasConversion<string>().HasMaxLength(20);
        builder.Property(o => o.Status).HasConversion<string>().HasMaxLength(20);
        builder.Property(o => o.StatusReason).HasMaxLength(100);
        builder.Property(o => o.PaymentHold).HasMaxLength(50);
        builder.HasIndex(o => o.DeliveredAt).HasFilter("status = 'Delivered'"); // the completion sweep
        builder.Property(o => o.Marketplace).HasMaxLength(50);
        builder.Property(o => o.ExternalOrderId).HasMaxLength(100);
        builder.HasIndex(o => new { o.Marketplace, o.ExternalOrderId }).IsUnique().HasFilter("marketplace IS NOT NULL");
        builder.Property(o => o.Currency).HasMaxLength(3).IsFixedLength();
        builder.Property(o => o.CouponCodes).HasColumnType("text[]");
        builder.Property(o => o.Version).IsRowVersion(); // PostgreSQL xmin
        builder.Property(o => o.Reservation).HasConversion<string>().HasMaxLength(20);
        builder.Property(o => o.Pricing).HasConversion<string>().HasMaxLength(20);
        builder.Property(o => o.PaymentStep).HasConversion<string>().HasMaxLength(20);
        builder.Property(o => o.Total).HasPrecision(19, 4);
        builder.Property(o => o.TaxTotal).HasPrecision(19, 4);
        builder.Property(o => o.ShippingGross).HasPrecision(19, 4);
        builder.Property(o => o.DiscountTotal).HasPrecision(19, 4);
        builder.OwnsMany(o => o.Discounts, d => d.ToJson("discounts"));
        builder.OwnsMany(o => o.Coupons, c => c.ToJson("coupons"));
        builder.OwnsMany(o => o.Fulfilment, f =>
        {
            f.ToJson("fulfilment");
            f.OwnsMany(a => a.Lines);
        });
        builder.HasIndex(o => new { o.Status, o.Id });
        builder.HasIndex(o => o.PlacedAt).HasFilter("status = 'Pending'"); // the step time-out finds overdue orders
        builder.HasIndex(o => new { o.Channel, o.Id });
        builder.OwnsOne(o => o.Customer, c =>
        {
            c.Property(x => x.Id).HasMaxLength(100);
            c.Property(x => x.Email).HasMaxLength(254);
            c.Property(x => x.Name).HasMaxLength(200);
            c.HasIndex(x => x.Id);
        });
        builder.OwnsOne(o => o.ShippingAddress, a =>
        {
            a.Property(x => x.Name).HasMaxLength(200);
            a.Property(x => x.Lines).HasColumnType("text[]");
            a.Property(x => x.City).HasMaxLength(100);
            a.Property(x => x.PostalCode).HasMaxLength(20);
            a.Property(x => x.CountryCode).HasMaxLength(2).IsFixedLength();
        });
        builder.OwnsOne(o => o.Delivery, d =>
        {
            d.Property(x => x.Method).HasMaxLength(20);
            d.Property(x => x.ServiceLevel).HasMaxLength(50);
            d.Property(x => x.PickupLocation).HasMaxLength(64);
        });
        builder.OwnsOne(o => o.Payment, p =>
        {
            p.Property(x => x.Method).HasMaxLength(50);
            p.Property(x => x.Token).HasMaxLength(600); // sealed for Payments (PaymentTokenSealer), never the plain token
        });
        builder.OwnsMany(o => o.Lines, line =>
        {
            line.ToTable("order_lines");
            line.WithOwner().HasForeignKey("order_id");
            line.HasKey("order_id", nameof(OrderLine.LineNumber));
            line.Property(l => l.Sku).HasMaxLength(64);
            line.Property(l => l.MarketplaceUnitPrice).HasPrecision(19, 4);
            line.Property(l => l.UnitPrice).HasPrecision(19, 4);
            line.Property(l => l.Discount).HasPrecision(19, 4);
            line.Property(l => l.Net).HasPrecision(19, 4);
            line.Property(l => l.Tax).HasPrecision(19, 4);
            line.Property(l => l.Gross).HasPrecision(19, 4);
        });
        builder.OwnsMany(o => o.Timeline, entry =>
        {
            entry.ToTable("order_timeline");
            entry.WithOwner().HasForeignKey("order_id");
            entry.Property<long>("id").UseIdentityAlwaysColumn();
            entry.HasKey("id");
            entry.Property(e => e.Event).HasMaxLength(100);
            entry.Property(e => e.Status).HasConversion<string>().HasMaxLength(20);
            entry.Property(e => e.Reason).HasMaxLength(100);
            entry.Property(e => e.Actor).HasMaxLength(200);
            entry.Property(e => e.Cause).HasMaxLength(1000);
        });
        builder.OwnsMany(o => o.Shipments, shipment =>
        {
            shipment.ToTable("order_shipments");
            shipment.WithOwner().HasForeignKey("order_id");
            shipment.HasKey(nameof(OrderShipment.ShipmentId));
            shipment.Property(s => s.ShipmentId).ValueGeneratedNever();
            shipment.Property(s => s.Node).HasMaxLength(64);
            shipment.Property(s => s.Carrier).HasMaxLength(50);
            shipment.Property(s => s.TrackingNumber).HasMaxLength(100);
            shipment.Property(s => s.TrackingUrl).HasMaxLength(500);
            shipment.Property(s => s.CaptureAmount).HasPrecision(19, 4);
            shipment.Ignore(s => s.Lines);
        });
        builder.OwnsMany(o => o.Cancellations, cancellation =>
        {
            cancellation.ToTable("order_line_cancellations");
            cancellation.WithOwner().HasForeignKey("order_id");
            cancellation.HasKey(nameof(LineCancellation.ChangeId), nameof(LineCancellation.Node), nameof(LineCancellation.Sku));
            cancellation.Property(c => c.Sku).HasMaxLength(64);
            cancellation.Property(c => c.Node).HasMaxLength(64);
            cancellation.Property(c => c.Reason).HasMaxLength(100);
        });
        builder.OwnsMany(o => o.CancellationRequests, request =>
        {
            request.ToTable("order_cancellation_requests");
            request.WithOwner().HasForeignKey("order_id");
            request.HasKey(nameof(CancellationRequest.ChangeId));
            request.Property(r => r.ChangeId).ValueGeneratedNever();
            request.Property(r => r.Reason).HasMaxLength(100);
            request.Property(r => r.RequestHash).HasMaxLength(64);
            request.Ignore(r => r.Lines);
        });
        builder.OwnsMany(o => o.Changes, change =>
        {
            change.ToTable("order_changes");
            change.WithOwner().HasForeignKey("order_id");
            change.HasKey(nameof(OrderChange.ChangeId));
            change.Property(c => c.ChangeId).ValueGeneratedNever();
            change.Property(c => c.Status).HasConversion<string>().HasMaxLength(20);
            change.Property(c => c.Reason).HasMaxLength(100);
            change.Property(c => c.Actor).HasMaxLength(200);
            change.Property(c => c.PreviousTotal).HasPrecision(19, 4);
            change.Property(c => c.NewTotal).HasPrecision(19, 4);
            change.Property(c => c.Proposal).HasColumnType("jsonb");
            change.Property(c => c.RequestHash).HasMaxLength(64);
            change.Property(c => c.RefusalReason).HasMaxLength(50);
            change.Property(c => c.RefusalDetail).HasMaxLength(500);
        });
        builder.Navigation(o => o.Changes).AutoInclude();
        builder.Navigation(o => o.Lines).AutoInclude();
        builder.Navigation(o => o.Cancellations).AutoInclude();
        builder.Navigation(o => o.CancellationRequests).AutoInclude();
        builder.Navigation(o => o.Shipments).AutoInclude();
        builder.Navigation(o => o.Timeline).AutoInclude();
    }
}

internal sealed class IdempotencyRecordConfiguration : IEntityTypeConfiguration<IdempotencyRecord>
{
    public void Configure(EntityTypeBuilder<IdempotencyRecord> builder)
    {
        builder.ToTable("idempotency_keys");
        builder.HasKey(r => r.Key);
        builder.Property(r => r.Key).HasMaxLength(220); // <client hash>:<the client's key of up to 200>
        builder.Property(r => r.RequestHash).HasMaxLength(64);
    }
}
