using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.Http.Resilience;
using OmsModular.Shared.Contracts;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Host.Remote;

/// <summary>
/// Where the modules this process does not host are reached (section <c>Oms:Remote</c>):
/// <c>Oms:Remote:&lt;Module&gt;</c> is the base URL of the process that hosts it, <c>Oms:Remote:Gateway</c>
/// one URL for all of them; <c>Oms:Remote:ApiKey</c> is the service credential sent with every request
/// (an API key with the <c>modules:call</c> scope).
/// </summary>
internal sealed class RemoteModules(IConfiguration configuration)
{
    public const string Section = "Oms:Remote";
    public const string ClientName = "oms-modules";

    public Uri? BaseAddressOf(string module) => ExplicitAddressOf(module) ?? Url(configuration[$"{Section}:Gateway"]);

    /// <summary>The address configured for this module itself (not the gateway): what a gateway routes to.</summary>
    public Uri? ExplicitAddressOf(string module) => Url(configuration[$"{Section}:{module}"]);

    private static Uri? Url(string? url) => url is { Length: > 0 } ? new Uri(url.TrimEnd('/') + "/") : null;

    public string? ApiKey => configuration[$"{Section}:ApiKey"];

    public bool AnyConfigured(ModuleRegistry registry) => registry.All.Any(m => !registry.IsHosted(m) && BaseAddressOf(m.Name) is not null);
}

/// <summary>The wire form of module API requests and answers, the same on both sides.</summary>
internal static class ModuleApiJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false) },
    };

    /// <summary>Set on every answer of the module API route (errors included): an answer without it came from something else (a wrong address, a process without the route, a proxy).</summary>
    public const string AnswerHeader = "X-Oms-Module";

    public static string PathOf(ModuleRequestDescriptor descriptor) => $"internal/modules/{descriptor.ModuleName.ToLowerInvariant()}/{descriptor.RequestType.Name}";
}

