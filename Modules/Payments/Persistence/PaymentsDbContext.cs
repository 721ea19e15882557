using Microsoft.EntityFrameworkCore;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Payments.Persistence;

/// <summary>The Payments module's own context: schema <c>payments</c> only.</summary>
internal sealed class PaymentsDbContext(DbContextOptions<PaymentsDbContext> options) : ModuleDbContext(options)
{
    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
        // The Payments module's entities are mapped here as its features arrive.
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class PaymentsDesignTimeFactory : ModuleDesignTimeFactory<PaymentsDbContext>;
