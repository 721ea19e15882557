using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Shared.Infrastructure.Modules;

/// <summary>
/// Everything known about the modules of this process, built from their manifests and checked
/// at start-up: wire names are unique, every request type has exactly one handling module,
/// every consumed event is published by some module.
/// </summary>
public sealed class ModuleRegistry
{
    private readonly Dictionary<string, Type> _eventTypesByWireName = new(StringComparer.Ordinal);
    private readonly Dictionary<Type, ModuleRequestDescriptor> _requestHandlers = [];
    private readonly Dictionary<string, ConsumerDescriptor[]> _hostedConsumersByWireName;
    private readonly Dictionary<string, ConsumerDescriptor> _consumersByName = new(StringComparer.Ordinal);

    public ModuleRegistry(IEnumerable<IModule> allModules, IEnumerable<string>? hostedModuleNames = null)
    {
        All = allModules.Select(m => m.Manifest).ToArray();

        var duplicateName = All.GroupBy(m => m.Name, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicateName is not null)
        {
            throw new InvalidOperationException($"Two modules are named '{duplicateName.Key}'.");
        }

        var duplicateSchema = All.GroupBy(m => m.Schema, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicateSchema is not null)
        {
            throw new InvalidOperationException($"Modules {string.Join(", ", duplicateSchema)} claim the same schema '{duplicateSchema.Key}'.");
        }

        Hosted = SelectHosted(All, hostedModuleNames);

        foreach (var manifest in All)
        {
            foreach (var eventType in manifest.Publishes)
            {
                RegisterWireName(eventType, manifest);
            }

            foreach (var consumer in manifest.Consumes)
            {
                RegisterWireName(consumer.EventType, manifest);
                if (!_consumersByName.TryAdd(consumer.ConsumerName, consumer))
                {
                    throw new InvalidOperationException($"Consumer name '{consumer.ConsumerName}' is declared twice.");
                }
            }

            foreach (var handler in manifest.Handles)
            {
                if (_requestHandlers.TryGetValue(handler.RequestType, out var existing))
                {
                    throw new InvalidOperationException(
                        $"Module API request {handler.RequestType.Name} is handled by both {existing.ModuleName} and {handler.ModuleName}.");
                }

                _requestHandlers[handler.RequestType] = handler;
            }
        }

        var published = All.SelectMany(m => m.Publishes).ToHashSet();
        var orphan = All.SelectMany(m => m.Consumes).FirstOrDefault(c => !published.Contains(c.EventType));
        if (orphan is not null)
        {
            throw new InvalidOperationException(
                $"Consumer {orphan.ConsumerName} of module {orphan.ModuleName} consumes {orphan.WireName}, which no module declares it publishes.");
        }

        var hostedNames = Hosted.Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        _hostedConsumersByWireName = All
            .Where(m => hostedNames.Contains(m.Name))
            .SelectMany(m => m.Consumes)
            .GroupBy(c => c.WireName, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.ToArray(), StringComparer.Ordinal);
    }

    /// <summary>Every module of the build.</summary>
    public IReadOnlyList<ModuleManifest> All { get; }

    /// <summary>The modules this process hosts (all by default).</summary>
    public IReadOnlyList<ModuleManifest> Hosted { get; }

    public IReadOnlyDictionary<string, Type> EventTypes => _eventTypesByWireName;

    /// <summary>Refuses an event the module's manifest does not declare (the manifest stays the truth).</summary>
    public void EnsurePublishes(string schema, Type eventType)
    {
        var manifest = All.FirstOrDefault(m => m.Schema == schema);
        if (manifest is not null && !manifest.Publishes.Contains(eventType))
        {
            throw new InvalidOperationException(
                $"Module {manifest.Name} publishes {WireNames.Of(eventType)}, which its manifest does not declare; add .Publishes<{eventType.Name}>().");
        }
    }

    public ModuleManifest? FindHosted(string name) =>
        Hosted.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase));

    public ModuleManifest? FindByAssembly(System.Reflection.Assembly assembly) =>
        All.FirstOrDefault(m => m.DbContextType.Assembly == assembly);

    public bool IsHosted(ModuleManifest manifest) => Hosted.Contains(manifest);

    public IReadOnlyList<ConsumerDescriptor> HostedConsumersOf(string wireName) =>
        _hostedConsumersByWireName.TryGetValue(wireName, out var consumers) ? consumers : [];

    /// <summary>The consumers of a wire name in every module of the build, hosted here or not.</summary>
    public IReadOnlyList<ConsumerDescriptor> ConsumersOf(string wireName) =>
        _consumersByName.Values.Where(c => c.WireName == wireName).ToArray();

    public ConsumerDescriptor? FindConsumer(string consumerName) =>
        _consumersByName.GetValueOrDefault(consumerName);

    public Type ResolveEventType(string wireName) =>
        _eventTypesByWireName.TryGetValue(wireName, out var type)
            ? type
            : throw new InvalidOperationException($"No module declares the event '{wireName}'.");

    /// <summary>The declared handler of a request type, whether or not its module is hosted here.</summary>
    public ModuleRequestDescriptor? FindRequestDescriptor(Type requestType) => _requestHandlers.GetValueOrDefault(requestType);

    /// <summary>The declared handler of a request named <paramref name="requestName"/> (the type's name) in module <paramref name="moduleName"/>.</summary>
    public ModuleRequestDescriptor? FindRequestDescriptor(string moduleName, string requestName) =>
        _requestHandlers.Values.FirstOrDefault(d => string.Equals(d.ModuleName, moduleName, StringComparison.OrdinalIgnoreCase) && d.RequestType.Name == requestName);

    public ModuleRequestDescriptor FindRequestHandler(Type requestType)
    {
        if (!_requestHandlers.TryGetValue(requestType, out var descriptor))
        {
            throw new InvalidOperationException($"No module declares a handler for the module API request {requestType.Name}.");
        }

        if (!Hosted.Any(m => m.Name == descriptor.ModuleName))
        {
            throw new ModuleNotAvailableException(
                $"Module {descriptor.ModuleName}, which handles {requestType.Name}, is not hosted in this process and no remote endpoint is configured for it.");
        }

        return descriptor;
    }

    private static ModuleManifest[] SelectHosted(IReadOnlyList<ModuleManifest> all, IEnumerable<string>? names)
    {
        var requested = names?.Select(n => n.Trim()).Where(n => n.Length > 0).ToArray() ?? [];
        if (requested.Length == 0 || requested.Any(n => n.Equals("all", StringComparison.OrdinalIgnoreCase)))
        {
            return all.ToArray();
        }

        if (requested is ["none" or "None"])
        {
            return []; // a gateway only
        }

        var unknown = requested.Where(n => !all.Any(m => m.Name.Equals(n, StringComparison.OrdinalIgnoreCase))).ToArray();
        if (unknown.Length > 0)
        {
            throw new InvalidOperationException(
                $"Unknown module(s) {string.Join(", ", unknown)} in Oms:Modules; known modules: {string.Join(", ", all.Select(m => m.Name))}.");
        }

        return all.Where(m => requested.Contains(m.Name, StringComparer.OrdinalIgnoreCase)).ToArray();
    }

    private void RegisterWireName(Type eventType, ModuleManifest manifest)
    {
        var wireName = WireNames.Of(eventType);
        if (_eventTypesByWireName.TryGetValue(wireName, out var existing) && existing != eventType)
        {
            throw new InvalidOperationException(
                $"Wire name '{wireName}' is used by both {existing.FullName} and {eventType.FullName} (module {manifest.Name}).");
        }

        _eventTypesByWireName[wireName] = eventType;
    }
}
