using Microsoft.EntityFrameworkCore;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Fulfillment.Persistence;

/// <summary>The Fulfillment module's own context: schema <c>fulfillment</c> only.</summary>
internal sealed class FulfillmentDbContext(DbContextOptions<FulfillmentDbContext> options) : ModuleDbContext(options)
{
    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
        // The Fulfillment module's entities are mapped here as its features arrive.
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class FulfillmentDesignTimeFactory : ModuleDesignTimeFactory<FulfillmentDbContext>;
