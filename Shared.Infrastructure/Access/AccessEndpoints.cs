using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using OmsModular.Shared.Infrastructure.Hosting;

namespace OmsModular.Shared.Infrastructure.Access;

/// <summary><c>/api/v1/admin/api-keys</c>: create (the key is shown once), list, revoke.</summary>
public static class AccessEndpoints
{
    public static RouteGroupBuilder MapAccessAdmin(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/v1/admin/api-keys").WithTags("API keys").RequireScope(Scopes.Admin);

        group.MapPost("/", async (ApiKeyRequest body, Caller caller, ApiKeys keys, CancellationToken ct) =>
            {
                var created = await keys.CreateAsync(body, caller.Actor, ct);
                return TypedResults.Created($"/api/v1/admin/api-keys/{created.Key.Id}", created);
            })
            .WithName("CreateApiKey")
            .WithSummary("Creates an API key with a name, scopes and optionally a channel (and marketplace). The answer holds the key's secret value; it is never shown again.");

        group.MapGet("/", async (ApiKeys keys, bool? includeRevoked, CancellationToken ct) =>
                TypedResults.Ok(await keys.ListAsync(includeRevoked ?? false, ct)))
            .WithName("ListApiKeys")
            .WithSummary("The API keys (without their secrets), by name; revoked ones too with includeRevoked=true.");

        group.MapPost("/{id:guid}/revoke", async Task<Ok<ApiKeyView>> (Guid id, Caller caller, ApiKeys keys, CancellationToken ct) =>
                TypedResults.Ok(await keys.RevokeAsync(id.ToString(), caller.Actor, ct)
                                ?? throw ProblemException.NotFound("API key", $"There is no API key {id}.")))
            .WithName("RevokeApiKey")
            .WithSummary("Revokes an API key: it stops working at once in this process and within the key cache time (10 s by default) in others.");

        return group;
    }
}
