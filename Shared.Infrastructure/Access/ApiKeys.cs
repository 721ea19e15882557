using System.Text.Json.Serialization;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using FluentValidation;
using FluentValidation.Results;
using Microsoft.EntityFrameworkCore;

namespace OmsModular.Shared.Infrastructure.Access;

/// <summary>What a new key is for.</summary>
public sealed record ApiKeyRequest([property: JsonRequired] string Name, [property: JsonRequired] IReadOnlyList<string> Scopes, string? Channel, string? Marketplace);

/// <summary>A key as listed: never its secret.</summary>
public sealed record ApiKeyView(
    Guid Id, string KeyId, string Name, IReadOnlyList<string> Scopes, string? Channel, string? Marketplace,
    DateTimeOffset CreatedAt, string CreatedBy, DateTimeOffset? RevokedAt, string? RevokedBy);

/// <summary>A key just created: the only time its full value is shown.</summary>
public sealed record CreatedApiKey(ApiKeyView Key, string Secret);

/// <summary>A key that authenticated a request, as the handler needs it.</summary>
internal sealed record ValidKey(string KeyId, string Name, IReadOnlySet<string> Scopes, string? Channel, string? Marketplace);

/// <summary>
/// API keys in the manner of restricted keys: <c>oms_&lt;key id&gt;_&lt;secret&gt;</c>, 256 random
/// bits of secret, stored as SHA-256 (the secret is random, so a slow hash adds nothing), each
/// with a name, scopes and an optional channel (and marketplace). Several keys may share a name:
/// a client rotates by creating a second key, switching to it, then revoking the first.
/// </summary>
public sealed class ApiKeys
{
    public const string Prefix = "oms_";

    private static readonly string[] Channels = ["web", "app", "marketplace", "store"];

    private readonly DbContextOptions<AccessDbContext> _options;
    private readonly TimeProvider _clock;
    private readonly TimeSpan _cacheFor;
    private readonly ConcurrentDictionary<string, (ValidKey Key, byte[] Hash, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);

    // Key ids that are unknown or revoked, apart from the valid ones: a scan of made-up ids fills
    // (and, past its bound, empties) only this one.
    private readonly ConcurrentDictionary<string, DateTimeOffset> _refused = new(StringComparer.Ordinal);
    private long _revocations;

    /// <param name="connectionString">what the store reads and writes with (its own role where provisioned)</param>
    /// <param name="migrationConnectionString">what its migrations run as (the schema's owner), when not the same</param>
    public ApiKeys(string connectionString, TimeProvider clock, TimeSpan cacheFor, string? migrationConnectionString = null)
    {
        _options = OptionsFor(connectionString);
        _migrationOptions = migrationConnectionString is null ? _options : OptionsFor(migrationConnectionString);
        _clock = clock;
        _cacheFor = cacheFor;
    }

    private readonly DbContextOptions<AccessDbContext> _migrationOptions;

    private static DbContextOptions<AccessDbContext> OptionsFor(string connectionString)
    {
        var builder = new DbContextOptionsBuilder<AccessDbContext>();
        AccessDbContext.Configure(builder, connectionString);
        return builder.Options;
    }

    internal AccessDbContext Open() => new(_options);

    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        await using var db = new AccessDbContext(_migrationOptions);
        await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<CreatedApiKey> CreateAsync(ApiKeyRequest request, string createdBy, CancellationToken cancellationToken = default)
    {
        var (name, scopes, channel, marketplace) = Validate(request);
        var keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var secret = Base64Url(RandomNumberGenerator.GetBytes(32));
        var key = new ApiKey
        {
            KeyId = keyId,
            Name = name,
            SecretHash = Hash(secret),
            Scopes = scopes,
            Channel = channel,
            Marketplace = marketplace,
            CreatedAt = _clock.GetUtcNow(),
            CreatedBy = createdBy,
        };
        await using var db = Open();
        db.ApiKeys.Add(key);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return new CreatedApiKey(View(key), $"{Prefix}{keyId}_{secret}");
    }

