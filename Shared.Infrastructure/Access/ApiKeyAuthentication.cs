using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace OmsModular.Shared.Infrastructure.Access;

/// <summary>
/// Authenticates <c>Authorization: Bearer oms_…</c> (or <c>X-Api-Key: oms_…</c>) against the
/// stored keys. No key presented: no result (another scheme may answer); a key presented that
/// is unknown, revoked or wrong: failure.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, ApiKeys keys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string HeaderName = "X-Api-Key";

    /// <summary>Where a refused key leaves its reason for the 401 problem.</summary>
    public const string FailureKey = "oms:authentication-failure";

    /// <summary>The presented API key, if the request carries one.</summary>
    public static string? Presented(HttpRequest request)
    {
        if (request.Headers.TryGetValue(HeaderName, out var header) && header.Count > 0
            && header[0]?.Trim() is { } value && value.StartsWith(ApiKeys.Prefix, StringComparison.Ordinal))
        {
            return value;
        }

        var authorization = request.Headers.Authorization.ToString();
        return authorization.StartsWith("Bearer " + ApiKeys.Prefix, StringComparison.OrdinalIgnoreCase)
            ? authorization["Bearer ".Length..].Trim()
            : null;
    }

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var presented = Presented(Request);
        if (presented is null)
        {
            return AuthenticateResult.NoResult();
        }

        var key = await keys.FindAsync(presented, Context.RequestAborted).ConfigureAwait(false);
        if (key is null)
        {
            Context.Items[FailureKey] = "The API key is not valid (unknown, revoked or mistyped).";
            return AuthenticateResult.Fail((string)Context.Items[FailureKey]!);
        }

        var claims = new List<Claim>
        {
            new(ClaimTypes.Name, key.Name),
            new(Caller.ActorClaim, $"key:{key.Name}/{key.KeyId}"),
            new(Caller.KeyIdClaim, key.KeyId),
        };
        claims.AddRange(key.Scopes.Select(s => new Claim(Caller.ScopeClaim, s)));
        if (key.Channel is not null)
        {
            claims.Add(new Claim(Caller.ChannelClaim, key.Channel));
        }

        if (key.Marketplace is not null)
        {
            claims.Add(new Claim(Caller.MarketplaceClaim, key.Marketplace));
        }

        var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, SchemeName));
        return AuthenticateResult.Success(new AuthenticationTicket(principal, SchemeName));
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.Append(HeaderNames.WWWAuthenticate, Context.Items.ContainsKey(FailureKey) ? "Bearer error=\"invalid_token\"" : "Bearer");
        return Task.CompletedTask;
    }
}

/// <summary>The scope an endpoint needs (metadata: the OpenAPI document and the endpoint tests read it).</summary>
public sealed record RequiresScope(string Scope);

public sealed record ScopeRequirement(string Scope) : IAuthorizationRequirement;

internal sealed class ScopeRequirementHandler : AuthorizationHandler<ScopeRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
    {
        if (context.User.Identity?.IsAuthenticated == true && Scopes.Grants(Caller.Of(context.User).Scopes, requirement.Scope))
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

public static class ScopeEndpointExtensions
{
    /// <summary>The endpoint needs a credential holding <paramref name="scope"/> (a <c>…:write</c> scope grants its <c>…:read</c>).</summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string scope)
        where TBuilder : IEndpointConventionBuilder
    {
        if (!Scopes.IsKnown(scope))
        {
            throw new ArgumentException($"'{scope}' is not one of the scopes in {nameof(Scopes)}.", nameof(scope));
        }

        builder.WithMetadata(new RequiresScope(scope));
        return builder.RequireAuthorization(new AuthorizationPolicyBuilder()
            .RequireAuthenticatedUser()
            .AddRequirements(new ScopeRequirement(scope))
            .Build());
    }
}

/// <summary>401 and 403 as problem details that say what is missing.</summary>
internal sealed class ProblemAuthorizationResultHandler(IProblemDetailsService problems) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public async Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Succeeded)
        {
            await _default.HandleAsync(next, context, policy, authorizeResult).ConfigureAwait(false);
            return;
        }

        ProblemDetails problem;
        if (authorizeResult.Challenged)
        {
            await context.ChallengeAsync().ConfigureAwait(false);
            var failure = context.Items.TryGetValue(ApiKeyAuthenticationHandler.FailureKey, out var reason) ? reason as string
                : context.Request.Headers.Authorization.Count > 0 ? "The bearer token is not valid here (expired, for another audience, or not signed by the configured provider)." : null;
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status401Unauthorized,
                Type = "urn:oms:problem:unauthenticated",
                Title = "A credential is required",
                Detail = failure ?? "Send an API key (Authorization: Bearer oms_…) or an access token from the configured OpenID Connect provider.",
            };
        }
        else
        {
            await context.ForbidAsync().ConfigureAwait(false);
            var needed = policy.Requirements.OfType<ScopeRequirement>().Select(r => r.Scope).ToArray();
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status403Forbidden,
                Type = "urn:oms:problem:forbidden",
                Title = "The credential may not do this",
                Detail = needed.Length > 0
                    ? $"This operation needs the scope {string.Join(", ", needed)}."
                    : "This operation is not allowed for this credential.",
            };
            if (needed.Length > 0)
            {
                problem.Extensions["requiredScope"] = needed[0];
            }
        }

        context.Response.StatusCode = problem.Status!.Value;
        await problems.WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem }).ConfigureAwait(false);
    }
}
