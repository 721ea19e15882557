using System.Collections.Concurrent;

namespace OmsModular.Modules.Payments.Providers;

internal sealed record ProviderAuthorization(bool Approved, string? Reference, string? DeclineReason);

/// <summary>A capture the provider made under an authorisation: its own reference.</summary>
internal sealed record ProviderCapture(string Reference);

/// <summary>The provider refused a capture for good (more than the authorisation has left, an authorisation that is gone).</summary>
internal sealed class CaptureRefusedException(string message) : Exception(message);

/// <summary>A transient provider failure: worth retrying with the same idempotency key.</summary>
internal sealed class ProviderUnavailableException(string message) : Exception(message);

/// <summary>A payment service provider adapter. Every call carries an idempotency key.</summary>
internal interface IPaymentProvider
{
    string Name { get; }

    /// <summary>The payment methods this provider accepts (an order naming another one is refused at capture).</summary>
    IReadOnlySet<string> Methods { get; }

    Task<ProviderAuthorization> AuthorizeAsync(string idempotencyKey, decimal amount, string currency, string token, CancellationToken cancellationToken);

    Task VoidAsync(string idempotencyKey, string reference, CancellationToken cancellationToken);

    /// <summary>Lowers what an authorisation holds to <paramref name="amount"/> (a partial void); a repeated key answers the first reduction.</summary>
    Task ReduceAuthorizationAsync(string idempotencyKey, string authorizationReference, decimal amount, string currency, CancellationToken cancellationToken);

    /// <summary>Gives back part or all of what was captured under an authorisation; a repeated key answers the first refund and never refunds twice.</summary>
    Task<ProviderCapture> RefundAsync(string idempotencyKey, string authorizationReference, decimal amount, string currency, CancellationToken cancellationToken);

    /// <summary>Captures part or all of what an authorisation holds; a repeated key answers the first capture and never captures twice.</summary>
    Task<ProviderCapture> CaptureAsync(string idempotencyKey, string authorizationReference, decimal amount, string currency, CancellationToken cancellationToken);
}

/// <summary>
/// The deterministic sandbox provider, chosen by token: <c>sandbox-approve</c>, <c>sandbox-decline</c>,
/// <c>sandbox-insufficient-funds</c>, <c>sandbox-timeout</c> (authorises, then times out the first
/// answer), <c>sandbox-flaky</c> (unavailable twice, then approves), <c>sandbox-unavailable</c> (never answers),
/// <c>sandbox-lost-answer</c> (authorises, but every answer to that token times out),
/// <c>sandbox-capture-timeout</c> (authorises; each capture under it is made, but its first answer times out),
/// <c>sandbox-refund-timeout</c> (authorises; each refund under it is made, but its first answer times out). Like a real provider it
/// enforces idempotency keys: a repeated key returns the first outcome and never authorises twice (a
/// repeat without the token, as an end asks, gets the first outcome or a decline when there is none).
/// It keeps which authorisations it still holds (authorised and not voided), for tests.
/// </summary>
internal sealed class SandboxPaymentProvider : IPaymentProvider
{
    public IReadOnlySet<string> Methods { get; } = new HashSet<string>(StringComparer.Ordinal) { "card", "paypal", "klarna", "gift-card" };

    private readonly ConcurrentDictionary<string, ProviderAuthorization> _outcomes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _voided = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _tokens = new(StringComparer.Ordinal); // authorisation reference → token
    private readonly ConcurrentDictionary<string, (string Authorization, decimal Amount, ProviderCapture Capture)> _captures = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, decimal> _authorized = new(StringComparer.Ordinal); // reference → amount
    private readonly object _captureLock = new();
    private long _authorizations;
    private long _capturesMade;
    private readonly ConcurrentDictionary<string, (string Authorization, decimal Amount, ProviderCapture Refund)> _refunds = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, decimal> _reductions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _reductionsOf = new(StringComparer.Ordinal);

    public string Name => "sandbox";

    /// <summary>How many authorisations the sandbox has really made (tests prove "never twice").</summary>
    public long Authorizations => Interlocked.Read(ref _authorizations);

    public int CallsFor(string idempotencyKey) => _calls.GetValueOrDefault(idempotencyKey);

    /// <summary>How many captures the sandbox has really made (tests prove "never twice").</summary>
    public long CapturesMade => Interlocked.Read(ref _capturesMade);

    /// <summary>What the sandbox has refunded under the order's authorisation (key <c>auth-{orderId}</c>).</summary>
    public decimal RefundedFor(string authorizationKey) =>
        _outcomes.TryGetValue(authorizationKey, out var outcome) && outcome.Reference is { } reference
            ? _refunds.Values.Where(r => r.Authorization == reference).Sum(r => r.Amount)
            : 0m;

    /// <summary>What the sandbox has captured under the order's authorisation (key <c>auth-{orderId}</c>).</summary>
    public decimal CapturedFor(string authorizationKey) =>
        _outcomes.TryGetValue(authorizationKey, out var outcome) && outcome.Reference is { } reference
            ? _captures.Values.Where(c => c.Authorization == reference).Sum(c => c.Amount)
            : 0m;

    /// <summary>Whether the sandbox holds money for the key: authorised and not voided.</summary>
    public bool Holds(string idempotencyKey) =>
        _outcomes.TryGetValue(idempotencyKey, out var outcome) && outcome.Approved && !_voided.ContainsKey(outcome.Reference!);

