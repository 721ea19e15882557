using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace OmsModular.Shared.Infrastructure.Access;

/// <summary>
/// Who is calling, whichever scheme authenticated them: the actor name recorded on changes, the
/// scopes held, and the sales channel (and marketplace) a channel-bound credential is confined to.
/// </summary>
public sealed record Caller(string Actor, string? KeyId, IReadOnlySet<string> Scopes, string? Channel, string? Marketplace)
{
    /// <summary>
    /// The client behind the credential, the same for all its keys (rotation) or tokens: the key's
    /// name (<c>key:&lt;name&gt;</c>), or <c>token:&lt;sub&gt;</c>. Idempotency keys and rate limits are per client.
    /// </summary>
    public string Client => KeyId is not null && Actor.LastIndexOf('/') is > 0 and var slash ? Actor[..slash] : Actor;

    public const string ScopeClaim = "scope";
    public const string ChannelClaim = "oms_channel";
    public const string MarketplaceClaim = "oms_marketplace";
    public const string KeyIdClaim = "oms_key_id";
    public const string ActorClaim = "oms_actor";

    /// <summary>In-process callers (jobs, consumers, the binary's own verbs).</summary>
    public static Caller System { get; } = new("system", null, new HashSet<string>(Access.Scopes.All, StringComparer.Ordinal), null, null);

    public bool IsChannelBound => Channel is not null;

    /// <summary>
    /// An idempotency key of this caller's: another client's key of the same text is another key (so
    /// a client can neither take nor learn of another's). <c>&lt;client hash&gt;:&lt;key&gt;</c>.
    /// </summary>
    public string ScopedKey(string idempotencyKey)
    {
        var client = global::System.Convert.ToHexStringLower(global::System.Security.Cryptography.SHA256.HashData(global::System.Text.Encoding.UTF8.GetBytes(Client)));
        return $"{client[..16]}:{idempotencyKey}";
    }

    /// <summary>Whether this caller may see or act on an order of <paramref name="channel"/> (and <paramref name="marketplace"/>).</summary>
    public bool MaySee(string channel, string? marketplace) =>
        Channel is null
        || (string.Equals(Channel, channel, StringComparison.Ordinal)
            && (Marketplace is null || string.Equals(Marketplace, marketplace, StringComparison.Ordinal)));

    public static Caller Of(ClaimsPrincipal user)
    {
        if (user.Identity?.IsAuthenticated != true)
        {
            return new Caller("anonymous", null, new HashSet<string>(StringComparer.Ordinal), null, null);
        }

        // Scopes: one claim per scope (API keys) or one space-separated `scope` / `scp` claim (OpenID Connect).
        var scopes = user.FindAll(c => c.Type is ScopeClaim or "scp" or "http://schemas.microsoft.com/identity/claims/scope")
            .SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .ToHashSet(StringComparer.Ordinal);
        // The oms_* claims are the API key scheme's own; a bearer token that carries them is not believed.
        var key = user.Identities.FirstOrDefault(i => i.AuthenticationType == ApiKeyAuthenticationHandler.SchemeName && i.IsAuthenticated);
        if (key is not null)
        {
            return new Caller(
                key.FindFirst(ActorClaim)?.Value ?? "key:unknown",
                key.FindFirst(KeyIdClaim)?.Value,
                scopes,
                key.FindFirst(ChannelClaim)?.Value,
                key.FindFirst(MarketplaceClaim)?.Value);
        }

        var subject = (user.FindFirst("sub") ?? user.FindFirst(ClaimTypes.NameIdentifier))?.Value ?? "unknown";
        var actor = $"token:{subject}";
        return new Caller(actor.Length > 200 ? actor[..200] : actor, null, scopes, null, null);
    }

    /// <summary>Lets an endpoint take the caller as a parameter (not part of the OpenAPI document).</summary>
    public static ValueTask<Caller?> BindAsync(HttpContext context) => ValueTask.FromResult<Caller?>(Of(context));

    public static Caller Of(HttpContext context) =>
        context.Items.TryGetValue(typeof(Caller), out var cached) && cached is Caller caller
            ? caller
            : (Caller)(context.Items[typeof(Caller)] = Of(context.User));
}
