using System.Collections.Concurrent;
using Microsoft.Extensions.Configuration;

namespace OmsModular.Modules.Payments.Providers;

/// <summary>A provider's answer to an authorisation: approved (its reference, and when it expires) or declined (why).</summary>
internal sealed record ProviderAuthorization(bool Approved, string? Reference, string? DeclineReason, DateTimeOffset? ExpiresAt = null);

/// <summary>
/// How long an authorisation holds before the card network or wallet lets it lapse, per payment
/// method (<c>Oms:Payments:AuthorizationExpiry:{method}</c>): cards 7 days (the common
/// card-not-present window), PayPal 29, Klarna 28, gift cards 365.
/// </summary>
internal sealed class AuthorizationExpiry(IConfiguration configuration)
{
    private static readonly Dictionary<string, TimeSpan> Defaults = new(StringComparer.Ordinal)
    {
        ["card"] = TimeSpan.FromDays(7),
        ["paypal"] = TimeSpan.FromDays(29),
        ["klarna"] = TimeSpan.FromDays(28),
        ["gift-card"] = TimeSpan.FromDays(365),
    };

    public TimeSpan Of(string method) =>
        configuration.GetValue<TimeSpan?>($"Oms:Payments:AuthorizationExpiry:{method}") ?? Defaults.GetValueOrDefault(method, TimeSpan.FromDays(7));

    /// <summary>How long before expiry the uncaptured remainder is re-authorised (<c>Oms:Payments:ReauthorizeBefore</c>, 1 day).</summary>
    public TimeSpan ReauthorizeBefore => configuration.GetValue("Oms:Payments:ReauthorizeBefore", TimeSpan.FromDays(1));
}

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

    Task<ProviderAuthorization> AuthorizeAsync(string idempotencyKey, decimal amount, string currency, string method, string token, CancellationToken cancellationToken);

    /// <summary>
    /// A new authorisation of <paramref name="amount"/> (the uncaptured remainder) on the payment
    /// credential behind <paramref name="previousReference"/>, which it replaces; a repeated key
    /// answers the first outcome and never authorises twice.
    /// </summary>
    Task<ProviderAuthorization> ReauthorizeAsync(string idempotencyKey, string previousReference, decimal amount, string currency, CancellationToken cancellationToken);

    Task VoidAsync(string idempotencyKey, string reference, CancellationToken cancellationToken);

    /// <summary>Whether the method's authorisations can be raised in place (an incremental authorisation); otherwise a raise is a new authorisation.</summary>
    bool SupportsIncrement(string method);

    /// <summary>Raises what an authorisation holds to <paramref name="amount"/> (an incremental authorisation); a repeated key answers the first outcome.</summary>
    Task<ProviderAuthorization> IncreaseAuthorizationAsync(string idempotencyKey, string authorizationReference, decimal amount, string currency, CancellationToken cancellationToken);

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
/// <c>sandbox-refund-timeout</c> (authorises; each refund under it is made, but its first answer times out),
/// <c>sandbox-reauth-decline</c> (authorises; a re-authorisation is declined),
/// <c>sandbox-reauth-decline-once</c> (the first re-authorisation is declined, a later one approved),
/// <c>sandbox-increase-decline</c> (authorises; raising the authorisation for an order change is declined).
/// Cards and PayPal raise an authorisation in place; Klarna and gift cards authorise anew. Authorisations expire
/// after the method's window (<see cref="AuthorizationExpiry"/>); nothing is captured under an expired
/// one, and a re-authorisation replaces one with a new reference and window. Like a real provider it
/// enforces idempotency keys: a repeated key returns the first outcome and never authorises twice (a
/// repeat without the token, as an end asks, gets the first outcome or a decline when there is none).
/// It keeps which authorisations it still holds (authorised and not voided), for tests.
/// </summary>
internal sealed class SandboxPaymentProvider(TimeProvider clock, AuthorizationExpiry expiry) : IPaymentProvider
{
    private readonly ConcurrentDictionary<string, DateTimeOffset> _expires = new(StringComparer.Ordinal); // reference → expiry
    private readonly ConcurrentDictionary<string, string> _root = new(StringComparer.Ordinal); // re-authorisation's reference → the first one
    private readonly ConcurrentDictionary<string, string> _latest = new(StringComparer.Ordinal); // first reference → the live one
    private readonly ConcurrentDictionary<string, string> _methods = new(StringComparer.Ordinal);
    private long _reauthorizations;
    private readonly ConcurrentDictionary<string, bool> _declinedOnce = new(StringComparer.Ordinal);

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

