using Mediator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Logging;
using Npgsql;
using OmsModular.Modules.Payments.Domain;
using OmsModular.Modules.Payments.Persistence;
using OmsModular.Modules.Payments.Providers;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Shared.Infrastructure.Messaging;
using Polly;
using Polly.Registry;
using OmsModular.Shared.Infrastructure.Access;

namespace OmsModular.Modules.Payments.Features;

internal sealed record AuthorizePaymentCommand(Guid OrderId, decimal Amount, string Currency, string Method, string Token) : ICommand<PaymentAuthorization>;

/// <summary>Records that these orders ended (cancelled or rejected) and voids their authorisations; idempotent.</summary>
internal sealed record EndOrdersCommand(IReadOnlyList<(Guid OrderId, string Reason)> Orders) : ICommand;

/// <summary>Voids up to <paramref name="Limit"/> live payments of ended orders whose void the provider did not answer before.</summary>
internal sealed record RetryVoidsCommand(int Limit) : ICommand<int>;

/// <summary>Authorisations of many orders in one transaction, one answer per order (keyed by its id).</summary>
internal sealed record AuthorizePaymentBatchCommand(IReadOnlyList<AuthorizePaymentCommand> Requests) : ICommand<IReadOnlyList<PaymentAuthorization>>;

internal sealed record GetPaymentLedger(Guid OrderId) : IQuery<PaymentLedgerView>;

/// <summary>
/// An order's payment: the authorised amount, what is captured and refunded of it, what the customer
/// paid in the end (captured − refunded), when the live authorisation lapses, a hold, whether the
/// ledger reconciles (authorised ≥ captured ≥ refunded, and its capture and refund entries add up
/// to those totals), and every ledger entry.
/// </summary>
internal sealed record PaymentLedgerView(
    Guid OrderId,
    string? Status,
    decimal? Amount,
    string? Currency,
    decimal Captured,
    decimal Refunded,
    decimal Paid,
    DateTimeOffset? AuthorizationExpiresAt,
    string? HoldReason,
    bool Reconciles,
    IReadOnlyList<LedgerEntryView> Entries);

internal sealed record LedgerEntryView(string Kind, decimal Amount, string Currency, string? ProviderReference, string? Note, DateTimeOffset At);

internal static class PaymentsResilience
{
    public const string Provider = "payments-provider";
}