/// <summary>
/// The module client of a process that hosts only some modules: a request whose module is hosted here
/// runs in-process; one whose module runs elsewhere goes over HTTP to that process (time-outs, retries
/// with jitter and a circuit breaker per remote process from Microsoft.Extensions.Http.Resilience; safe
/// because every state-changing module request is idempotent). Errors come back as the exceptions the
/// in-process client raises: an unreachable or failing process is <see cref="ModuleNotAvailableException"/>
/// (callers back off and retry), a business problem the same <see cref="ProblemException"/>.
/// </summary>
internal sealed class RemoteModuleClient(
    ModuleRegistry registry,
    RemoteModules remotes,
    IHttpClientFactory http,
    IServiceScopeFactory scopes,
    ILogger<RemoteModuleClient> logger) : IModuleClient
{
    private readonly InProcessModuleClient _local = new(scopes, registry);

    public async Task<TResponse> SendAsync<TResponse>(IModuleRequest<TResponse> request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var descriptor = registry.FindRequestDescriptor(request.GetType());
        if (descriptor is null || registry.FindHosted(descriptor.ModuleName) is not null || remotes.BaseAddressOf(descriptor.ModuleName) is not { } baseAddress)
        {
            return await _local.SendAsync(request, cancellationToken).ConfigureAwait(false); // hosted here, or the in-process client's own error
        }

        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(baseAddress, ModuleApiJson.PathOf(descriptor)))
        {
            Content = JsonContent.Create(request, request.GetType(), options: ModuleApiJson.Options),
        };
        if (remotes.ApiKey is { } key)
        {
            message.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        HttpResponseMessage response;
        try
        {
            response = await http.CreateClient(RemoteModules.ClientName).SendAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested
                                          && exception is TaskCanceledException or TimeoutException or Polly.Timeout.TimeoutRejectedException)
        {
            // It may have been done: a possible outage (retried; after OutageProbes it counts against the message, as in-process).
            throw new TimeoutException($"Module {descriptor.ModuleName} at {baseAddress} did not answer {descriptor.RequestType.Name} in time: {exception.Message}", exception);
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested
                                          && exception is HttpRequestException or Polly.CircuitBreaker.BrokenCircuitException)
        {
            throw new ModuleNotAvailableException($"Module {descriptor.ModuleName} at {baseAddress} cannot be reached for {descriptor.RequestType.Name}: {exception.Message}");
        }

        using (response)
        {
            var what = $"Module {descriptor.ModuleName} at {baseAddress} answered {descriptor.RequestType.Name} with {(int)response.StatusCode}";
            if (!response.Headers.Contains(ModuleApiJson.AnswerHeader))
            {
                // Not the module's answer (a wrong address, a process of another version, a proxy's error, a refused
                // credential): the topology's state, not the message's fault. The caller waits, as for an outage.
                throw response.StatusCode is HttpStatusCode.GatewayTimeout
                    ? new TimeoutException($"{what} from the gateway")
                    : new ModuleNotAvailableException($"{what}, not from the module's API (check Oms:Remote:{descriptor.ModuleName} and Oms:Remote:ApiKey)");
            }

            if (response.IsSuccessStatusCode)
            {
                return (TResponse)(await response.Content.ReadFromJsonAsync(typeof(TResponse), ModuleApiJson.Options, cancellationToken).ConfigureAwait(false))!;
            }

            var problem = await ReadProblemAsync(response, cancellationToken).ConfigureAwait(false);
            logger.LogDebug("{What}: {Type} {Detail}", what, problem.Type, problem.Detail);
            throw problem.Type switch
            {
                "urn:oms:problem:dependency-unavailable" => new DependencyUnavailableException(problem.Detail ?? what),
                "urn:oms:problem:module-unavailable" => new ModuleNotAvailableException($"{what}: {problem.Detail}"),
                "urn:oms:problem:unavailable" => new TimeoutException($"{what}: {problem.Detail}"), // the remote's own possible outage (its database, a time-out)
                "urn:oms:problem:concurrent-change" => new Microsoft.EntityFrameworkCore.DbUpdateConcurrencyException($"{what}: {problem.Detail}"), // contention, as in-process
                { } type when (int)response.StatusCode is >= 400 and < 500 && type.StartsWith("urn:oms:problem:", StringComparison.Ordinal) =>
                    new ProblemException((int)response.StatusCode, type["urn:oms:problem:".Length..], problem.Title ?? what, problem.Detail ?? what),
                _ => new InvalidOperationException($"{what}: {problem.Detail ?? problem.Title}"),
            };
        }
    }

    private static async Task<(string? Type, string? Title, string? Detail)> ReadProblemAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>(cancellationToken).ConfigureAwait(false);
            string? Text(string name) => problem.ValueKind == JsonValueKind.Object && problem.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
            return (Text("type"), Text("title"), Text("detail"));
        }
        catch (Exception exception) when (exception is JsonException or NotSupportedException or InvalidOperationException)
        {
            return (null, null, response.ReasonPhrase);
        }
    }
}

