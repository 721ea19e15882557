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

    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
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
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class PricingDesignTimeFactory : ModuleDesignTimeFactory<PricingDbContext>;