internal sealed class PaymentHandlers(
    PaymentsDbContext db,
    IPaymentProvider provider,
    ResiliencePipelineProvider<string> pipelines,
    TimeProvider clock,
    ILogger<PaymentHandlers> logger) :
    ICommandHandler<AuthorizePaymentCommand, PaymentAuthorization>,
    ICommandHandler<AuthorizePaymentBatchCommand, IReadOnlyList<PaymentAuthorization>>,
    ICommandHandler<EndOrdersCommand>,
    ICommandHandler<RetryVoidsCommand, int>,
    IQueryHandler<GetPaymentLedger, PaymentLedgerView>
{
    public async ValueTask<IReadOnlyList<PaymentAuthorization>> Handle(AuthorizePaymentBatchCommand command, CancellationToken cancellationToken)
    {
        await db.LockAsync(command.Requests.Select(r => $"order:{r.OrderId}"), cancellationToken); // one round trip, one fixed order
        // Every request of the batch is answered from the orders' existing payments, refused for an
        // order that ended, or authorised once. One order's provider failure does not undo the
        // others: it is answered unavailable and recorded as unknown, and the batch commits.
        var orderIds = command.Requests.Select(r => r.OrderId).Distinct().ToArray();
        var existing = await db.Payments.Where(p => orderIds.Contains(p.OrderId)).ToDictionaryAsync(p => p.OrderId, cancellationToken);
        var ended = await EndedAsync(orderIds, cancellationToken);
        var answered = new Dictionary<Guid, PaymentAuthorization>();
        var results = new List<PaymentAuthorization>(command.Requests.Count);
        var providerDown = false; // once the provider did not answer, the rest of the batch is not sent to it (each would wait for its own time-outs)
        foreach (var request in command.Requests)
        {
            if (!answered.TryGetValue(request.OrderId, out var result))
            {
                var payment = existing.GetValueOrDefault(request.OrderId);
                result = payment is { Status: not PaymentStatus.Unknown } ? Answer(payment)
                    : ended.Contains(request.OrderId) ? new PaymentAuthorization(request.OrderId, payment is null ? PaymentState.OrderEnded : PaymentState.Unavailable, payment?.Id, 0m, request.Currency, null)
                    : providerDown ? new PaymentAuthorization(request.OrderId, PaymentState.Unavailable, payment?.Id, request.Amount, request.Currency, null)
                    : await AuthorizeAsync(request, payment, cancellationToken);
                providerDown |= result.State == PaymentState.Unavailable && !ended.Contains(request.OrderId);
                answered[request.OrderId] = result; // a repeated order gets the first answer
            }

            results.Add(result);
        }

        return results;
    }

    public async ValueTask<PaymentAuthorization> Handle(AuthorizePaymentCommand command, CancellationToken cancellationToken) =>
        (await Handle(new AuthorizePaymentBatchCommand([command]), cancellationToken))[0];

    /// <summary>The answer an existing payment gives to a repeated authorisation: its state now.</summary>
    private static PaymentAuthorization Answer(Payment payment) =>
        new(payment.OrderId, State(payment.Status), payment.Id, payment.Amount, payment.Currency, payment.DeclineReason);

    private static PaymentState State(PaymentStatus status) => status switch
    {
        PaymentStatus.Authorized or PaymentStatus.PartiallyCaptured or PaymentStatus.Captured => PaymentState.Authorized,
        PaymentStatus.Declined => PaymentState.Declined,
        PaymentStatus.Unknown => PaymentState.Unavailable,
        _ => PaymentState.Voided,
    };

    /// <summary>The provider failures that mean "not reached, or no answer": worth asking again with the same key.</summary>
    internal static bool IsUnavailable(Exception exception) =>
        exception is ProviderUnavailableException or TimeoutException or Polly.Timeout.TimeoutRejectedException or Polly.CircuitBreaker.BrokenCircuitException;

    /// <summary>The orders among these whose end Payments has recorded.</summary>
    private async Task<HashSet<Guid>> EndedAsync(Guid[] orderIds, CancellationToken cancellationToken) =>
        (await db.EndedOrders.AsNoTracking().Where(e => orderIds.Contains(e.OrderId)).Select(e => e.OrderId).ToListAsync(cancellationToken)).ToHashSet();

    /// <summary>
    /// Authorises an order that has no payment yet, or whose outcome is unknown (its lock is held):
    /// the provider is asked with the order's key, so a repeat never authorises twice. When it does
    /// not answer, the payment is recorded as unknown (an end of the order resolves and voids it).
    /// </summary>
    private async Task<PaymentAuthorization> AuthorizeAsync(AuthorizePaymentCommand command, Payment? unknown, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var payment = unknown ?? new Payment
        {
            Id = Guid.CreateVersion7(),
            OrderId = command.OrderId,
            Amount = command.Amount,
            Currency = command.Currency,
            Method = command.Method,
            Provider = provider.Name,
            Status = PaymentStatus.Unknown,
            CreatedAt = now,
        };
        if (unknown is null)
        {
            db.Payments.Add(payment);
        }

        ProviderAuthorization outcome;
        try
        {
            // A token that could not be opened (not sealed for this order, or damaged) is a decline
            // of this order alone; the provider is not asked.
            outcome = command.Token.Length == 0
                ? new ProviderAuthorization(false, null, "token-unreadable")
                : await AskProviderAsync(payment, command.Token, cancellationToken);
        }
        catch (Exception exception) when (IsUnavailable(exception))
        {
            return Answer(payment); // unknown: answered unavailable, asked again on the next request
        }

        Apply(payment, outcome, now);
        return Answer(payment);
    }

    private async Task<ProviderAuthorization> AskProviderAsync(Payment payment, string token, CancellationToken cancellationToken) =>
        await pipelines.GetPipeline(PaymentsResilience.Provider).ExecuteAsync(
            async ct => await provider.AuthorizeAsync($"auth-{payment.OrderId}", payment.Amount, payment.Currency, payment.Method, token, ct),
            cancellationToken);

    /// <summary>Records the provider's answer on a payment whose outcome was unknown: its status, the ledger entry and the event.</summary>
    private void Apply(Payment payment, ProviderAuthorization outcome, DateTimeOffset now)
    {
        payment.Status = outcome.Approved ? PaymentStatus.Authorized : PaymentStatus.Declined;
        payment.ProviderReference = outcome.Reference;
        payment.DeclineReason = outcome.DeclineReason;
        payment.AuthorizationExpiresAt = outcome.ExpiresAt;
        db.Ledger.Add(new LedgerEntry
        {
            OrderId = payment.OrderId,
            PaymentId = payment.Id,
            Kind = outcome.Approved ? "authorize" : "decline",
            Amount = payment.Amount,
            Currency = payment.Currency,
            ProviderReference = outcome.Reference,
            Note = outcome.DeclineReason,
            At = now,
        });
        if (outcome.Approved)
        {
            db.Publish(new PaymentAuthorized(payment.Id, payment.OrderId, payment.Amount, payment.Currency, outcome.Reference!), payment.OrderId.ToString());
        }
        else
        {
            db.Publish(new PaymentDeclined(payment.Id, payment.OrderId, payment.Amount, payment.Currency, outcome.DeclineReason!), payment.OrderId.ToString());
        }
    }

    /// <summary>
    /// Records the orders' end and voids each authorisation still held, with the provider's
    /// idempotency key <c>void-{orderId}</c> (a retry after the provider voided but before this
    /// committed voids nothing twice). Orders that had ended before change nothing.
    /// </summary>
    public async ValueTask<Unit> Handle(EndOrdersCommand command, CancellationToken cancellationToken)
    {
        var orderIds = command.Orders.Select(o => o.OrderId).Distinct().ToArray();
        await db.LockAsync(orderIds.Select(id => $"order:{id}"), cancellationToken);
        var ended = await EndedAsync(orderIds, cancellationToken);
        var live = await db.Payments
            .Where(p => orderIds.Contains(p.OrderId) && (p.Status == PaymentStatus.Authorized || p.Status == PaymentStatus.Unknown))
            .ToDictionaryAsync(p => p.OrderId, cancellationToken);
        var captured = await db.Payments
            .Where(p => orderIds.Contains(p.OrderId) && (p.Status == PaymentStatus.Captured || p.Status == PaymentStatus.PartiallyCaptured) && p.CapturedAmount > p.RefundedAmount)
            .ToDictionaryAsync(p => p.OrderId, cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var (orderId, reason) in command.Orders)
        {
            if (!ended.Add(orderId))
            {
                continue;
            }

            var note = reason.Length > 200 ? reason[..200] : reason;
            db.EndedOrders.Add(new EndedOrder { OrderId = orderId, Reason = note, EndedAt = now });
            if (live.TryGetValue(orderId, out var payment))
            {
                await VoidAsync(payment, note, now, cancellationToken);
            }
            else if (captured.TryGetValue(orderId, out var paid))
            {
                // Captured at confirmation and cancelled before anything shipped: all of it goes back.
                await RefundPaymentHandler.RefundExcessAsync(db, provider, pipelines, paid, paid.CapturedAmount - paid.RefundedAmount, $"end:{orderId}", $"the order ended ({note})", now, cancellationToken);
            }
        }

        return Unit.Value;
    }

    /// <summary>The ended orders whose payment is still live because the provider did not answer the void: voided now if it answers.</summary>
    public async ValueTask<int> Handle(RetryVoidsCommand command, CancellationToken cancellationToken)
    {
        var pending = await db.Payments
            .Where(p => (p.Status == PaymentStatus.Authorized || p.Status == PaymentStatus.Unknown) && db.EndedOrders.Any(e => e.OrderId == p.OrderId))
            .Select(p => p.OrderId)
            .Take(command.Limit)
            .ToListAsync(cancellationToken);
        await db.LockAsync(pending.Select(id => $"order:{id}"), cancellationToken);
        var payments = await db.Payments.Where(p => pending.Contains(p.OrderId)).ToListAsync(cancellationToken);
        var reasons = await db.EndedOrders.Where(e => pending.Contains(e.OrderId)).ToDictionaryAsync(e => e.OrderId, e => e.Reason, cancellationToken);
        var voided = 0;
        foreach (var payment in payments.Where(p => p.Status is PaymentStatus.Authorized or PaymentStatus.Unknown))
        {
            voided += await VoidAsync(payment, reasons[payment.OrderId], clock.GetUtcNow(), cancellationToken) ? 1 : 0;
        }

        return voided;
    }

    /// <summary>
    /// Voids the live payment of an ended order (its lock is held), with the provider key
    /// <c>void-{orderId}</c>. An unknown outcome is resolved first: the provider is asked again with the
    /// order's key (the sandbox answers the first outcome, or declines when it never recorded one; a
    /// real provider's adapter needs a look-up by idempotency key here). When the provider does not
    /// answer, the payment stays as it is and <see cref="RetryVoidsJob"/> tries again; false then.
    /// </summary>
    private async Task<bool> VoidAsync(Payment payment, string note, DateTimeOffset now, CancellationToken cancellationToken)
    {
        try
        {
            if (payment.Status == PaymentStatus.Unknown)
            {
                Apply(payment, await AskProviderAsync(payment, string.Empty, cancellationToken), now);
                if (payment.Status != PaymentStatus.Authorized)
                {
                    return true;
                }
            }

            await pipelines.GetPipeline(PaymentsResilience.Provider).ExecuteAsync(
                async ct => await provider.VoidAsync($"void-{payment.OrderId}", payment.ProviderReference!, ct),
                cancellationToken);
        }
        catch (Exception exception) when (IsUnavailable(exception))
        {
            logger.LogWarning(exception, "The payment provider did not answer the void of order {OrderId}; the retry job tries again", payment.OrderId);
            return false;
        }

        payment.Status = PaymentStatus.Voided;
        db.Ledger.Add(new LedgerEntry
        {
            OrderId = payment.OrderId,
            PaymentId = payment.Id,
            Kind = "void",
            Amount = payment.Amount,
            Currency = payment.Currency,
            ProviderReference = payment.ProviderReference,
            Note = note,
            At = now,
        });
        db.Publish(new PaymentVoided(payment.Id, payment.OrderId, note), payment.OrderId.ToString());
        return true;
    }

    public async ValueTask<PaymentLedgerView> Handle(GetPaymentLedger query, CancellationToken cancellationToken)
    {
        var payment = await db.Payments.AsNoTracking().SingleOrDefaultAsync(p => p.OrderId == query.OrderId, cancellationToken);
        var entries = await db.Ledger.AsNoTracking().Where(e => e.OrderId == query.OrderId).OrderBy(e => e.Id).ToListAsync(cancellationToken);
        var (captured, refunded) = (payment?.CapturedAmount ?? 0m, payment?.RefundedAmount ?? 0m);
        var reconciles = (payment is null || payment.Status is PaymentStatus.Declined or PaymentStatus.Voided or PaymentStatus.Unknown || payment.Amount >= captured)
                         && captured >= refunded
                         && entries.Where(e => e.Kind == "capture").Sum(e => e.Amount) == captured
                         && entries.Where(e => e.Kind == "refund").Sum(e => e.Amount) == refunded;
        return new PaymentLedgerView(
            query.OrderId,
            payment?.Status.Kebab(),
            payment?.Amount,
            payment?.Currency,
            captured,
            refunded,
            captured - refunded,
            payment?.AuthorizationExpiresAt,
            payment?.HoldReason,
            reconciles,
            entries.Select(e => new LedgerEntryView(e.Kind, e.Amount, e.Currency, e.ProviderReference, e.Note, e.At)).ToArray());
    }
}

