using System.Text.RegularExpressions;
using OmsModular.Shared.Contracts;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.ArchitectureTests;

/// <summary>
/// Every boundary rule of docs/architecture.md over every discovered module (no hand-kept list), and the
/// generated module documentation. A failure lists each offending edge.
/// </summary>
public sealed partial class ModularityTests
{
    private static readonly IReadOnlyList<ModuleUnderTest> Modules = ModuleUnderTest.All;

    [Fact]
    public void The_seven_modules_are_discovered_from_their_manifests() =>
        Assert.Equal(
            ["Fulfillment", "Inventory", "Notifications", "Orders", "Payments", "Pricing", "Returns"],
            Modules.Select(m => m.Name).Order(StringComparer.Ordinal));

    [Fact]
    public void Rule1_modules_do_not_depend_on_each_other() =>
        AssertNone(Modules.SelectMany(m => Rules.NoDependencyOnOtherModules(m, Modules)));

    [Fact]
    public void Rule2_contracts_depend_on_the_base_class_library_only_and_are_plain_records() =>
        AssertNone(Rules.ContractsArePlain(typeof(IIntegrationEvent).Assembly, "OmsModular.Shared.Contracts"));

    [Fact]
    public void Rule3_only_the_host_references_the_modules() =>
        AssertNone(Rules.ProjectReferences(ReadProjectGraph(ModuleDocs.RepositoryRoot())));

    [Fact]
    public void Rule4_a_modules_only_public_type_is_its_registration() =>
        AssertNone(Modules.SelectMany(Rules.OnlyRegistrationIsPublic));

    [Fact]
    public void Rule5_each_context_maps_only_its_own_schema_and_no_entity_twice() =>
        AssertNone(Modules.SelectMany(Rules.ModelMapsOwnSchemaOnly).Concat(Rules.NoEntityInTwoContexts(Modules)));

    [Fact]
    public void Rule5_no_sql_touches_another_modules_schema() =>
        AssertNone(Modules.SelectMany(m => Rules.NoSqlOnOtherSchemas(m, Modules)));

    [Fact]
    public void Rule6_cross_module_contracts_come_from_shared_contracts() =>
        AssertNone(Modules.SelectMany(m => Rules.ContractsComeFromSharedContracts(m, typeof(IIntegrationEvent).Assembly)));

    [Fact]
    public void Rule6_module_api_requests_a_module_sends_are_declared() =>
        AssertNone(Modules.SelectMany(m => Rules.SentRequestsAreDeclared(m, typeof(IIntegrationEvent).Assembly)));

    [Fact]
    public void Rule7_no_module_knows_where_its_peers_run() =>
        AssertNone(Modules.SelectMany(Rules.UnawareOfPeerLocation));

    [Fact]
    public void Rule7_no_file_under_modules_reads_a_topology_setting() =>
        AssertNone(Rules.NoTopologySettingsInModules(Rules.ModuleSources(ModuleDocs.RepositoryRoot())));

    [Fact]
    public void The_module_docs_and_diagram_are_current()
    {
        var path = Path.Combine(ModuleDocs.RepositoryRoot(), ModuleDocs.RelativePath);
        var expected = ModuleDocs.Render(ModuleCatalog.Discover(AppContext.BaseDirectory).Select(m => m.Manifest).ToArray());
        if (Environment.GetEnvironmentVariable("OMS_UPDATE_DOCS") == "1")
        {
            File.WriteAllText(path, expected);
        }

        var actual = File.Exists(path) ? File.ReadAllText(path).ReplaceLineEndings("\n") : string.Empty;
        Assert.True(
            expected == actual,
            $"{ModuleDocs.RelativePath} is stale. Regenerate it: OMS_UPDATE_DOCS=1 dotnet test architecture-tests/OmsModular.ArchitectureTests");
    }

    internal static void AssertNone(IEnumerable<string> violations)
    {
        var list = violations.Distinct().ToArray();
        Assert.True(list.Length == 0, "Architecture violations:\n  " + string.Join("\n  ", list));
    }

    /// <summary>Every project of the repository and the projects it references (repository-relative).</summary>
    internal static IReadOnlyDictionary<string, IReadOnlyList<string>> ReadProjectGraph(string root)
    {
        var graph = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(root, "*.csproj", SearchOption.AllDirectories)
                     .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                                 && !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
        {
            var directory = Path.GetDirectoryName(file)!;
            var references = ProjectReferencePattern().Matches(File.ReadAllText(file))
                .Select(m => Relative(root, Path.GetFullPath(Path.Combine(directory, m.Groups[1].Value.Replace('\\', '/')))))
                .ToArray();
            graph[Relative(root, file)] = references;
        }

        return graph;
    }

    private static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

    [GeneratedRegex("<ProjectReference\\s+Include=\"([^\"]+)\"")]
    private static partial Regex ProjectReferencePattern();
}
