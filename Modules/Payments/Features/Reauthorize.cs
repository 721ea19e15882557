using Mediator;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using OmsModular.Modules.Payments.Domain;
using OmsModular.Modules.Payments.Persistence;
using OmsModular.Modules.Payments.Providers;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;
using Polly.Registry;

namespace OmsModular.Modules.Payments.Features;

/// <summary>The payments with an uncaptured remainder whose authorisation lapses before <paramref name="DueBefore"/>, soonest first.</summary>
internal sealed record FindDueReauthorizations(DateTimeOffset DueBefore, int Limit) : IQuery<IReadOnlyList<Guid>>;

/// <summary>
/// Re-authorises one payment's uncaptured remainder when its authorisation (still) lapses before
/// <paramref name="DueBefore"/>; with <paramref name="ReleaseHold"/>, an operator's retry of one on
/// hold, whenever it lapses.
/// </summary>
internal sealed record ReauthorizePayment(Guid PaymentId, DateTimeOffset DueBefore, bool ReleaseHold = false) : ICommand<bool>;

/// <summary>The payment of an order on hold (404 without a payment, 409 when it is not on hold).</summary>
internal sealed record FindHeldPayment(Guid OrderId) : IQuery<Guid>;

/// <summary>A run: the time it re-authorised up to, how many payments it re-authorised or put on hold, and how many failed (tried again on the next run).</summary>
internal sealed record ReauthorizationRun(DateTimeOffset DueBefore, int Handled, int Failed);

/// <summary>
/// Before an authorisation lapses, the uncaptured remainder is authorised anew under the provider
/// key <c>reauth-{paymentId}-{n}</c> (n: the how-manieth attempt the provider answered), so a retry after the
/// provider answered but this did not commit gets the same new authorisation and never a second.
/// Approved: it replaces the old one (reference, expiry; a <c>reauthorize</c> ledger entry,
/// <see cref="PaymentReauthorized"/>). Declined: the payment is put on hold
/// <c>payment-reauthorisation-failed</c> (a <c>reauthorize-declined</c> entry,
/// <see cref="PaymentReauthorizationFailed"/>, an error in the log for operations) and is not asked again.
/// A provider that does not answer leaves it due for the next run.
/// </summary>
internal sealed class ReauthorizeHandlers(
    PaymentsDbContext db,
    IPaymentProvider provider,
    ResiliencePipelineProvider<string> pipelines,
    TimeProvider clock,
    ILogger<ReauthorizeHandlers> logger) :
    IQueryHandler<FindDueReauthorizations, IReadOnlyList<Guid>>,
    ICommandHandler<ReauthorizePayment, bool>
{
    public async ValueTask<IReadOnlyList<Guid>> Handle(FindDueReauthorizations query, CancellationToken cancellationToken)
    {
        var due = query.DueBefore;
        return await db.Payments.AsNoTracking()
            .Where(p => (p.Status == PaymentStatus.Authorized || p.Status == PaymentStatus.PartiallyCaptured) && p.HoldReason == null
                        && p.AuthorizationExpiresAt != null && p.AuthorizationExpiresAt <= due && p.Amount > p.CapturedAmount)
            .OrderBy(p => p.AuthorizationExpiresAt)
            .Take(query.Limit)
            .Select(p => p.Id)
            .ToListAsync(cancellationToken);
    }

    public async ValueTask<bool> Handle(ReauthorizePayment command, CancellationToken cancellationToken)
    {
        var orderId = await db.Payments.AsNoTracking().Where(p => p.Id == command.PaymentId).Select(p => p.OrderId).SingleAsync(cancellationToken);
        await db.LockAsync($"order:{orderId}", cancellationToken);
        var payment = await db.Payments.SingleAsync(p => p.Id == command.PaymentId, cancellationToken);
        if (!payment.CanCapture || (payment.HoldReason is not null) != command.ReleaseHold || payment.AuthorizationExpiresAt is not { } expires
            || (expires > command.DueBefore && !command.ReleaseHold) || payment.Amount <= payment.CapturedAmount)
        {
            return false; // captured, ended, on hold (or, for a retry, not) or re-authorised meanwhile
        }

        var remainder = payment.Amount - payment.CapturedAmount;
        ProviderAuthorization outcome;
        try
        {
            outcome = await pipelines.GetPipeline(PaymentsResilience.Provider).ExecuteAsync(
                async ct => await provider.ReauthorizeAsync($"reauth-{payment.Id}-{payment.ReauthorizationAttempts + 1}", payment.ProviderReference!, remainder, payment.Currency, ct),
                cancellationToken);
        }
        catch (Exception exception) when (PaymentHandlers.IsUnavailable(exception))
        {
            logger.LogWarning(exception, "The payment provider did not answer the re-authorisation of order {OrderId}; it is asked again on the next run", payment.OrderId);
            return false;
        }

        var now = clock.GetUtcNow();
        payment.ReauthorizationAttempts++; // answered: the next attempt asks under a new key
        if (outcome.Approved)
        {
            payment.HoldReason = null;
            payment.Reauthorizations++;
            payment.CapturedBeforeReauthorization = payment.CapturedAmount;
            payment.ProviderReference = outcome.Reference;
            payment.AuthorizationExpiresAt = outcome.ExpiresAt;
            db.Ledger.Add(new LedgerEntry
            {
                OrderId = payment.OrderId,
                PaymentId = payment.Id,
                Kind = "reauthorize",
                Amount = remainder,
                Currency = payment.Currency,
                ProviderReference = outcome.Reference,
                Note = $"the uncaptured remainder, before the authorisation lapsed at {expires:O}; now until {outcome.ExpiresAt:O}",
                At = now,
            });
            db.Publish(new PaymentReauthorized(payment.Id, payment.OrderId, remainder, payment.Currency, outcome.Reference!, outcome.ExpiresAt ?? expires), payment.OrderId.ToString());
            logger.LogInformation("Re-authorised {Amount} {Currency} of order {OrderId} until {ExpiresAt}", remainder, payment.Currency, payment.OrderId, outcome.ExpiresAt);
            return true;
        }

        payment.HoldReason = "payment-reauthorisation-failed";
        db.Ledger.Add(new LedgerEntry
        {
            OrderId = payment.OrderId,
            PaymentId = payment.Id,
            Kind = "reauthorize-declined",
            Amount = remainder,
            Currency = payment.Currency,
            ProviderReference = payment.ProviderReference,
            Note = $"{outcome.DeclineReason}: the authorisation lapses at {expires:O}",
            At = now,
        });
        db.Publish(new PaymentReauthorizationFailed(payment.Id, payment.OrderId, remainder, payment.Currency, outcome.DeclineReason ?? "declined", expires), payment.OrderId.ToString());
        logger.LogError(
            "Re-authorising {Amount} {Currency} of order {OrderId} was declined ({Reason}); the payment is on hold and its authorisation lapses at {ExpiresAt}: operations must act",
            remainder, payment.Currency, payment.OrderId, outcome.DeclineReason, expires);
        return true;
    }
}