/// <summary>The minutely job that voids what ended orders still hold when the provider did not answer their void.</summary>
internal sealed class RetryVoidsJob(ISender sender)
{
    public const string JobId = "payments-retry-voids";

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        while (await sender.Send(new RetryVoidsCommand(200), cancellationToken) == 200)
        {
        }
    }
}

/// <summary>Module API: Orders authorises through contracts (voids follow the order's end, see <see cref="Consumers.VoidEndedOrders"/>).</summary>
internal sealed class PaymentApi(ISender sender, PaymentTokens tokens) :
    IModuleRequestHandler<AuthorizePayment, PaymentAuthorization>,
    IModuleRequestHandler<AuthorizePaymentBatch, IReadOnlyList<PaymentAuthorization>>
{
    public async Task<PaymentAuthorization> HandleAsync(AuthorizePayment request, CancellationToken cancellationToken) =>
        await sender.Send(new AuthorizePaymentCommand(request.OrderId, request.Amount, request.Currency, request.Method, await tokens.TryOpenAsync(request.SealedToken, request.OrderId, cancellationToken)), cancellationToken);

    public async Task<IReadOnlyList<PaymentAuthorization>> HandleAsync(AuthorizePaymentBatch request, CancellationToken cancellationToken)
    {
        var commands = new AuthorizePaymentCommand[request.Requests.Count];
        for (var i = 0; i < commands.Length; i++)
        {
            var r = request.Requests[i];
            commands[i] = new AuthorizePaymentCommand(r.OrderId, r.Amount, r.Currency, r.Method, await tokens.TryOpenAsync(r.SealedToken, r.OrderId, cancellationToken));
        }

        return await sender.Send(new AuthorizePaymentBatchCommand(commands), cancellationToken);
    }
}