    /// <summary>What the sandbox has refunded under the order's authorisation (key <c>auth-{orderId}</c>) and those that replaced it.</summary>
    public decimal RefundedFor(string authorizationKey) =>
        _outcomes.TryGetValue(authorizationKey, out var outcome) && outcome.Reference is { } reference
            ? _refunds.Values.Where(r => Root(r.Authorization) == reference).Sum(r => r.Amount)
            : 0m;

    /// <summary>What the sandbox has captured under the order's authorisation (key <c>auth-{orderId}</c>) and those that replaced it.</summary>
    public decimal CapturedFor(string authorizationKey) =>
        _outcomes.TryGetValue(authorizationKey, out var outcome) && outcome.Reference is { } reference
            ? _captures.Values.Where(c => Root(c.Authorization) == reference).Sum(c => c.Amount)
            : 0m;

    /// <summary>How many re-authorisations the sandbox has really made (tests prove "never twice").</summary>
    public long Reauthorizations => Interlocked.Read(ref _reauthorizations);

    /// <summary>How many re-authorisations replaced the order's authorisation (key <c>auth-{orderId}</c>).</summary>
    public int ReauthorizationsFor(string authorizationKey) =>
        _outcomes.TryGetValue(authorizationKey, out var outcome) && outcome.Reference is { } reference ? _root.Count(r => r.Value == reference) : 0;

    /// <summary>The live authorisation's reference of the order (key <c>auth-{orderId}</c>): the first, or the re-authorisation that replaced it.</summary>
    public string? LiveReference(string authorizationKey) =>
        _outcomes.TryGetValue(authorizationKey, out var outcome) && outcome.Reference is { } reference ? _latest.GetValueOrDefault(reference) : null;

    /// <summary>Lets an authorisation lapse now, as its window ending would (tests).</summary>
    public void Expire(string reference) => _expires[reference] = clock.GetUtcNow().AddSeconds(-1);

    private string Root(string reference) => _root.GetValueOrDefault(reference, reference);

    public Task<ProviderAuthorization> ReauthorizeAsync(string idempotencyKey, string previousReference, decimal amount, string currency, CancellationToken cancellationToken)
    {
        _calls.AddOrUpdate(idempotencyKey, 1, (_, n) => n + 1);
        lock (_captureLock)
        {
            if (_outcomes.TryGetValue(idempotencyKey, out var earlier))
            {
                return Task.FromResult(earlier);
            }

            if (!_authorized.ContainsKey(previousReference) || _voided.ContainsKey(previousReference))
            {
                return Task.FromResult(_outcomes.GetOrAdd(idempotencyKey, new ProviderAuthorization(false, null, "no-authorisation")));
            }

            var token = _tokens.GetValueOrDefault(previousReference);
            if (token == "sandbox-increase-decline" && idempotencyKey.StartsWith("increase-", StringComparison.Ordinal))
            {
                return Task.FromResult(_outcomes.GetOrAdd(idempotencyKey, new ProviderAuthorization(false, null, "increase-declined")));
            }

            if (token == "sandbox-reauth-decline" || (token == "sandbox-reauth-decline-once" && _declinedOnce.TryAdd(previousReference, true)))
            {
                return Task.FromResult(_outcomes.GetOrAdd(idempotencyKey, new ProviderAuthorization(false, null, "reauthorisation-declined")));
            }

            var reference = $"sbx_{Guid.NewGuid():N}";
            var root = Root(previousReference);
            var method = _methods.GetValueOrDefault(root, "card");
            var expires = clock.GetUtcNow() + expiry.Of(method);
            (_tokens[reference], _authorized[reference], _methods[reference], _expires[reference], _root[reference]) = (token!, amount, method, expires, root);
            _latest[root] = reference;
            _voided[previousReference] = true; // replaced
            Interlocked.Increment(ref _reauthorizations);
            return Task.FromResult(_outcomes.GetOrAdd(idempotencyKey, new ProviderAuthorization(true, reference, null, expires)));
        }
    }

    /// <summary>Whether the sandbox holds money for the key: authorised and not voided.</summary>
    public bool Holds(string idempotencyKey) =>
        _outcomes.TryGetValue(idempotencyKey, out var outcome) && outcome.Approved && !_voided.ContainsKey(_latest.GetValueOrDefault(outcome.Reference!, outcome.Reference!));

