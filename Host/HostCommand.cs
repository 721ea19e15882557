namespace OmsModular.Host;

/// <summary>The verbs of the binary: none (run), <c>migrate</c>, <c>seed-demo</c> (migrate, load the demo data, exit) or <c>keys</c> (API keys).</summary>
internal sealed record HostCommand(string Verb, string[] HostArguments)
{
    public bool Migrate => Verb == "migrate";

    public bool SeedDemo => Verb == "seed-demo";

    /// <summary><c>keys create|list|revoke …</c>: manage API keys and exit.</summary>
    public bool Keys => Verb == "keys";

    /// <summary><c>migrate --provision-roles</c>: also create a least-privilege login role per module.</summary>
    public bool ProvisionRoles { get; init; }

    public static HostCommand Parse(string[] args)
    {
        if (args.Length > 0 && args[0] is "migrate" or "seed-demo" or "keys")
        {
            var rest = args[1..];
            return new HostCommand(args[0], rest.Where(a => a != "--provision-roles").ToArray()) { ProvisionRoles = rest.Contains("--provision-roles") };
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