internal static class PaymentEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/v1/payments").WithTags("Payments");
        group.MapGet("/", async (Guid orderId, ISender sender, CancellationToken ct) => TypedResults.Ok(await sender.Send(new GetPaymentLedger(orderId), ct)))
            .WithName("GetPaymentLedger")
            .RequireScope(Scopes.PaymentsRead)
            .WithSummary("The payment of an order, what is captured and refunded of it, and its ledger (authorisations, declines, captures, refunds, voids).");
        group.MapPost("/reauthorizations", async (DateTimeOffset? dueBefore, ReauthorizationRunner runner, CancellationToken ct) =>
                TypedResults.Ok(await runner.RunAsync(dueBefore, ct)))
            .WithName("ReauthorizeDue")
            .RequireScope(Scopes.PaymentsWrite)
            .WithSummary("Re-authorises now the uncaptured remainder of every payment whose authorisation lapses before dueBefore (default: within the margin, as the hourly job does); a declined one goes on hold payment-reauthorisation-failed.");
        group.MapPost("/{orderId:guid}/reauthorize", async (Guid orderId, ISender sender, TimeProvider clock, CancellationToken ct) =>
            {
                var paymentId = await sender.Send(new FindHeldPayment(orderId), ct);
                await sender.Send(new ReauthorizePayment(paymentId, clock.GetUtcNow(), ReleaseHold: true), ct);
                return TypedResults.Ok(await sender.Send(new GetPaymentLedger(orderId), ct));
            })
            .WithName("RetryReauthorization")
            .RequireScope(Scopes.PaymentsWrite)
            .WithSummary("Asks the provider again to re-authorise the uncaptured remainder of a payment on hold; approved, the hold is lifted (Orders and Fulfillment lift theirs), declined, it stays on hold.");
        group.MapPost("/refunds", async (RefundRequest body, [Microsoft.AspNetCore.Mvc.FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, Caller caller, ISender sender, CancellationToken ct) =>
            {
                var result = await sender.Send(new RefundPayment(body, idempotencyKey ?? string.Empty, caller), ct);
                return result.Created ? Results.Created($"/api/v1/payments/refunds?orderId={result.Refund.OrderId}", result.Refund) : Results.Ok(result.Refund);
            })
            .Produces<RefundView>(StatusCodes.Status201Created)
            .Produces<RefundView>()
            .WithName("RefundPayment")
            .RequireScope(Scopes.PaymentsWrite)
            .WithSummary("Refunds an amount, or lines (their share of the line's gross, shipped units only), with a reason code; never more than captured. Requires an Idempotency-Key; a repeat answers the same refund.");
        group.MapGet("/refunds", async (Guid orderId, ISender sender, CancellationToken ct) => TypedResults.Ok(await sender.Send(new ListRefunds(orderId), ct)))
            .WithName("ListRefunds")
            .RequireScope(Scopes.PaymentsRead)
            .WithSummary("The refunds of an order.");
    }
}
