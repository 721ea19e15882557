using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.RateLimiting;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Shared.Infrastructure.Database;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Modules;
using Serilog;

namespace OmsModular.Host;

/// <summary>
/// Trust at the edge: API keys and (when configured) OpenID Connect bearer tokens, a scope per
/// endpoint with a credential required everywhere else, and a rate limit per client.
/// </summary>
internal static class HostAccess
{
    public const string PolicyScheme = "oms";

    /// <param name="connectionString">the shared connection (the schema's owner: it migrates)</param>
    public static void AddOmsAccess(this WebApplicationBuilder builder, string connectionString)
    {
        var configuration = builder.Configuration;
        var own = configuration.GetConnectionString(ModuleRoles.Access.Name); // the store's own role, where provisioned
        builder.Services.AddSingleton(sp => new ApiKeys(
            ModuleDatabase.SeparatePool(own ?? connectionString, "oms-access", 10),
            sp.GetRequiredService<TimeProvider>(),
            configuration.GetValue("Oms:Auth:ApiKeyCacheTime", TimeSpan.FromSeconds(10)),
            // Its migrations run as the shared connection's role (the owner) when the store's own role is in the same database.
            own is not null && ModuleMigrator.SameDatabase(own, connectionString) ? connectionString : null));

        var authority = configuration["Oms:Auth:Jwt:Authority"];
        var jwt = !string.IsNullOrWhiteSpace(authority);
        if (jwt && string.IsNullOrWhiteSpace(configuration["Oms:Auth:Jwt:Audience"]))
        {
            throw new InvalidOperationException(
                "Oms:Auth:Jwt:Authority is set but Oms:Auth:Jwt:Audience is not: without an audience, tokens the provider issued for any other API would be accepted. Set the audience the provider puts in tokens for this API.");
        }
        var authentication = builder.Services
            .AddAuthentication(o =>
            {
                o.DefaultScheme = PolicyScheme;
                o.DefaultChallengeScheme = PolicyScheme;
                o.DefaultForbidScheme = PolicyScheme;
            })
            .AddPolicyScheme(PolicyScheme, "API key or OpenID Connect bearer token", o => o.ForwardDefaultSelector = context =>
                !jwt || ApiKeyAuthenticationHandler.Presented(context.Request) is not null
                    ? ApiKeyAuthenticationHandler.SchemeName
                    : JwtBearerDefaults.AuthenticationScheme)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        if (jwt)
        {
            authentication.AddJwtBearer(o =>
            {
                o.Authority = authority;
                o.Audience = configuration["Oms:Auth:Jwt:Audience"];
                o.RequireHttpsMetadata = configuration.GetValue("Oms:Auth:Jwt:RequireHttpsMetadata", true);
                o.MapInboundClaims = false; // keep `sub` and `scope` as the provider names them
                o.TokenValidationParameters.NameClaimType = "sub";
                o.TokenValidationParameters.ValidateAudience = true;
            });
        }

        builder.Services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        builder.Services.AddSingleton<IAuthorizationHandler, ScopeRequirementHandler>();
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();

        var rate = configuration.GetSection("Oms:RateLimit");
        if (rate.GetValue("Enabled", true))
        {
            var perSecond = rate.GetValue("PermitsPerSecond", 500);
            var burst = rate.GetValue("Burst", 1000);
            builder.Services.AddRateLimiter(o =>
            {
                o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                {
                    if (context.Request.Path.StartsWithSegments("/health"))
                    {
                        return RateLimitPartition.GetNoLimiter("health");
                    }

                    if (context.Request.Path.StartsWithSegments("/internal") && Caller.Of(context).Scopes.Contains(Scopes.ModulesCall))
                    {
                        return RateLimitPartition.GetNoLimiter("internal"); // module API traffic between the processes of a topology (through a gateway too); anyone else is limited
                    }

                    // One bucket per client (all keys of one name, or one token subject; per address without
                    // a credential), with the limits of its name (Oms:RateLimit:Clients:<name>) where configured.
                    var caller = Caller.Of(context);
                    var authenticated = context.User.Identity?.IsAuthenticated == true;
                    var partition = authenticated ? caller.Client : $"ip:{context.Connection.RemoteIpAddress}";
                    var client = caller.KeyId is not null && context.User.Identity?.Name is { } name ? rate.GetSection($"Clients:{name}") : null;
                    return RateLimitPartition.GetTokenBucketLimiter(partition, _ => new TokenBucketRateLimiterOptions
                    {
                        TokenLimit = client?.GetValue<int?>("Burst") ?? burst,
                        TokensPerPeriod = client?.GetValue<int?>("PermitsPerSecond") ?? perSecond,
                        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                        QueueLimit = 0,
                        AutoReplenishment = true,
                    });
                });
                o.OnRejected = async (context, cancellationToken) =>
                {
                    var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? Math.Max(1, (int)Math.Ceiling(after.TotalSeconds)) : 1;
                    var http = context.HttpContext;
                    http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
                    http.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
                    await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                    {
                        HttpContext = http,
                        ProblemDetails = new ProblemDetails
                        {
                            Status = StatusCodes.Status429TooManyRequests,
                            Type = "urn:oms:problem:rate-limited",
                            Title = "Too many requests",
                            Detail = $"This client has used its requests for now (the limit is per API key or token). Retry after {retryAfter} s; nothing of this request was done.",
                        },
                    });
                };
            });
        }
    }

    public static void UseOmsAccess(this WebApplication app)
    {
        app.UseAuthentication();
        if (app.Configuration.GetSection("Oms:RateLimit").GetValue("Enabled", true))
        {
            app.UseRateLimiter();
        }

        app.UseAuthorization();
    }

    /// <summary>Whether the OpenAPI document and the API reference answer without a credential (default: in Development).</summary>
    public static bool PublicDocs(this WebApplication app) =>
        app.Configuration.GetValue<bool?>("Oms:Api:PublicDocs") ?? app.Environment.IsDevelopment();

    /// <summary>
    /// The embedded default's first start: no active admin key yet, so one is created, printed once and
    /// written to <c>admin-key</c> in the cluster's folder, beside its password (mode 0600; when the
    /// cluster had to live elsewhere, in the folder asked for, next to the note that says where). On a
    /// later start the key gets the scopes it lacks (made by a version that did not have them yet).
    /// </summary>
    private const string EmbeddedAdmin = "embedded-admin";
    private const string EmbeddedAdminCreatedBy = "first start of the embedded default";

    public static async Task EnsureEmbeddedAdminKeyAsync(this WebApplication app)
    {
        if (app.Services.GetService<EmbeddedPostgres>() is not { } embedded)
        {
            return;
        }

        var keys = app.Services.GetRequiredService<ApiKeys>();
        // Every scope but the service credential's: the raw module API stays with the processes of a topology.
        var scopes = Scopes.All.Where(s => s != Scopes.ModulesCall).ToArray();
        if (await keys.AnyAsync())
        {
            // Only the very first start makes it (a revoked first key is not made again); a later version's
            // new scopes are given to it, so the walkthrough keeps working on an older data folder.
            if (await keys.GrantMissingScopesAsync(EmbeddedAdmin, EmbeddedAdminCreatedBy, scopes) > 0)
            {
                Log.Information("The embedded admin API key was given the scopes it lacked: {Scopes}", string.Join(' ', scopes));
            }

            return;
        }

        var created = await keys.CreateAsync(new ApiKeyRequest(EmbeddedAdmin, scopes, null, null), EmbeddedAdminCreatedBy);
        var file = Path.Combine(embedded.RequestedDirectory, "admin-key");
        await PrivateFile.WriteAsync(file, created.Secret + Environment.NewLine);

        Log.Warning(
            "Created the first admin API key (all scopes), shown only now and kept in {File}: {ApiKey}. Send it as 'Authorization: Bearer <key>'; create narrower keys with POST /api/v1/admin/api-keys or the 'keys create' verb",
            file, created.Secret);
    }

    /// <summary>The <c>keys</c> verb: <c>keys create --name N --scopes a,b [--channel web] [--marketplace m]</c>, <c>keys list</c>, <c>keys revoke ID</c>.</summary>
    public static async Task<int> RunKeysVerbAsync(this WebApplication app, string[] arguments)
    {
        var keys = app.Services.GetRequiredService<ApiKeys>();
        await keys.MigrateAsync();
        string? Option(string name) => arguments.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
        switch (arguments.FirstOrDefault())
        {
            case "create":
                try
                {
                    var scopes = (Option("--scopes") ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    var created = await keys.CreateAsync(new ApiKeyRequest(Option("--name") ?? string.Empty, scopes, Option("--channel"), Option("--marketplace")), $"cli:{Environment.UserName}");
                    Console.WriteLine($"Created API key {created.Key.KeyId} '{created.Key.Name}' ({string.Join(' ', created.Key.Scopes)}{(created.Key.Channel is null ? string.Empty : $", channel {created.Key.Channel}")}).");
                    Console.WriteLine("Its value is shown only now:");
                    Console.WriteLine(created.Secret);
                    return 0;
                }
                catch (FluentValidation.ValidationException invalid)
                {
                    foreach (var error in invalid.Errors)
                    {
                        await Console.Error.WriteLineAsync($"{error.PropertyName}: {error.ErrorMessage}");
                    }

                    return 2;
                }

            case "list":
                foreach (var key in await keys.ListAsync(arguments.Contains("--all")))
                {
                    Console.WriteLine($"{key.Id}  {key.KeyId}  {key.Name,-24} {string.Join(',', key.Scopes),-40} {key.Channel ?? "-",-12} {(key.RevokedAt is null ? "active" : $"revoked {key.RevokedAt:u}")}");
                }

                return 0;
            case "revoke" when arguments.Length > 1:
                var revoked = await keys.RevokeAsync(arguments[1], $"cli:{Environment.UserName}");
                Console.WriteLine(revoked is null ? $"There is no API key {arguments[1]}." : $"Revoked {revoked.KeyId} '{revoked.Name}'.");
                return revoked is null ? 1 : 0;
            default:
                await Console.Error.WriteLineAsync("usage: keys create --name NAME --scopes SCOPE[,SCOPE…] [--channel web|app|marketplace|store] [--marketplace NAME] | keys list [--all] | keys revoke ID");
                await Console.Error.WriteLineAsync($"scopes: {string.Join(", ", Scopes.All)}");
                return 2;
        }
    }
}
