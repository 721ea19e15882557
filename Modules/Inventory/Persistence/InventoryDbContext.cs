using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Inventory.Domain;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Inventory.Persistence;

/// <summary>The Inventory module's own context: schema <c>inventory</c> only.</summary>
internal sealed class InventoryDbContext(DbContextOptions<InventoryDbContext> options) : ModuleDbContext(options)
{
    public DbSet<StockLevel> StockLevels => Set<StockLevel>();

    public DbSet<StockMovement> Movements => Set<StockMovement>();

    public DbSet<Reservation> Reservations => Set<Reservation>();

    public DbSet<EndedOrder> EndedOrders => Set<EndedOrder>();

    protected override void ConfigureModule(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(InventoryDbContext).Assembly);
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class InventoryDesignTimeFactory : ModuleDesignTimeFactory<InventoryDbContext>;
