using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Modules;
using Yarp.ReverseProxy.Configuration;

namespace OmsModular.Host.Remote;

/// <summary>
/// The gateway (<c>Oms:Gateway:Enabled</c>): one public URL for a topology. Every module this process
/// does not host, but knows a process for (<c>Oms:Remote:&lt;Module&gt;</c>), has its public routes
/// (<c>/api/v1/&lt;schema&gt;</c>, the convention every module's endpoints follow) and its internal module
/// API routes proxied there by YARP. Requests pass the gateway's own authentication, rate limit and input
/// guard first, and the process behind checks the same credential again (one scheme: the API-key store and
/// the token issuer are shared). Readiness aggregates the processes behind it.
/// </summary>
internal static class Gateway
{
    public const string EnabledKey = "Oms:Gateway:Enabled";
    private const string ModulesCallPolicy = "modules-call";

    public static bool IsEnabled(IConfiguration configuration) => configuration.GetValue(EnabledKey, false);

    /// <summary>Module → the base URL its requests go to, for the modules this process does not host.</summary>
    public static IReadOnlyDictionary<string, Uri> Routed(ModuleRegistry registry, RemoteModules remotes) => registry.All
        .Where(m => !registry.IsHosted(m) && remotes.ExplicitAddressOf(m.Name) is not null) // never Oms:Remote:Gateway: that would be itself
        .ToDictionary(m => m.Name, m => remotes.ExplicitAddressOf(m.Name)!, StringComparer.Ordinal);

    public static void AddGateway(this IServiceCollection services, IConfiguration configuration, ModuleRegistry registry)
    {
        var remotes = new RemoteModules(configuration);
        var routed = Routed(registry, remotes);
        var routes = new List<RouteConfig>();
        var clusters = new List<ClusterConfig>();
        foreach (var manifest in registry.All.Where(m => routed.ContainsKey(m.Name)))
        {
            var cluster = $"module-{manifest.Schema}";
            routes.Add(new RouteConfig { RouteId = $"{manifest.Schema}-api", ClusterId = cluster, Match = new RouteMatch { Path = $"/api/v1/{manifest.Schema}/{{**rest}}" } });
            routes.Add(new RouteConfig
            {
                RouteId = $"{manifest.Schema}-module-api",
                ClusterId = cluster,
                AuthorizationPolicy = ModulesCallPolicy, // checked here already, not only behind
                Match = new RouteMatch { Path = $"/internal/modules/{manifest.Name.ToLowerInvariant()}/{{**rest}}" },
            });
            clusters.Add(new ClusterConfig
            {
                ClusterId = cluster,
                Destinations = new Dictionary<string, DestinationConfig> { ["primary"] = new() { Address = routed[manifest.Name].ToString() } },
            });
        }

        foreach (var own in (configuration["urls"] ?? configuration["ASPNETCORE_URLS"] ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries))
        {
            if (routed.Values.Any(u => u.Authority.Equals(new Uri(own.Replace("*", "localhost", StringComparison.Ordinal).Replace("+", "localhost", StringComparison.Ordinal)).Authority, StringComparison.OrdinalIgnoreCase)))
            {
                throw new InvalidOperationException($"The gateway would route to itself ({own}): Oms:Remote:<Module> must name the processes behind it.");
            }
        }

        services.AddAuthorization(o => o.AddPolicy(ModulesCallPolicy, p => p.RequireAuthenticatedUser().AddRequirements(new Shared.Infrastructure.Access.ScopeRequirement(Shared.Infrastructure.Access.Scopes.ModulesCall))));
        services.TryAddSingleton<RemoteModules>();
        services.AddReverseProxy().LoadFromMemory(routes, clusters);
        services.AddHttpClient(ServicesHealthCheck.ClientName, c => c.Timeout = TimeSpan.FromMilliseconds(800)); // inside a probe's usual 1 s
        services.AddHealthChecks().AddCheck<ServicesHealthCheck>("services", tags: [OmsHealthChecks.ReadyTag]);
    }
}

/// <summary>
/// The gateway's view of the processes behind it: each one's own readiness. Degraded while some (or all)
/// do not answer ready: the gateway itself still serves (its own endpoints, the routes that work), so it
/// stays in its load balancer.
/// </summary>
internal sealed class ServicesHealthCheck(ModuleRegistry registry, RemoteModules remotes, IHttpClientFactory http) : IHealthCheck
{
    public const string ClientName = "oms-gateway-health";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var routed = Gateway.Routed(registry, remotes);
        var client = http.CreateClient(ClientName);
        var states = await Task.WhenAll(routed.GroupBy(r => r.Value).Select(async service =>
        {
            string state;
            try
            {
                using var response = await client.GetAsync(new Uri(service.Key, "health/ready"), cancellationToken).ConfigureAwait(false);
                state = response.IsSuccessStatusCode ? "ready" : $"not ready ({(int)response.StatusCode})";
            }
            catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
            {
                state = "unreachable";
            }

            return (Service: service.Key, Modules: service.Select(s => s.Key).Order(StringComparer.Ordinal).ToArray(), State: state);
        })).ConfigureAwait(false);

        var data = states.ToDictionary(s => string.Join(",", s.Modules), s => (object)$"{s.State} at {s.Service}");
        var down = states.Count(s => s.State != "ready");
        return down == 0 ? HealthCheckResult.Healthy($"{states.Length} services behind the gateway are ready.", data)
            : HealthCheckResult.Degraded($"{down} of {states.Length} services behind the gateway are not ready; the others' routes work.", data: data);
    }
}
