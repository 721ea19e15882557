using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Shared.Infrastructure.Persistence;

/// <summary>
/// Lets <c>dotnet ef</c> build a module context without starting the Host (and its embedded
/// database). A module derives an empty class from it; the schema comes from its manifest.
/// </summary>
public abstract class ModuleDesignTimeFactory<TContext> : IDesignTimeDbContextFactory<TContext>
    where TContext : ModuleDbContext
{
    public TContext CreateDbContext(string[] args)
    {
        var module = typeof(TContext).Assembly.GetTypes()
            .Where(t => typeof(IModule).IsAssignableFrom(t) && !t.IsAbstract)
            .Select(t => (IModule)Activator.CreateInstance(t)!)
            .Single(m => m.Manifest.DbContextType == typeof(TContext));
        var builder = new DbContextOptionsBuilder<TContext>();
        ModuleDbContextOptions.Configure(builder, "Host=design-time-only", module.Manifest.Schema, typeof(TContext).Assembly);
        return (TContext)Activator.CreateInstance(typeof(TContext), builder.Options)!;
    }
}
