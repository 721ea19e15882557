using Microsoft.EntityFrameworkCore;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Pricing.Persistence;

/// <summary>The Pricing module's own context: schema <c>pricing</c> only.</summary>
internal sealed class PricingDbContext(DbContextOptions<PricingDbContext> options) : ModuleDbContext(options)
{
    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
        // The Pricing module's entities are mapped here as its features arrive.
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class PricingDesignTimeFactory : ModuleDesignTimeFactory<PricingDbContext>;
