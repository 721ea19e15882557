namespace OmsModular.Host;

/// <summary>The verbs of the binary: none (run), <c>migrate</c>, or <c>seed-demo</c> (migrate, load the demo data, exit).</summary>
internal sealed record HostCommand(string Verb, string[] HostArguments)
{
    public bool Migrate => Verb == "migrate";

    public bool SeedDemo => Verb == "seed-demo";

    public static HostCommand Parse(string[] args)
    {
        if (args.Length > 0 && args[0] is "migrate" or "seed-demo")
        {
            return new HostCommand(args[0], args[1..]);
        }

        return new HostCommand("run", args);
    }

    /// <summary>Command-line flags mapped to settings (<c>--modules Orders,Pricing</c> is <c>Oms:Modules</c>).</summary>
    public static IDictionary<string, string> SwitchMappings { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--modules"] = "Oms:Modules",
        ["--connection-string"] = "ConnectionStrings:Oms",
        ["--data-dir"] = "Oms:Database:EmbeddedDirectory",
        ["--seed-demo"] = "Oms:SeedDemo",
    };
}
