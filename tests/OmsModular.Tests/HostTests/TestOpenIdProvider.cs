using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace OmsModular.Tests.HostTests;

/// <summary>
/// An OpenID Connect provider on loopback as far as a resource server sees one: a discovery
/// document and a JWKS over real HTTP, and access tokens signed with its RSA key.
/// </summary>
public sealed class TestOpenIdProvider : IAsyncDisposable
{
    public const string Audience = "oms-api";

    private readonly RSA _rsa = RSA.Create(2048);
    private WebApplication? _app;

    public string Authority { get; private set; } = string.Empty;

    private RsaSecurityKey Key => new(_rsa) { KeyId = "test-key-1" };

    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _app = builder.Build();
        _app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = Authority,
            ["jwks_uri"] = $"{Authority}/jwks",
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
        }));
        _app.MapGet("/jwks", () =>
        {
            var jwk = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(_rsa.ExportParameters(false)) { KeyId = "test-key-1" });
            return Results.Json(new { keys = new[] { new { kty = jwk.Kty, use = "sig", kid = jwk.Kid, alg = "RS256", n = jwk.N, e = jwk.E } } });
        });
        await _app.StartAsync();
        Authority = _app.Urls.First().TrimEnd('/');
    }

    /// <summary>An access token for <paramref name="subject"/> with these scopes (space-separated in one <c>scope</c> claim).</summary>
    public string Issue(string subject, string scopes, string? audience = Audience, string? issuer = null, TimeSpan? lifetime = null, RSA? signWith = null)
    {
        var now = DateTime.UtcNow + (lifetime is { } l && l < TimeSpan.Zero ? l - TimeSpan.FromMinutes(10) : TimeSpan.Zero); // an expired token was valid once
        var key = signWith is null ? Key : new RsaSecurityKey(signWith) { KeyId = "test-key-1" };
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Authority,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", subject), new Claim("scope", scopes)]),
            NotBefore = now.AddMinutes(-1),
            IssuedAt = now.AddMinutes(-1),
            Expires = now + (lifetime is { } span && span > TimeSpan.Zero ? span : TimeSpan.FromMinutes(10)),
            SigningCredentials = new SigningCredentials(key, SecurityAlgorithms.RsaSha256),
        });
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _rsa.Dispose();
    }
}