    public Task<ProviderAuthorization> AuthorizeAsync(string idempotencyKey, decimal amount, string currency, string token, CancellationToken cancellationToken)
    {
        var call = _calls.AddOrUpdate(idempotencyKey, 1, (_, n) => n + 1);
        if (token == "sandbox-unavailable" || (token == "sandbox-flaky" && call <= 2))
        {
            throw new ProviderUnavailableException("Sandbox: temporarily unavailable.");
        }

        var firstTime = false;
        var outcome = _outcomes.GetOrAdd(idempotencyKey, _ =>
        {
            firstTime = true;
            return token switch
            {
                "sandbox-decline" => new ProviderAuthorization(false, null, "card-declined"),
                "sandbox-insufficient-funds" => new ProviderAuthorization(false, null, "insufficient-funds"),
                _ when token.StartsWith("sandbox-", StringComparison.Ordinal) => new ProviderAuthorization(true, $"sbx_{Guid.NewGuid():N}", null),
                _ => new ProviderAuthorization(false, null, "unknown-token"),
            };
        });
        if (firstTime && outcome.Approved)
        {
            Interlocked.Increment(ref _authorizations);
            _tokens[outcome.Reference!] = token;
            _authorized[outcome.Reference!] = amount;
        }

        if ((token == "sandbox-timeout" && call == 1) || token == "sandbox-lost-answer")
        {
            throw new TimeoutException("Sandbox: the authorisation was made, but the answer timed out.");
        }

        return Task.FromResult(outcome);
    }

    public Task VoidAsync(string idempotencyKey, string reference, CancellationToken cancellationToken)
    {
        _voided[reference] = true;
        return Task.CompletedTask;
    }

    public Task<ProviderCapture> CaptureAsync(string idempotencyKey, string authorizationReference, decimal amount, string currency, CancellationToken cancellationToken)
    {
        var call = _calls.AddOrUpdate(idempotencyKey, 1, (_, n) => n + 1);
        ProviderCapture capture;
        lock (_captureLock)
        {
            if (_captures.TryGetValue(idempotencyKey, out var earlier))
            {
                capture = earlier.Capture;
            }
            else
            {
                if (_voided.ContainsKey(authorizationReference) || !_authorized.TryGetValue(authorizationReference, out var authorized))
                {
                    throw new CaptureRefusedException("Sandbox: no live authorisation to capture under.");
                }

                var captured = _captures.Values.Where(c => c.Authorization == authorizationReference).Sum(c => c.Amount);
                if (amount <= 0 || captured + amount > authorized)
                {
                    throw new CaptureRefusedException($"Sandbox: {amount} {currency} is more than the {authorized - captured} {currency} the authorisation has left.");
                }

                capture = new ProviderCapture($"sbx_cap_{Guid.NewGuid():N}");
                _captures[idempotencyKey] = (authorizationReference, amount, capture);
                Interlocked.Increment(ref _capturesMade);
            }
        }

        if (_tokens.GetValueOrDefault(authorizationReference) == "sandbox-capture-timeout" && call == 1)
        {
            throw new TimeoutException("Sandbox: the capture was made, but the answer timed out.");
        }

        return Task.FromResult(capture);
    }

    public Task<ProviderCapture> RefundAsync(string idempotencyKey, string authorizationReference, decimal amount, string currency, CancellationToken cancellationToken)
    {
        var call = _calls.AddOrUpdate(idempotencyKey, 1, (_, n) => n + 1);
        ProviderCapture refund;
        lock (_captureLock)
        {
            if (_refunds.TryGetValue(idempotencyKey, out var earlier))
            {
                refund = earlier.Refund;
            }
            else
            {
                var captured = _captures.Values.Where(c => c.Authorization == authorizationReference).Sum(c => c.Amount);
                var refunded = _refunds.Values.Where(r => r.Authorization == authorizationReference).Sum(r => r.Amount);
                if (amount <= 0 || refunded + amount > captured)
                {
                    throw new CaptureRefusedException($"Sandbox: {amount} {currency} is more than the {captured - refunded} {currency} captured and not refunded.");
                }

                refund = new ProviderCapture($"sbx_ref_{Guid.NewGuid():N}");
                _refunds[idempotencyKey] = (authorizationReference, amount, refund);
            }
        }

        if (_tokens.GetValueOrDefault(authorizationReference) == "sandbox-refund-timeout" && call == 1)
        {
            throw new TimeoutException("Sandbox: the refund was made, but the answer timed out.");
        }

        return Task.FromResult(refund);
    }

    public Task ReduceAuthorizationAsync(string idempotencyKey, string authorizationReference, decimal amount, string currency, CancellationToken cancellationToken)
    {
        _calls.AddOrUpdate(idempotencyKey, 1, (_, n) => n + 1);
        lock (_captureLock)
        {
            if (_reductions.TryAdd(idempotencyKey, amount))
            {
                var captured = _captures.Values.Where(c => c.Authorization == authorizationReference).Sum(c => c.Amount);
                if (!_authorized.ContainsKey(authorizationReference) || amount < captured)
                {
                    _reductions.TryRemove(idempotencyKey, out _);
                    throw new CaptureRefusedException($"Sandbox: the authorisation cannot go below the {captured} {currency} captured.");
                }

                _authorized[authorizationReference] = amount;
                _reductionsOf.AddOrUpdate(authorizationReference, 1, (_, n) => n + 1);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>How many reductions (distinct keys) the sandbox made of the order's authorisation.</summary>
    public int ReductionsFor(string authorizationKey) =>
        _outcomes.TryGetValue(authorizationKey, out var outcome) && outcome.Reference is { } reference ? _reductionsOf.GetValueOrDefault(reference) : 0;

    /// <summary>What the order's authorisation holds now (key <c>auth-{orderId}</c>).</summary>
    public decimal AuthorizedFor(string authorizationKey) =>
        _outcomes.TryGetValue(authorizationKey, out var outcome) && outcome.Reference is { } reference ? _authorized.GetValueOrDefault(reference) : 0m;
}
