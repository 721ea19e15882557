using System.Reflection;
using System.Runtime.Loader;

namespace OmsModular.Shared.Infrastructure.Modules;

/// <summary>
/// Finds the modules of this build: every assembly named <c>OmsModular.Modules.*</c> next to the
/// running program, and every non-abstract <see cref="IModule"/> in it. Nothing is listed by hand.
/// </summary>
public static class ModuleCatalog
{
    public const string AssemblyPrefix = "OmsModular.Modules.";

    private static readonly Lazy<IReadOnlyList<IModule>> Discovered = new(() => Discover(AppContext.BaseDirectory));

    /// <summary>All modules found next to the running program (cached).</summary>
    public static IReadOnlyList<IModule> All => Discovered.Value;

    public static IReadOnlyList<Assembly> LoadModuleAssemblies(string baseDirectory)
    {
        var loaded = AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => !a.IsDynamic && a.GetName().Name is { } n && n.StartsWith(AssemblyPrefix, StringComparison.Ordinal))
            .ToDictionary(a => a.GetName().Name!, StringComparer.Ordinal);

        foreach (var file in Directory.EnumerateFiles(baseDirectory, AssemblyPrefix + "*.dll"))
        {
            var name = AssemblyName.GetAssemblyName(file);
            if (!loaded.ContainsKey(name.Name!))
            {
                loaded[name.Name!] = AssemblyLoadContext.Default.LoadFromAssemblyName(name);
            }
        }

        return loaded.Values.OrderBy(a => a.GetName().Name, StringComparer.Ordinal).ToArray();
    }

    public static IReadOnlyList<IModule> Discover(string baseDirectory)
    {
        var modules = LoadModuleAssemblies(baseDirectory)
            .SelectMany(a => a.GetTypes())
            .Where(t => typeof(IModule).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
            .Select(t => (IModule)Activator.CreateInstance(t)!)
            .OrderBy(m => m.Manifest.Name, StringComparer.Ordinal)
            .ToArray();
        if (modules.Length == 0)
        {
            throw new InvalidOperationException($"No module assemblies ({AssemblyPrefix}*.dll) were found in {baseDirectory}.");
        }

        return modules;
    }
}