    public async Task<IReadOnlyList<ApiKeyView>> ListAsync(bool includeRevoked, CancellationToken cancellationToken = default)
    {
        await using var db = Open();
        var keys = await db.ApiKeys.AsNoTracking()
            .Where(k => includeRevoked || k.RevokedAt == null)
            .OrderBy(k => k.Name).ThenBy(k => k.CreatedAt)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return keys.Select(View).ToArray();
    }

    /// <summary>
    /// Gives the active keys of this name made by <paramref name="createdBy"/> the scopes of
    /// <paramref name="scopes"/> they lack (a key made by an earlier version, before those scopes
    /// existed); returns how many keys changed.
    /// </summary>
    public async Task<int> GrantMissingScopesAsync(string name, string createdBy, IReadOnlyCollection<string> scopes, CancellationToken cancellationToken = default)
    {
        await using var db = Open();
        var keys = await db.ApiKeys.Where(k => k.Name == name && k.CreatedBy == createdBy && k.RevokedAt == null).ToListAsync(cancellationToken).ConfigureAwait(false);
        var changed = 0;
        foreach (var key in keys)
        {
            var missing = scopes.Except(key.Scopes, StringComparer.Ordinal).ToArray();
            if (missing.Length == 0)
            {
                continue;
            }

            key.Scopes.AddRange(missing);
            db.Entry(key).Property(k => k.Scopes).IsModified = true;
            _cache.TryRemove(key.KeyId, out _);
            changed++;
        }

        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return changed;
    }

