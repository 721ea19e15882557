using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>The connection of every hosted module (its own role where configured).</summary>
public sealed class ModuleDatabases(IEnumerable<ModuleDatabase> databases)
{
    private readonly Dictionary<string, ModuleDatabase> _byName =
        databases.ToDictionary(d => d.ModuleName, StringComparer.OrdinalIgnoreCase);

    public IReadOnlyCollection<ModuleDatabase> All => _byName.Values;

    public ModuleDatabase For(string moduleName) =>
        _byName.TryGetValue(moduleName, out var database)
            ? database
            : throw new InvalidOperationException($"Module {moduleName} is not hosted in this process.");
}
