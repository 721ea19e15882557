using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Payments.Persistence;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Shared.Infrastructure.Secrets;

namespace OmsModular.Modules.Payments.Features;

/// <summary>The key pair payment tokens are sealed with: the public half for whoever captures orders, the private half only here.</summary>
internal sealed class TokenKey
{
    public required string KeyId { get; init; }

    public required byte[] PublicKey { get; init; }

    public required byte[] PrivateKey { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}

/// <summary>
/// Payment tokens reach Payments sealed (<see cref="SealedBox"/>): Orders seals a token with this
/// module's public key at capture and keeps only the sealed value; Payments opens it to call the
/// provider and stores nothing of it. The key pair is made once, on first use, and kept in
/// <c>payments.token_keys</c>.
/// </summary>
internal sealed class PaymentTokens(IServiceScopeFactory scopes, TimeProvider clock)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, TokenKey> _keys = new(StringComparer.Ordinal);
    private TokenKey? _current;

    public async Task<TokenKey> CurrentAsync(CancellationToken cancellationToken)
    {
        if (_current is { } current)
        {
            return current;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            if (_current is not null)
            {
                return _current;
            }

            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<PaymentsDbContext>();
            var existing = await db.TokenKeys.AsNoTracking().OrderByDescending(k => k.CreatedAt).FirstOrDefaultAsync(cancellationToken);
            if (existing is null)
            {
                // Two processes may both create one: either key works, the newest is the one handed out.
                var (keyId, publicKey, privateKey) = SealedBox.CreateKey();
                existing = new TokenKey { KeyId = keyId, PublicKey = publicKey, PrivateKey = privateKey, CreatedAt = clock.GetUtcNow() };
                db.TokenKeys.Add(existing);
                await db.SaveChangesAsync(cancellationToken);
            }

            _keys[existing.KeyId] = existing;
            return _current = existing;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The plain token, or empty when it cannot be opened (then the order alone is declined).</summary>
    public async Task<string> TryOpenAsync(string sealedToken, Guid orderId, CancellationToken cancellationToken)
    {
        try
        {
            return await OpenAsync(sealedToken, orderId, cancellationToken);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return string.Empty;
        }
        catch (FormatException)
        {
            return string.Empty;
        }
    }

    /// <summary>The plain token of a sealed one (only ever in memory, for the provider call).</summary>
    public async Task<string> OpenAsync(string sealedToken, Guid orderId, CancellationToken cancellationToken)
    {
        if (SealedBox.KeyIdOf(sealedToken) is not { } keyId)
        {
            return sealedToken; // an order captured before tokens were sealed (its row predates the migration)
        }

        if (!_keys.TryGetValue(keyId, out var key))
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<PaymentsDbContext>();
            key = await db.TokenKeys.AsNoTracking().SingleOrDefaultAsync(k => k.KeyId == keyId, cancellationToken)
                  ?? throw new System.Security.Cryptography.CryptographicException($"No payment token key {keyId}.");
            await _gate.WaitAsync(cancellationToken);
            try
            {
                _keys[keyId] = key;
            }
            finally
            {
                _gate.Release();
            }
        }

        return SealedBox.Open(key.PrivateKey, sealedToken, orderId.ToString()); // sealed for this order only
    }
}

internal sealed class PaymentTokenKeyApi(PaymentTokens tokens) : IModuleRequestHandler<GetPaymentTokenKey, PaymentTokenKey>
{
    public async Task<PaymentTokenKey> HandleAsync(GetPaymentTokenKey request, CancellationToken cancellationToken)
    {
        var key = await tokens.CurrentAsync(cancellationToken);
        return new PaymentTokenKey(key.KeyId, key.PublicKey);
    }
}

internal sealed class PaymentMethodsApi(Providers.IPaymentProvider provider) : IModuleRequestHandler<GetPaymentMethods, PaymentMethods>
{
    public Task<PaymentMethods> HandleAsync(GetPaymentMethods request, CancellationToken cancellationToken) =>
        Task.FromResult(new PaymentMethods(provider.Methods.Order(StringComparer.Ordinal).ToArray()));
}