    /// <summary>Whether any key was ever created (revoked ones count).</summary>
    public async Task<bool> AnyAsync(CancellationToken cancellationToken = default)
    {
        await using var db = Open();
        return await db.ApiKeys.AnyAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Revokes a key by its id or key id; it stops working at once in this process, within the cache time elsewhere.</summary>
    public async Task<ApiKeyView?> RevokeAsync(string idOrKeyId, string revokedBy, CancellationToken cancellationToken = default)
    {
        await using var db = Open();
        var key = Guid.TryParse(idOrKeyId, out var id)
            ? await db.ApiKeys.SingleOrDefaultAsync(k => k.Id == id, cancellationToken).ConfigureAwait(false)
            : await db.ApiKeys.SingleOrDefaultAsync(k => k.KeyId == idOrKeyId, cancellationToken).ConfigureAwait(false);
        if (key is null)
        {
            return null;
        }

        if (key.RevokedAt is null)
        {
            key.RevokedAt = _clock.GetUtcNow();
            key.RevokedBy = revokedBy;
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        Interlocked.Increment(ref _revocations);
        _cache.TryRemove(key.KeyId, out _);
        _refused[key.KeyId] = _clock.GetUtcNow() + _cacheFor;
        return View(key);
    }

    /// <summary>The key a presented value stands for, or null (malformed, unknown, wrong secret or revoked).</summary>
    internal async ValueTask<ValidKey?> FindAsync(string presented, CancellationToken cancellationToken)
    {
        if (!TryParse(presented, out var keyId, out var secret))
        {
            return null;
        }

        var now = _clock.GetUtcNow();
        if (_refused.TryGetValue(keyId, out var refusedUntil) && refusedUntil > now)
        {
            return null;
        }

        if (!_cache.TryGetValue(keyId, out var entry) || entry.Until <= now)
        {
            var revocations = Interlocked.Read(ref _revocations);
            await using var db = Open();
            var key = await db.ApiKeys.AsNoTracking().SingleOrDefaultAsync(k => k.KeyId == keyId, cancellationToken).ConfigureAwait(false);
            if (key is null || key.RevokedAt is not null)
            {
                if (_refused.Count > 10_000)
                {
                    _refused.Clear();
                }

                _refused[keyId] = now + _cacheFor;
                return null;
            }

            entry = (new ValidKey(key.KeyId, key.Name, key.Scopes.ToHashSet(StringComparer.Ordinal), key.Channel, key.Marketplace), key.SecretHash, now + _cacheFor);
            if (Interlocked.Read(ref _revocations) == revocations)
            {
                _cache[keyId] = entry; // not when a key was revoked meanwhile: this read may predate it
            }
        }

        return CryptographicOperations.FixedTimeEquals(entry.Hash, Hash(secret)) ? entry.Key : null;
    }

    private static bool TryParse(string presented, out string keyId, out string secret)
    {
        keyId = secret = string.Empty;
        if (!presented.StartsWith(Prefix, StringComparison.Ordinal) || presented.Length > 100)
        {
            return false;
        }

        var rest = presented[Prefix.Length..];
        var separator = rest.IndexOf('_', StringComparison.Ordinal);
        if (separator != 16 || rest.Length - separator - 1 < 40)
        {
            return false;
        }

        keyId = rest[..separator];
        secret = rest[(separator + 1)..];
        return keyId.All(char.IsAsciiHexDigitLower);
    }

    private static (string Name, List<string> Scopes, string? Channel, string? Marketplace) Validate(ApiKeyRequest request)
    {
        var errors = new List<ValidationFailure>();
        var name = request.Name?.Trim() ?? string.Empty;
        if (name.Length is 0 or > 100 || name.Any(c => char.IsControl(c) || c is ':' or '/'))
        {
            errors.Add(new ValidationFailure("name", "'name' is required: up to 100 printable characters without ':' or '/' naming the client (several keys may share it while one is rotated)."));
        }

        var scopes = (request.Scopes ?? []).Select(s => s?.Trim() ?? string.Empty).Distinct(StringComparer.Ordinal).ToList();
        if (scopes.Count == 0)
        {
            errors.Add(new ValidationFailure("scopes", $"Name at least one scope: {string.Join(", ", Scopes.All)}."));
        }

        foreach (var unknown in scopes.Where(s => !Scopes.IsKnown(s)))
        {
            errors.Add(new ValidationFailure("scopes", $"'{Printable(unknown)}' is not a scope; the scopes are {string.Join(", ", Scopes.All)}."));
        }

        var channel = string.IsNullOrWhiteSpace(request.Channel) ? null : request.Channel.Trim().ToLowerInvariant();
        if (channel is not null && !Channels.Contains(channel))
        {
            errors.Add(new ValidationFailure("channel", $"'channel' must be one of {string.Join(", ", Channels)}, or absent for a key that is not bound to a channel."));
        }

        var marketplace = string.IsNullOrWhiteSpace(request.Marketplace) ? null : request.Marketplace.Trim();
        if (marketplace is not null && (channel != "marketplace" || marketplace.Length > 50 || marketplace.Any(char.IsControl)))
        {
            errors.Add(new ValidationFailure("marketplace", "'marketplace' binds a key of channel marketplace to one marketplace (up to 50 characters)."));
        }

        if (channel is not null)
        {
            foreach (var scope in scopes.Where(s => Scopes.IsKnown(s) && !Scopes.ChannelBindable.Contains(s)))
            {
                errors.Add(new ValidationFailure("scopes", $"A key bound to a channel may hold only {string.Join(", ", Scopes.ChannelBindable.Order())}; '{scope}' reaches other channels' data."));
            }
        }

        if (errors.Count > 0)
        {
            throw new ValidationException(errors);
        }

        return (name, scopes, channel, marketplace);
    }

    private static string Printable(string value) => new(value.Take(50).Select(c => char.IsControl(c) ? '?' : c).ToArray());

    private static ApiKeyView View(ApiKey k) =>
        new(k.Id, k.KeyId, k.Name, k.Scopes, k.Channel, k.Marketplace, k.CreatedAt, k.CreatedBy, k.RevokedAt, k.RevokedBy);

    private static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
