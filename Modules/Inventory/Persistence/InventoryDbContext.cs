using Microsoft.EntityFrameworkCore;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Inventory.Persistence;

/// <summary>The Inventory module's own context: schema <c>inventory</c> only.</summary>
internal sealed class InventoryDbContext(DbContextOptions<InventoryDbContext> options) : ModuleDbContext(options)
{
    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
        // The Inventory module's entities are mapped here as its features arrive.
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class InventoryDesignTimeFactory : ModuleDesignTimeFactory<InventoryDbContext>;
