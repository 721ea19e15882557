using System.Reflection;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace OmsModular.Shared.Infrastructure.Persistence;

/// <summary>How every module DbContext is configured: Npgsql, snake_case, its schema, its history table.</summary>
public static class ModuleDbContextOptions
{
    public const string MigrationsHistoryTable = "__ef_migrations_history";

    public static void Configure(DbContextOptionsBuilder options, string connectionString, string schema, Assembly migrationsAssembly)
    {
        options.UseNpgsql(connectionString, npgsql => npgsql
                .MigrationsHistoryTable(MigrationsHistoryTable, schema)
                .MigrationsAssembly(migrationsAssembly.GetName().Name))
            .UseSnakeCaseNamingConvention()
            .ReplaceService<IModelCacheKeyFactory, SchemaAwareModelCacheKeyFactory>();
        ((IDbContextOptionsBuilderInfrastructure)options).AddOrUpdateExtension(new ModuleSchemaExtension(schema));
    }
}

/// <summary>Carries the module's schema into its DbContext, so the schema is named once (in the manifest).</summary>
internal sealed class ModuleSchemaExtension(string schema) : IDbContextOptionsExtension
{
    private DbContextOptionsExtensionInfo? _info;

    public string Schema { get; } = schema;

    public DbContextOptionsExtensionInfo Info => _info ??= new ExtensionInfo(this);

    public void ApplyServices(IServiceCollection services)
    {
    }

    public void Validate(IDbContextOptions options)
    {
    }

    private sealed class ExtensionInfo(ModuleSchemaExtension extension) : DbContextOptionsExtensionInfo(extension)
    {
        public override bool IsDatabaseProvider => false;

        public override string LogFragment => $"Schema={extension.Schema} ";

        public override int GetServiceProviderHashCode() => 0;

        public override bool ShouldUseSameServiceProvider(DbContextOptionsExtensionInfo other) => other is ExtensionInfo;

        public override void PopulateDebugInfo(IDictionary<string, string> debugInfo) =>
            debugInfo["Oms:Schema"] = extension.Schema;
    }
}

/// <summary>One EF model per (context type, schema): tests run the same context in throwaway schemas.</summary>
internal sealed class SchemaAwareModelCacheKeyFactory : IModelCacheKeyFactory
{
    public object Create(DbContext context, bool designTime) =>
        (context.GetType(), (context as ModuleDbContext)?.Schema, designTime);
}
