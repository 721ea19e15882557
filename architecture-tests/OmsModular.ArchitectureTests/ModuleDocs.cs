using System.Text;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.ArchitectureTests;

/// <summary>Renders <c>docs/modules.md</c> (table and Mermaid diagram) from the module manifests.</summary>
public static class ModuleDocs
{
    public const string RelativePath = "docs/modules.md";

    public static string Render(IReadOnlyList<ModuleManifest> modules)
    {
        var text = new StringBuilder();
        text.AppendLine("<!-- Generated from the module manifests by architecture-tests (ModularityTests). Do not edit by hand: -->");
        text.AppendLine("<!-- OMS_UPDATE_DOCS=1 dotnet test architecture-tests/OmsModular.ArchitectureTests -->");
        text.AppendLine("# Modules");
        text.AppendLine();
        text.AppendLine("| module | schema | publishes | consumes | handles (module API) | sends (module API) |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var module in modules)
        {
            text.AppendLine(
                $"| {module.Name} | `{module.Schema}` | {List(module.Publishes.Select(WireNames.Of))} | " +
                $"{List(module.Consumes.Select(c => c.WireName).Distinct())} | {List(module.Handles.Select(h => h.RequestType.Name))} | {List(module.Sends.Select(r => r.Name))} |");
        }

        text.AppendLine();
        text.AppendLine("Solid arrows run from the publishing module to the consuming module (integration events through the outbox); dotted arrows from a module to the module whose API it calls synchronously.");
        text.AppendLine();
        text.AppendLine("```mermaid");
        text.AppendLine("flowchart LR");
        foreach (var module in modules)
        {
            text.AppendLine($"    {module.Name}[\"{module.Name}<br/><small>schema {module.Schema}</small>\"]");
        }

        var edges = modules
            .SelectMany(consumer => consumer.Consumes.Select(c => (Consumer: consumer.Name, Event: c.EventType)))
            .SelectMany(c => modules.Where(p => p.Publishes.Contains(c.Event)).Select(p => (Publisher: p.Name, c.Consumer, Wire: WireNames.Of(c.Event))))
            .Distinct()
            .OrderBy(e => e.Publisher, StringComparer.Ordinal).ThenBy(e => e.Consumer, StringComparer.Ordinal).ThenBy(e => e.Wire, StringComparer.Ordinal);
        foreach (var (publisher, consumer, wire) in edges)
        {
            text.AppendLine($"    {publisher} -- \"{wire}\" --> {consumer}");
        }

        var calls = modules
            .SelectMany(caller => caller.Sends.Select(r => (Caller: caller.Name, Request: r)))
            .SelectMany(c => modules.Where(h => h.Handles.Any(x => x.RequestType == c.Request)).Select(h => (c.Caller, Handler: h.Name, c.Request.Name)))
            .OrderBy(c => c.Caller, StringComparer.Ordinal).ThenBy(c => c.Handler, StringComparer.Ordinal).ThenBy(c => c.Name, StringComparer.Ordinal);
        foreach (var (caller, handler, request) in calls)
        {
            text.AppendLine($"    {caller} -. \"{request}\" .-> {handler}");
        }

        text.AppendLine("```");
        return text.ToString().ReplaceLineEndings("\n");
    }

    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OmsModular.sln")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("OmsModular.sln not found above the test folder.");
    }

    private static string List(IEnumerable<string> items)
    {
        var all = items.ToArray();
        return all.Length == 0 ? "–" : string.Join("<br/>", all.Select(i => $"`{i}`"));
    }
}