/// <summary>The Hangfire job that re-authorises what lapses within the margin (every hour).</summary>
internal sealed class ReauthorizationJob(ReauthorizationRunner runner)
{
    public const string JobId = "payments-reauthorize";

    public async Task RunAsync(CancellationToken cancellationToken) => await runner.RunAsync(null, cancellationToken);
}

/// <summary>
/// A run over what is due, each payment in its own transaction (a provider call per payment; no
/// lock is held across them). A payment that fails is logged and left for the next run; the rest go on.
/// </summary>
internal sealed class ReauthorizationRunner(ISender sender, AuthorizationExpiry expiry, TimeProvider clock, ILogger<ReauthorizationRunner> logger)
{
    public async Task<ReauthorizationRun> RunAsync(DateTimeOffset? dueBefore, CancellationToken cancellationToken)
    {
        var before = dueBefore ?? clock.GetUtcNow() + expiry.ReauthorizeBefore;
        var (handled, failed) = (0, new HashSet<Guid>());
        while (true)
        {
            var due = (await sender.Send(new FindDueReauthorizations(before, 100 + failed.Count), cancellationToken)).Where(id => !failed.Contains(id)).ToArray();
            var progressed = 0;
            foreach (var paymentId in due)
            {
                try
                {
                    progressed += await sender.Send(new ReauthorizePayment(paymentId, before), cancellationToken) ? 1 : 0;
                }
                catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
                {
                    logger.LogWarning(exception, "Re-authorising payment {PaymentId} failed; it is tried again on the next run", paymentId);
                    failed.Add(paymentId);
                }
            }

            handled += progressed;
            if (due.Length < 100 || progressed == 0)
            {
                return new ReauthorizationRun(before, handled, failed.Count);
            }
        }
    }
}

/// <summary>
/// An operator's retry of a payment on hold (after the customer updated their card, say): asked
/// again under the next key; approved, the hold is lifted (<see cref="PaymentReauthorized"/>: Orders
/// and Fulfillment lift theirs); declined, it stays on hold (and operations are told again).
/// </summary>
internal sealed class FindHeldPaymentHandler(PaymentsDbContext db) : IQueryHandler<FindHeldPayment, Guid>
{
    public async ValueTask<Guid> Handle(FindHeldPayment query, CancellationToken cancellationToken)
    {
        var payment = await db.Payments.AsNoTracking().SingleOrDefaultAsync(p => p.OrderId == query.OrderId, cancellationToken)
            ?? throw ProblemException.NotFound("Payment", $"Order {query.OrderId} has no payment.");
        return payment.HoldReason is null
            ? throw ProblemException.Conflict("payment-not-on-hold", "The payment is not on hold", $"The payment of order {query.OrderId} is {payment.Status.Kebab()} and not on hold.")
            : payment.Id;
    }
}

/// <summary>Module API: the payment's hold as it is now (a consumer of the hold's events reads it, so their order does not matter).</summary>
internal sealed class PaymentHoldApi(PaymentsDbContext db) : OmsModular.Shared.Infrastructure.ModuleApi.IModuleRequestHandler<GetPaymentHold, PaymentHoldState>
{
    public async Task<PaymentHoldState> HandleAsync(GetPaymentHold request, CancellationToken cancellationToken) =>
        new(request.OrderId, await db.Payments.AsNoTracking().Where(p => p.OrderId == request.OrderId).Select(p => p.HoldReason).SingleOrDefaultAsync(cancellationToken));
}