    public Task<ProviderAuthorization> AuthorizeAsync(string idempotencyKey, decimal amount, string currency, string method, string token, CancellationToken cancellationToken)
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
            _methods[outcome.Reference!] = method;
            _expires[outcome.Reference!] = clock.GetUtcNow() + expiry.Of(method);
            _latest[outcome.Reference!] = outcome.Reference!;
        }

        if (outcome.Approved)
        {
            outcome = outcome with { ExpiresAt = _expires.GetValueOrDefault(outcome.Reference!) };
        }

        if ((token == "sandbox-timeout" && call == 1) || token == "sandbox-lost-answer")
        {
            throw new TimeoutException("Sandbox: the authorisation was made, but the answer timed out.");
        }

        return Task.FromResult(outcome);
    }

    public bool SupportsIncrement(string method) => method is "card" or "paypal";

    /// <summary>How many incremental authorisations the sandbox has really made (tests prove "never twice").</summary>
    public long Increases => Interlocked.Read(ref _increases);

    private long _increases;

    public Task<ProviderAuthorization> IncreaseAuthorizationAsync(string idempotencyKey, string authorizationReference, decimal amount, string currency, CancellationToken cancellationToken)
    {
        _calls.AddOrUpdate(idempotencyKey, 1, (_, n) => n + 1);
        lock (_captureLock)
        {
            if (_outcomes.TryGetValue(idempotencyKey, out var earlier))
            {
                return Task.FromResult(earlier);
            }

            if (_voided.ContainsKey(authorizationReference) || !_authorized.TryGetValue(authorizationReference, out var holds)
                || (_expires.TryGetValue(authorizationReference, out var expires) && clock.GetUtcNow() >= expires))
            {
                return Task.FromResult(_outcomes.GetOrAdd(idempotencyKey, new ProviderAuthorization(false, null, "no-authorisation")));
            }

            if (_tokens.GetValueOrDefault(authorizationReference) == "sandbox-increase-decline")
            {
                return Task.FromResult(_outcomes.GetOrAdd(idempotencyKey, new ProviderAuthorization(false, null, "increase-declined")));
            }

            if (amount > holds)
            {
                _authorized[authorizationReference] = amount;
                Interlocked.Increment(ref _increases);
            }

            return Task.FromResult(_outcomes.GetOrAdd(idempotencyKey, new ProviderAuthorization(true, authorizationReference, null, _expires.GetValueOrDefault(authorizationReference))));
        }
    }

    public Task VoidAsync(string idempotencyKey, string reference, CancellationToken cancellationToken)
    {
        _voided[reference] = true;
        return Task.CompletedTask;
    }

    /// <summary>While set, every capture is answered as an outage, before anything is made (tests: a capture that lags behind).</summary>
    public bool CapturesUnavailable { get; set; }

    public Task<ProviderCapture> CaptureAsync(string idempotencyKey, string authorizationReference, decimal amount, string currency, CancellationToken cancellationToken)
    {
        if (CapturesUnavailable)
        {
            throw new ProviderUnavailableException("Sandbox: captures are unavailable.");
        }

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

                if (_expires.TryGetValue(authorizationReference, out var expires) && clock.GetUtcNow() >= expires)
                {
                    throw new CaptureRefusedException($"Sandbox: the authorisation expired at {expires:O}.");
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
                var root = Root(authorizationReference); // what was captured under the authorisations it replaced can be refunded too
                var captured = _captures.Values.Where(c => Root(c.Authorization) == root).Sum(c => c.Amount);
                var refunded = _refunds.Values.Where(r => Root(r.Authorization) == root).Sum(r => r.Amount);
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
                if (!_authorized.TryGetValue(authorizationReference, out var holds) || amount < captured || amount > holds)
                {
                    _reductions.TryRemove(idempotencyKey, out _);
                    throw new CaptureRefusedException($"Sandbox: a reduction to {amount} {currency} must stay between the {captured} captured and the {holds} the authorisation holds.");
                }

                _authorized[authorizationReference] = amount;
                _reductionsOf.AddOrUpdate(Root(authorizationReference), 1, (_, n) => n + 1);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>How many reductions (distinct keys) the sandbox made of the order's authorisation.</summary>
    public int ReductionsFor(string authorizationKey) =>
        _outcomes.TryGetValue(authorizationKey, out var outcome) && outcome.Reference is { } reference ? _reductionsOf.GetValueOrDefault(reference) : 0;

    /// <summary>What the order's live authorisation holds now (key <c>auth-{orderId}</c>): the first, or the re-authorisation that replaced it.</summary>
    public decimal LiveAuthorizedFor(string authorizationKey) =>
        LiveReference(authorizationKey) is { } reference ? _authorized.GetValueOrDefault(reference) : 0m;

    /// <summary>What the order's first authorisation holds now (key <c>auth-{orderId}</c>).</summary>
    public decimal AuthorizedFor(string authorizationKey) =>
        _outcomes.TryGetValue(authorizationKey, out var outcome) && outcome.Reference is { } reference ? _authorized.GetValueOrDefault(reference) : 0m;
}
