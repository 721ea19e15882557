using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Pricing.Domain;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Pricing.Persistence;

/// <summary>The Pricing module's own context: schema <c>pricing</c> only.</summary>
internal sealed class PricingDbContext(DbContextOptions<PricingDbContext> options) : ModuleDbContext(options)
{
    public DbSet<PriceList> PriceLists => Set<PriceList>();

    public DbSet<TaxRate> TaxRates => Set<TaxRate>();

    public DbSet<ShippingRate> ShippingRates => Set<ShippingRate>();

    public DbSet<PricedOrderRecord> PricedOrders => Set<PricedOrderRecord>();

    public DbSet<Promotion> Promotions => Set<Promotion>();

    public DbSet<Coupon> Coupons => Set<Coupon>();

    public DbSet<CouponRedemption> CouponRedemptions => Set<CouponRedemption>();

    public DbSet<CatalogChange> CatalogChanges => Set<CatalogChange>();

    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
        var change = modelBuilder.Entity<CatalogChange>();
        change.ToTable("catalog_changes");
        change.HasKey(c => c.Id);
        change.Property(c => c.Actor).HasMaxLength(200);
        change.Property(c => c.Kind).HasMaxLength(20);
        change.Property(c => c.Key).HasMaxLength(64);
        change.Property(c => c.Body).HasColumnType("jsonb");
        change.HasIndex(c => new { c.Kind, c.Key });

        var list = modelBuilder.Entity<PriceList>();
        list.ToTable("price_lists");
        list.HasKey(l => l.Code);
        list.Property(l => l.Code).HasMaxLength(64);
        list.Property(l => l.Channel).HasMaxLength(20);
        list.Property(l => l.Currency).HasMaxLength(3).IsFixedLength();
        list.OwnsMany(l => l.Prices, price =>
        {
            price.ToTable("prices");
            price.WithOwner().HasForeignKey("price_list_code");
            price.HasKey("price_list_code", nameof(Price.Sku), nameof(Price.MinQuantity));
            price.Property(p => p.Sku).HasMaxLength(64);
            price.Property(p => p.UnitPrice).HasPrecision(19, 4);
        });
        list.Navigation(l => l.Prices).AutoInclude();

        var tax = modelBuilder.Entity<TaxRate>();
        tax.ToTable("tax_rates");
        tax.HasKey(t => t.CountryCode);
        tax.Property(t => t.CountryCode).HasMaxLength(2).IsFixedLength();
        tax.Property(t => t.Rate).HasPrecision(7, 6);

        var shipping = modelBuilder.Entity<ShippingRate>();
        shipping.ToTable("shipping_rates");
        shipping.HasKey(s => new { s.ServiceLevel, s.Currency });
        shipping.Property(s => s.ServiceLevel).HasMaxLength(50);
        shipping.Property(s => s.Currency).HasMaxLength(3).IsFixedLength();
        shipping.Property(s => s.Amount).HasPrecision(19, 4);

        var priced = modelBuilder.Entity<PricedOrderRecord>();
        priced.ToTable("priced_orders");
        priced.HasKey(p => p.OrderId);
        priced.Property(p => p.Currency).HasMaxLength(3).IsFixedLength();
        priced.Property(p => p.Total).HasPrecision(19, 4);
        priced.Property(p => p.Detail).HasColumnType("jsonb");

        var promotion = modelBuilder.Entity<Promotion>();
        promotion.ToTable("promotions");
        promotion.HasKey(p => p.Code);
        promotion.Property(p => p.Code).HasMaxLength(64);
        promotion.Property(p => p.Name).HasMaxLength(200);
        promotion.Property(p => p.Kind).HasConversion<string>().HasMaxLength(30);
        promotion.Property(p => p.Value).HasPrecision(19, 4);
        promotion.Property(p => p.Currency).HasMaxLength(3).IsFixedLength();
        promotion.Property(p => p.Skus).HasColumnType("text[]");
        promotion.Property(p => p.Channels).HasColumnType("text[]");
        promotion.Property(p => p.MinOrderValue).HasPrecision(19, 4);

        var coupon = modelBuilder.Entity<Coupon>();
        coupon.ToTable("coupons");
        coupon.HasKey(c => c.Code);
        coupon.Property(c => c.Code).HasMaxLength(64);
        coupon.Property(c => c.PromotionCode).HasMaxLength(64);
        coupon.HasOne<Promotion>().WithMany().HasForeignKey(c => c.PromotionCode).OnDelete(DeleteBehavior.Restrict);

        var redemption = modelBuilder.Entity<CouponRedemption>();
        redemption.ToTable("coupon_redemptions");
        redemption.HasKey(r => new { r.CouponCode, r.OrderId });
        redemption.Property(r => r.CouponCode).HasMaxLength(64);
        redemption.Property(r => r.CustomerId).HasMaxLength(100);
        redemption.HasIndex(r => new { r.CouponCode, r.CustomerId });
        redemption.HasIndex(r => r.OrderId);
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class PricingDesignTimeFactory : ModuleDesignTimeFactory<PricingDbContext>;
