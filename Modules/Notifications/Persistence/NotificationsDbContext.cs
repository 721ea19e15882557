using Microsoft.EntityFrameworkCore;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Notifications.Persistence;

/// <summary>The Notifications module's own context: schema <c>notifications</c> only.</summary>
internal sealed class NotificationsDbContext(DbContextOptions<NotificationsDbContext> options) : ModuleDbContext(options)
{
    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
        // The Notifications module's entities are mapped here as its features arrive.
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class NotificationsDesignTimeFactory : ModuleDesignTimeFactory<NotificationsDbContext>;
