using System.Reflection;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.ArchitectureTests;

/// <summary>A module as the rules see it: its types (by assembly and namespace) and its manifest.</summary>
public sealed record ModuleUnderTest(
    string Name,
    string Schema,
    Assembly Assembly,
    string Namespace,
    Type RegistrationType,
    Type DbContextType,
    IReadOnlyList<Type> Publishes,
    IReadOnlyList<Type> Consumes,
    IReadOnlyList<Type> Handles,
    IReadOnlyList<Type> Sends)
{
    public static ModuleUnderTest From(IModule module)
    {
        var manifest = module.Manifest;
        return new ModuleUnderTest(
            manifest.Name,
            manifest.Schema,
            module.GetType().Assembly,
            module.GetType().Namespace!,
            module.GetType(),
            manifest.DbContextType,
            manifest.Publishes,
            manifest.Consumes.Select(c => c.EventType).Distinct().ToArray(),
            manifest.Handles.SelectMany(h => new[] { h.RequestType, h.ResponseType }).Distinct().ToArray(),
            manifest.Sends);
    }

    /// <summary>Every module of the build, discovered exactly as the Host discovers them.</summary>
    public static IReadOnlyList<ModuleUnderTest> All { get; } =
        ModuleCatalog.Discover(AppContext.BaseDirectory).Select(From).ToArray();

    public IEnumerable<Type> Types => Assembly.GetTypes().Where(t => InNamespace(t.Namespace));

    public bool InNamespace(string? ns) => ns is not null && (ns == Namespace || ns.StartsWith(Namespace + ".", StringComparison.Ordinal));

    public override string ToString() => Name;
}
