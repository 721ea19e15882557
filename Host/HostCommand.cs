namespace OmsModular.Host;

/// <summary>The verbs of the binary: none (run) or <c>migrate</c>.</summary>
internal sealed record HostCommand(bool Migrate, string[] HostArguments)
{
    public static HostCommand Parse(string[] args)
    {
        if (args.Length > 0 && args[0].Equals("migrate", StringComparison.OrdinalIgnoreCase))
        {
            return new HostCommand(true, args[1..]);
        }

        return new HostCommand(false, args);
    }

    /// <summary>Command-line flags mapped to settings (<c>--modules Orders,Pricing</c> is <c>Oms:Modules</c>).</summary>
    public static IDictionary<string, string> SwitchMappings { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--modules"] = "Oms:Modules",
        ["--connection-string"] = "ConnectionStrings:Oms",
        ["--data-dir"] = "Oms:Database:EmbeddedDirectory",
    };
}