internal static class RemoteModulesSetup
{
    /// <summary>The module client that reaches other processes, with its HTTP resilience (settings under <c>Oms:Remote:Resilience</c>).</summary>
    public static void AddRemoteModules(this IServiceCollection services, IConfiguration configuration)
    {
        var remotes = configuration.GetSection(RemoteModules.Section).GetChildren().Select(c => c.Key)
            .Where(k => k is not ("ApiKey" or "AttemptTimeout" or "TotalTimeout" or "Retries" or "RetryDelay")).ToArray();
        if (remotes.Length > 0 && string.IsNullOrWhiteSpace(configuration[$"{RemoteModules.Section}:ApiKey"]) && !Gateway.IsEnabled(configuration))
        {
            throw new InvalidOperationException(
                $"{RemoteModules.Section}:{remotes[0]} is set but {RemoteModules.Section}:ApiKey is not: the processes of a topology call each other with an API key that has the {Scopes.ModulesCall} scope (keys create --name services --scopes {Scopes.ModulesCall}).");
        }

        if (configuration.GetValue($"{RemoteModules.Section}:AttemptTimeout", TimeSpan.FromSeconds(30)) >= configuration.GetValue($"{RemoteModules.Section}:TotalTimeout", TimeSpan.FromSeconds(90)))
        {
            throw new InvalidOperationException($"{RemoteModules.Section}:AttemptTimeout must be shorter than {RemoteModules.Section}:TotalTimeout.");
        }

        services.AddSingleton<RemoteModules>();
        services.AddSingleton<IModuleClient, RemoteModuleClient>();
        services.AddHttpClient(RemoteModules.ClientName, c => c.Timeout = Timeout.InfiniteTimeSpan) // the pipeline's total time-out applies
            .AddStandardResilienceHandler(o =>
            {
                // A batch (AuthorizePaymentBatch calls the provider per order) may take a while: generous time-outs.
                o.AttemptTimeout.Timeout = configuration.GetValue($"{RemoteModules.Section}:AttemptTimeout", TimeSpan.FromSeconds(30));
                o.TotalRequestTimeout.Timeout = configuration.GetValue($"{RemoteModules.Section}:TotalTimeout", TimeSpan.FromSeconds(90));
                o.Retry.MaxRetryAttempts = configuration.GetValue($"{RemoteModules.Section}:Retries", 3);
                o.Retry.Delay = configuration.GetValue($"{RemoteModules.Section}:RetryDelay", TimeSpan.FromMilliseconds(200));
                o.Retry.UseJitter = true;
                o.Retry.BackoffType = Polly.DelayBackoffType.Exponential;
                // Retried here: the connection failed, the attempt timed out, a proxy in between failed. Not a 503:
                // the module said what is unavailable, and the caller's outage rules decide (no provider calls times four).
                o.Retry.ShouldHandle = args => ValueTask.FromResult(args.Outcome switch
                {
                    { Exception: HttpRequestException or Polly.Timeout.TimeoutRejectedException } => true,
                    { Result.StatusCode: HttpStatusCode.BadGateway or HttpStatusCode.GatewayTimeout or HttpStatusCode.RequestTimeout } => true,
                    _ => false,
                });
                o.CircuitBreaker.SamplingDuration = TimeSpan.FromSeconds(Math.Max(30, 2 * o.AttemptTimeout.Timeout.TotalSeconds));
            })
            // One circuit per module (by its path: through a gateway every module shares one address), so one that
            // is down does not open the others'.
            .SelectPipelineBy(_ => request => $"{request.RequestUri?.Authority}/{ModulePathSegment(request.RequestUri)}");
    }

    private static string ModulePathSegment(Uri? uri) =>
        uri?.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries) is ["internal", "modules", var module, ..] ? module : string.Empty;

    /// <summary>
    /// Serves the hosted modules' API to the other processes of the topology: <c>POST /internal/modules/{module}/{request}</c>,
    /// with a service credential (<c>modules:call</c>), not in the public OpenAPI document.
    /// </summary>
    public static void MapModuleApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/internal/modules/{module}/{request}", async (string module, string request, HttpContext context, ModuleRegistry registry, IServiceScopeFactory scopes, CancellationToken ct) =>
            {
                // On the answer, errors included (the exception handler clears headers, not this callback).
                context.Response.OnStarting(() =>
                {
                    context.Response.Headers[ModuleApiJson.AnswerHeader] = module;
                    return Task.CompletedTask;
                });

                if (registry.FindRequestDescriptor(module, request) is not { } descriptor)
                {
                    throw ProblemException.NotFound("Module request", $"Module {module} declares no request {request}.");
                }

                if (registry.FindHosted(descriptor.ModuleName) is null)
                {
                    throw new ModuleNotAvailableException($"Module {descriptor.ModuleName} is not hosted in this process.");
                }

                object? body;
                try
                {
                    body = await JsonSerializer.DeserializeAsync(context.Request.Body, descriptor.RequestType, ModuleApiJson.Options, ct);
                }
                catch (JsonException exception)
                {
                    throw new ProblemException(400, "malformed-request", "The module request could not be read", exception.Message);
                }

                if (body is null)
                {
                    throw new ProblemException(400, "malformed-request", "The module request could not be read", "The body is empty.");
                }

                await using var scope = scopes.CreateAsyncScope();
                var answer = await descriptor.Invoke(scope.ServiceProvider, body, ct);
                return Results.Json(answer, ModuleApiJson.Options, statusCode: StatusCodes.Status200OK);
            })
            .RequireScope(Scopes.ModulesCall)
            .DisableRateLimiting()
            .ExcludeFromDescription();
    }
}
