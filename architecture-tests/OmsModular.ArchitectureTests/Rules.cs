using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using Mono.Cecil;
using Mono.Cecil.Cil;
using NetArchTest.Rules;

namespace OmsModular.ArchitectureTests;

/// <summary>
/// The boundary rules of docs/architecture.md as functions returning violations, each naming the offending
/// edge (<c>Modules.Returns -> Modules.Payments (type RefundService)</c>). The tests run them on
/// the real modules and on deliberately violating fixtures, so no rule can pass vacuously.
/// </summary>
public static partial class Rules
{
    /// <summary>Namespaces a contract may depend on: the base class library only.</summary>
    private static readonly string[] ForbiddenForContracts =
    [
        "Microsoft.EntityFrameworkCore", "Microsoft.AspNetCore", "Microsoft.Extensions", "Npgsql", "Mediator",
        "FluentValidation", "Hangfire", "Serilog", "OmsModular.Shared.Infrastructure", "OmsModular.Modules", "OmsModular.Host",
    ];

    /// <summary>Types that would let module code know where a peer runs (rule 7).</summary>
    private static readonly string[] LocationAwareTypes =
    [
        "OmsModular.Shared.Infrastructure.Modules.ModuleRegistry",
        "OmsModular.Shared.Infrastructure.Modules.ModuleCatalog",
        "OmsModular.Shared.Infrastructure.Messaging.IMessageTransport",
        "OmsModular.Shared.Infrastructure.Messaging.InboxWriter",
        "OmsModular.Shared.Infrastructure.Messaging.OutboxDispatcher",
        "OmsModular.Shared.Infrastructure.Messaging.InboxProcessor",
        "OmsModular.Shared.Infrastructure.Messaging.ModuleDatabases",
        "OmsModular.Host",
        // The transports and the topology's plumbing: a broker client, HTTP clients, the gateway.
        "RabbitMQ.Client",
        "System.Net.Http",
        "Yarp.ReverseProxy",
    ];

    /// <summary>Rule 1 (and 6): a module's types never depend on another module's types.</summary>
    public static IEnumerable<string> NoDependencyOnOtherModules(ModuleUnderTest module, IEnumerable<ModuleUnderTest> others)
    {
        foreach (var other in others.Where(o => o.Namespace != module.Namespace))
        {
            var result = Types.InAssembly(module.Assembly).That().ResideInNamespace(module.Namespace)
                .ShouldNot().HaveDependencyOn(other.Namespace)
                .GetResult();
            foreach (var failing in result.FailingTypeNames ?? [])
            {
                yield return $"Modules.{module.Name} -> Modules.{other.Name} (type {ShortName(failing)})";
            }

            if (module.Assembly != other.Assembly && module.Assembly.GetReferencedAssemblies().Any(r => r.Name == other.Assembly.GetName().Name))
            {
                yield return $"Modules.{module.Name} -> Modules.{other.Name} (assembly reference {other.Assembly.GetName().Name})";
            }
        }
    }

