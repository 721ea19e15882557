using Microsoft.EntityFrameworkCore;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Orders.Persistence;

/// <summary>The Orders module's own context: schema <c>orders</c> only.</summary>
internal sealed class OrdersDbContext(DbContextOptions<OrdersDbContext> options) : ModuleDbContext(options)
{
    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
        // The Orders module's entities are mapped here as its features arrive.
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class OrdersDesignTimeFactory : ModuleDesignTimeFactory<OrdersDbContext>;
