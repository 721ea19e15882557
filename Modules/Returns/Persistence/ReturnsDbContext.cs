using Microsoft.EntityFrameworkCore;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Returns.Persistence;

/// <summary>The Returns module's own context: schema <c>returns</c> only.</summary>
internal sealed class ReturnsDbContext(DbContextOptions<ReturnsDbContext> options) : ModuleDbContext(options)
{
    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
        // The Returns module's entities are mapped here as its features arrive.
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class ReturnsDesignTimeFactory : ModuleDesignTimeFactory<ReturnsDbContext>;