    /// <summary>Rule 2: contracts depend on the base class library only and are plain immutable records.</summary>
    public static IEnumerable<string> ContractsArePlain(Assembly assembly, string @namespace)
    {
        var result = Types.InAssembly(assembly).That().ResideInNamespace(@namespace)
            .ShouldNot().HaveDependencyOnAny(ForbiddenForContracts)
            .GetResult();
        foreach (var failing in result.FailingTypeNames ?? [])
        {
            yield return $"Shared.Contracts -> non-BCL dependency (type {ShortName(failing)})";
        }

        if (assembly.GetName().Name == "OmsModular.Shared.Contracts")
        {
            foreach (var reference in assembly.GetReferencedAssemblies().Where(r => !IsBaseClassLibrary(r.Name!)))
            {
                yield return $"Shared.Contracts -> {reference.Name} (assembly reference)";
            }
        }

        foreach (var type in assembly.GetTypes().Where(t => t.Namespace is { } ns && (ns == @namespace || ns.StartsWith(@namespace + ".", StringComparison.Ordinal)) && t.IsVisible))
        {
            if (type.IsInterface || type.IsEnum || typeof(Attribute).IsAssignableFrom(type))
            {
                continue;
            }

            if (type.GetMethod("<Clone>$") is null)
            {
                yield return $"Shared.Contracts: {type.Name} is not a record (contracts are plain immutable records)";
            }

            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.SetMethod is { IsPublic: true } && !IsInitOnly(p)))
            {
                yield return $"Shared.Contracts: {type.Name}.{property.Name} has a public setter (contracts are immutable)";
            }

            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly)
                         .Where(m => !m.IsSpecialName && !IsRecordMember(m)))
            {
                yield return $"Shared.Contracts: {type.Name}.{method.Name}() is behaviour (contracts have none)";
            }
        }
    }

    /// <summary>
    /// Rule 3 (and 1 at the project level): only the Host (and tests) reference module projects;
    /// a module project never references another module; the Host references every module.
    /// </summary>
    public static IEnumerable<string> ProjectReferences(IReadOnlyDictionary<string, IReadOnlyList<string>> projects)
    {
        static string? ModuleOf(string path) =>
            path.StartsWith("Modules/", StringComparison.Ordinal) ? path.Split('/')[1] : null;

        var modules = projects.Keys.Select(ModuleOf).OfType<string>().Distinct().ToArray();
        foreach (var (project, references) in projects)
        {
            var owner = ModuleOf(project);
            var isHostOrTest = project.StartsWith("Host/", StringComparison.Ordinal)
                               || project.StartsWith("tests/", StringComparison.Ordinal)
                               || project.StartsWith("architecture-tests/", StringComparison.Ordinal);
            foreach (var reference in references)
            {
                var target = ModuleOf(reference);
                if (target is null || target == owner)
                {
                    continue;
                }

                if (owner is not null)
                {
                    yield return $"Modules.{owner} -> Modules.{target} (project reference {reference})";
                }
                else if (!isHostOrTest)
                {
                    yield return $"{project} -> Modules.{target} (only the Host references modules)";
                }
            }
        }

        var host = projects.Keys.SingleOrDefault(p => p.StartsWith("Host/", StringComparison.Ordinal));
        if (host is null)
        {
            yield return "No Host project found";
            yield break;
        }

        foreach (var missing in modules.Where(m => !projects[host].Any(r => ModuleOf(r) == m)))
        {
            yield return $"Host does not reference Modules.{missing}";
        }
    }

    /// <summary>Rule 4: the registration type is the module's only public type.</summary>
    public static IEnumerable<string> OnlyRegistrationIsPublic(ModuleUnderTest module) =>
        module.Types.Where(t => t.IsVisible && t != module.RegistrationType)
            .Select(t => $"Modules.{module.Name} exposes public type {t.Name} (only {module.RegistrationType.Name} may be public)");

    /// <summary>Rule 5: the module's EF model maps tables, views and sequences in its own schema only.</summary>
    public static IEnumerable<string> ModelMapsOwnSchemaOnly(ModuleUnderTest module)
    {
        using var db = CreateDesignTimeContext(module);
        foreach (var entity in db.Model.GetEntityTypes())
        {
            var schema = entity.GetSchema() ?? entity.GetViewSchema();
            if ((entity.GetTableName() ?? entity.GetViewName()) is not null && schema != module.Schema)
            {
                yield return $"Modules.{module.Name} -> schema {schema ?? "(default)"} (entity {entity.ClrType.Name})";
            }
        }

        foreach (var sequence in db.Model.GetSequences().Where(s => s.Schema != module.Schema))
        {
            yield return $"Modules.{module.Name} -> schema {sequence.Schema} (sequence {sequence.Name})";
        }
    }

    /// <summary>Rule 5: no entity type is mapped by two module contexts.</summary>
    public static IEnumerable<string> NoEntityInTwoContexts(IEnumerable<ModuleUnderTest> modules)
    {
        var owners = new Dictionary<Type, string>();
        foreach (var module in modules)
        {
            using var db = CreateDesignTimeContext(module);
            foreach (var entity in db.Model.GetEntityTypes().Select(e => e.ClrType).Distinct()
                         .Where(t => t.Assembly != typeof(OmsModular.Shared.Infrastructure.Persistence.ModuleDbContext).Assembly))
            {
                if (owners.TryGetValue(entity, out var owner))
                {
                    yield return $"Modules.{module.Name} and Modules.{owner} both map entity {entity.Name}";
                }
                else
                {
                    owners[entity] = module.Name;
                }
            }
        }
    }

    /// <summary>Rule 5: no SQL literal in a module names another module's schema.</summary>
    public static IEnumerable<string> NoSqlOnOtherSchemas(ModuleUnderTest module, IEnumerable<ModuleUnderTest> all)
    {
        var otherSchemas = all.Where(m => m.Schema != module.Schema).Select(m => Regex.Escape(m.Schema)).ToArray();
        if (otherSchemas.Length == 0)
        {
            yield break;
        }

        var pattern = new Regex(
            $@"\b(FROM|JOIN|INTO|UPDATE|TABLE|ON)\s+""?(?<schema>{string.Join('|', otherSchemas)})""?\s*\.",
            RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
        using var assembly = AssemblyDefinition.ReadAssembly(module.Assembly.Location);
        foreach (var type in assembly.MainModule.GetTypes().Where(t => module.InNamespace(t.Namespace) || module.InNamespace(t.DeclaringType?.Namespace)))
        {
            foreach (var method in type.Methods.Where(m => m.HasBody))
            {
                foreach (var instruction in method.Body.Instructions.Where(i => i.OpCode == OpCodes.Ldstr))
                {
                    if (pattern.Match((string)instruction.Operand) is { Success: true } match)
                    {
                        yield return $"Modules.{module.Name} -> schema {match.Groups["schema"].Value} (SQL in {ShortName(type.FullName)}.{method.Name})";
                    }
                }
            }
        }
    }

    /// <summary>Rule 6: every contract a manifest names lives in Shared.Contracts (or is a BCL type such as <c>int</c>); a module publishes and handles under its own folder.</summary>
    public static IEnumerable<string> ContractsComeFromSharedContracts(ModuleUnderTest module, Assembly contracts)
    {
        foreach (var type in module.Publishes.Concat(module.Consumes).Concat(module.Handles).Distinct())
        {
            if (type.Assembly != contracts && type.Assembly != typeof(object).Assembly)
            {
                yield return $"Modules.{module.Name} -> {type.Assembly.GetName().Name} (contract {type.Name} is not in Shared.Contracts)";
            }
        }

        var own = $"{contracts.GetName().Name}.{module.Name}";
        foreach (var type in module.Publishes.Concat(module.Handles).Where(t => t.Assembly == contracts && t.Namespace != own))
        {
            yield return $"Modules.{module.Name} publishes or handles {type.Name} from {type.Namespace} (expected {own})";
        }
    }

    /// <summary>
    /// Rule 6, synchronous edges: every module API request of another module that a module's code
    /// uses is declared in its manifest with <c>Sends&lt;T&gt;()</c> (or is an item of a declared batch
    /// request), and every declared one is used, so the generated diagram shows who calls whom.
    /// </summary>
    public static IEnumerable<string> SentRequestsAreDeclared(ModuleUnderTest module, Assembly contracts)
    {
        static bool IsRequest(Type t) => t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition().Name == "IModuleRequest`1");
        var declared = module.Sends.ToHashSet();
        var items = declared
            .SelectMany(r => r.GetConstructors().SelectMany(c => c.GetParameters()))
            .Select(p => p.ParameterType)
            .Where(t => t.IsGenericType && t.GetGenericArguments().Length == 1)
            .Select(t => t.GetGenericArguments()[0])
            .Where(IsRequest)
            .ToHashSet();
        foreach (var request in contracts.GetTypes().Where(t => t.IsVisible && IsRequest(t)))
        {
            var users = Types.InAssembly(module.Assembly).That().ResideInNamespace(module.Namespace)
                .And().HaveDependencyOn(request.FullName!)
                .GetTypes()
                .Where(t => t != module.RegistrationType) // the manifest's own Sends<T>() is not a use
                .ToArray();
            var handled = module.Handles.Contains(request);
            if (users.Length > 0 && !handled && !declared.Contains(request) && !items.Contains(request))
            {
                yield return $"Modules.{module.Name} -> {request.Name} (type {ShortName(users[0].FullName!)}): a module API request it sends without declaring Sends<{request.Name}>()";
            }

            if (users.Length == 0 && declared.Contains(request))
            {
                yield return $"Modules.{module.Name} declares Sends<{request.Name}>() but never uses it";
            }
        }
    }

    /// <summary>
    /// The one place a module may use an HTTP client: its <c>Outbound</c> namespace, for calls to
    /// systems outside OmsModular (webhook receivers), never to a peer module.
    /// </summary>
    public const string OutboundNamespace = "Outbound";

    /// <summary>Rule 7: module code does not know whether a peer runs in this process.</summary>
    public static IEnumerable<string> UnawareOfPeerLocation(ModuleUnderTest module)
    {
        foreach (var forbidden in LocationAwareTypes)
        {
            var types = Types.InAssembly(module.Assembly).That().ResideInNamespace(module.Namespace);
            var result = (forbidden == "System.Net.Http" ? types.And().DoNotResideInNamespace($"{module.Namespace}.{OutboundNamespace}") : types)
                .ShouldNot().HaveDependencyOn(forbidden)
                .GetResult();
            foreach (var failing in result.FailingTypeNames ?? [])
            {
                var what = forbidden.StartsWith("OmsModular.", StringComparison.Ordinal) ? ShortName(forbidden) : forbidden; // a library: its namespace
                yield return $"Modules.{module.Name} -> {what} (type {ShortName(failing)}): modules must not know where peers run";
            }
        }
    }

    /// <summary>The settings that say how the system is laid out across processes: the host reads them, modules never.</summary>
    private static readonly string[] TopologySettings =
    [
        "Oms:Modules", "Oms__Modules", "Oms:Remote", "Oms__Remote", "Oms:Gateway", "Oms__Gateway",
        "Oms:Messaging:Transport", "Oms__Messaging__Transport", "Oms:Messaging:RabbitMq", "Oms__Messaging__RabbitMq",
    ];

    /// <summary>Rule 7 (sources): no file under <c>Modules/</c> reads a topology setting, so none behaves differently by topology.</summary>
    public static IEnumerable<string> NoTopologySettingsInModules(IEnumerable<(string Path, string Text)> moduleSources)
    {
        foreach (var (path, text) in moduleSources)
        {
            foreach (var setting in TopologySettings.Where(t => text.Contains(t, StringComparison.OrdinalIgnoreCase)))
            {
                yield return $"{path} reads the topology setting {setting}: modules must behave the same in every topology";
            }
        }
    }

    public static IEnumerable<(string Path, string Text)> ModuleSources(string repositoryRoot)
    {
        var modules = Path.Combine(repositoryRoot, "Modules");
        return Directory.EnumerateFiles(modules, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                        && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (Path.GetRelativePath(repositoryRoot, f), File.ReadAllText(f)));
    }

    private static DbContext CreateDesignTimeContext(ModuleUnderTest module)
    {
        var factoryInterface = typeof(IDesignTimeDbContextFactory<>).MakeGenericType(module.DbContextType);
        var factoryType = module.Assembly.GetTypes().SingleOrDefault(t => !t.IsAbstract && factoryInterface.IsAssignableFrom(t))
            ?? throw new InvalidOperationException($"Modules.{module.Name} has no design-time factory for {module.DbContextType.Name}.");
        var factory = Activator.CreateInstance(factoryType, nonPublic: true)!;
        return (DbContext)factoryInterface.GetMethod("CreateDbContext")!.Invoke(factory, [Array.Empty<string>()])!;
    }

    private static bool IsBaseClassLibrary(string name) =>
        name is "netstandard" or "mscorlib" || name.StartsWith("System", StringComparison.Ordinal) || name.StartsWith("Microsoft.Win32", StringComparison.Ordinal);

    private static bool IsInitOnly(PropertyInfo property) =>
        property.SetMethod!.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit));

    private static bool IsRecordMember(MethodInfo method) =>
        method.Name is "Equals" or "GetHashCode" or "ToString" or "Deconstruct" or "<Clone>$" or "PrintMembers";

    private static string ShortName(string fullName)
    {
        var name = fullName.Replace('/', '+');
        var lastDot = name.LastIndexOf('.');
        return lastDot < 0 ? name : name[(lastDot + 1)..];
    }
}
