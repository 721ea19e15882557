using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Shared.Infrastructure.Hosting;

/// <summary>Applies every hosted module's migrations, one Host instance at a time (advisory lock).</summary>
public static class ModuleMigrator
{
    private const long LockKey = 0x4F4D535F4D494752; // "OMS_MIGR"

    /// <summary>Releases the migration lock; a pooled connection would keep a session lock. A broken connection ends it anyway.</summary>
    private static async Task ReleaseAsync(NpgsqlConnection lockConnection)
    {
        try
        {
            await using var release = new NpgsqlCommand($"SELECT pg_advisory_unlock({LockKey})", lockConnection);
            await release.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (NpgsqlException)
        {
            NpgsqlConnection.ClearPool(lockConnection); // the lock went with the broken session; do not hide the error that brought us here
        }
    }

    public static async Task MigrateAsync(IServiceProvider services, CancellationToken cancellationToken = default)
    {
        var registry = services.GetRequiredService<ModuleRegistry>();
        var databases = services.GetRequiredService<ModuleDatabases>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("OmsModular.Migrations");
        if (registry.Hosted.Count == 0 && services.GetService<Access.ApiKeys>() is { } gatewayKeys
            && Microsoft.Extensions.Configuration.ConfigurationExtensions.GetConnectionString(services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>(), ModuleServiceCollectionExtensions.ConnectionStringName) is { } shared)
        {
            // A gateway hosts no module but authenticates: it needs the API-key store.
            await WithMigrationLockAsync(shared, () => gatewayKeys.MigrateAsync(cancellationToken), cancellationToken).ConfigureAwait(false);
            return;
        }

        foreach (var group in registry.Hosted.GroupBy(m => databases.For(m.Name).ConnectionString))
        {
            await WithMigrationLockAsync(group.Key, async () =>
            {
                if (services.GetService<Access.ApiKeys>() is { } keys && group.Key == databases.For(registry.Hosted.First().Name).ConnectionString)
                {
                    await keys.MigrateAsync(cancellationToken).ConfigureAwait(false);
                }

                foreach (var manifest in group)
                {
                    await using var scope = services.CreateAsyncScope();
                    await using var db = MigratingContext(services, scope.ServiceProvider, manifest, group.Key);
                    var pending = (await db.Database.GetPendingMigrationsAsync(cancellationToken).ConfigureAwait(false)).ToArray();
                    if (pending.Length > 0)
                    {
                        logger.LogInformation("Applying {Count} migration(s) of {Module}: {Migrations}", pending.Length, manifest.Name, pending);
                        await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
                    }
                }
            }, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The context migrations run with: a module that connects as its own (least-privilege) role to
    /// the shared database is migrated with the shared connection, whose role owns the tables.
    /// </summary>
    private static DbContext MigratingContext(IServiceProvider root, IServiceProvider scope, ModuleManifest manifest, string moduleConnectionString)
    {
        var shared = root.GetService<Microsoft.Extensions.Configuration.IConfiguration>()?[$"ConnectionStrings:{ModuleServiceCollectionExtensions.ConnectionStringName}"];
        if (shared is null || SameRole(shared, moduleConnectionString) || !SameDatabase(shared, moduleConnectionString))
        {
            return (DbContext)scope.GetRequiredService(manifest.DbContextType);
        }

        var builder = (DbContextOptionsBuilder)Activator.CreateInstance(typeof(DbContextOptionsBuilder<>).MakeGenericType(manifest.DbContextType))!;
        Persistence.ModuleDbContextOptions.Configure(builder, shared, manifest.Schema, manifest.DbContextType.Assembly);
        return (DbContext)Activator.CreateInstance(manifest.DbContextType, builder.Options)!;
    }

    private static bool SameRole(string a, string b) =>
        string.Equals(new NpgsqlConnectionStringBuilder(a).Username, new NpgsqlConnectionStringBuilder(b).Username, StringComparison.Ordinal);

    /// <summary>
    /// Runs <paramref name="work"/> under the migration lock (the one every process's migrations take), so two
    /// processes starting at once do not prepare the same schema together.
    /// </summary>
    public static async Task WithMigrationLockAsync(string connectionString, Func<Task> work, CancellationToken cancellationToken = default)
    {
        await using var lockConnection = new NpgsqlConnection(connectionString);
        await lockConnection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var acquire = new NpgsqlCommand($"SELECT pg_advisory_lock({LockKey})", lockConnection) { CommandTimeout = 0 })
        {
            await acquire.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        try
        {
            await work().ConfigureAwait(false);
        }
        finally
        {
            await ReleaseAsync(lockConnection).ConfigureAwait(false);
        }
    }

    /// <summary>Whether two connection strings name the same database (host, port, name), whatever the role.</summary>
    public static bool SameDatabase(string a, string b)
    {
        var (x, y) = (new NpgsqlConnectionStringBuilder(a), new NpgsqlConnectionStringBuilder(b));
        return string.Equals(x.Host, y.Host, StringComparison.OrdinalIgnoreCase) && x.Port == y.Port && string.Equals(x.Database, y.Database, StringComparison.Ordinal);
    }
}
