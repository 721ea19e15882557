using Mediator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Npgsql;
using OmsModular.Modules.Payments.Domain;
using OmsModular.Modules.Payments.Persistence;
using OmsModular.Modules.Payments.Providers;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.ModuleApi;
using Polly;
using Polly.Registry;

namespace OmsModular.Modules.Payments.Features;

internal sealed record AuthorizePaymentCommand(Guid OrderId, decimal Amount, string Currency, string Method, string Token) : ICommand<PaymentAuthorization>;

/// <summary>Records that these orders ended (cancelled or rejected) and voids their authorisations; idempotent.</summary>
internal sealed record EndOrdersCommand(IReadOnlyList<(Guid OrderId, string Reason)> Orders) : ICommand;

/// <summary>Authorisations of many orders in one transaction, each answered in its position.</summary>
internal sealed record AuthorizePaymentBatchCommand(IReadOnlyList<AuthorizePaymentCommand> Requests) : ICommand<IReadOnlyList<PaymentAuthorization>>;

internal sealed record GetPaymentLedger(Guid OrderId) : IQuery<PaymentLedgerView>;

internal sealed record PaymentLedgerView(Guid OrderId, string? Status, decimal? Amount, string? Currency, IReadOnlyList<LedgerEntryView> Entries);

internal sealed record LedgerEntryView(string Kind, decimal Amount, string Currency, string? ProviderReference, string? Note, DateTimeOffset At);

internal static class PaymentsResilience
{
    public const string Provider = "payments-provider";
}

internal sealed class PaymentHandlers(
    PaymentsDbContext db,
    IPaymentProvider provider,
    ResiliencePipelineProvider<string> pipelines,
    TimeProvider clock) :
    ICommandHandler<AuthorizePaymentCommand, PaymentAuthorization>,
    ICommandHandler<AuthorizePaymentBatchCommand, IReadOnlyList<PaymentAuthorization>>,
    ICommandHandler<EndOrdersCommand>,
    IQueryHandler<GetPaymentLedger, PaymentLedgerView>
{
    public async ValueTask<IReadOnlyList<PaymentAuthorization>> Handle(AuthorizePaymentBatchCommand command, CancellationToken cancellationToken)
    {
        await db.LockAsync(command.Requests.Select(r => $"order:{r.OrderId}"), cancellationToken); // one round trip, one fixed order
        // Every request of the batch is answered from the orders' existing payments, refused for an
        // order that ended, or authorised once.
        var orderIds = command.Requests.Select(r => r.OrderId).Distinct().ToArray();
        var byOrder = (await db.Payments.AsNoTracking().Where(p => orderIds.Contains(p.OrderId)).ToListAsync(cancellationToken))
            .ToDictionary(p => p.OrderId, Answer);
        var ended = await EndedAsync(orderIds, cancellationToken);
        var results = new List<PaymentAuthorization>(command.Requests.Count);
        foreach (var request in command.Requests)
        {
            if (!byOrder.TryGetValue(request.OrderId, out var result))
            {
                result = ended.Contains(request.OrderId)
                    ? new PaymentAuthorization(request.OrderId, PaymentState.OrderEnded, null, 0m, request.Currency, null)
                    : await AuthorizeNewAsync(request, cancellationToken);
                byOrder[request.OrderId] = result; // a repeated order gets the first answer
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
        PaymentStatus.Authorized => PaymentState.Authorized,
        PaymentStatus.Declined => PaymentState.Declined,
        _ => PaymentState.Voided,
    };

    /// <summary>The orders among these whose end Payments has recorded.</summary>
    private async Task<HashSet<Guid>> EndedAsync(Guid[] orderIds, CancellationToken cancellationToken) =>
        (await db.EndedOrders.AsNoTracking().Where(e => orderIds.Contains(e.OrderId)).Select(e => e.OrderId).ToListAsync(cancellationToken)).ToHashSet();

    /// <summary>Authorises an order that has no payment yet (its lock is held).</summary>
    private async Task<PaymentAuthorization> AuthorizeNewAsync(AuthorizePaymentCommand command, CancellationToken cancellationToken)
    {
        // Retries (same idempotency key), a circuit breaker and a timeout around the provider.
        var key = $"auth-{command.OrderId}";
        var outcome = await pipelines.GetPipeline(PaymentsResilience.Provider).ExecuteAsync(
            async ct => await provider.AuthorizeAsync(key, command.Amount, command.Currency, command.Token, ct),
            cancellationToken);

        var now = clock.GetUtcNow();
        var payment = new Payment
        {
            Id = Guid.CreateVersion7(),
            OrderId = command.OrderId,
            Amount = command.Amount,
            Currency = command.Currency,
            Method = command.Method,
            Provider = provider.Name,
            Status = outcome.Approved ? PaymentStatus.Authorized : PaymentStatus.Declined,
            ProviderReference = outcome.Reference,
            DeclineReason = outcome.DeclineReason,
            CreatedAt = now,
        };
        db.Payments.Add(payment);
        db.Ledger.Add(new LedgerEntry
        {
            OrderId = command.OrderId,
            PaymentId = payment.Id,
            Kind = outcome.Approved ? "authorize" : "decline",
            Amount = command.Amount,
            Currency = command.Currency,
            ProviderReference = outcome.Reference,
            Note = outcome.DeclineReason,
            At = now,
        });
        if (outcome.Approved)
        {
            db.Publish(new PaymentAuthorized(payment.Id, command.OrderId, command.Amount, command.Currency, outcome.Reference!), command.OrderId.ToString());
        }
        else
        {
            db.Publish(new PaymentDeclined(payment.Id, command.OrderId, command.Amount, command.Currency, outcome.DeclineReason!), command.OrderId.ToString());
        }

        return Answer(payment);
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
        var authorized = await db.Payments.Where(p => orderIds.Contains(p.OrderId) && p.Status == PaymentStatus.Authorized).ToDictionaryAsync(p => p.OrderId, cancellationToken);
        var now = clock.GetUtcNow();
        foreach (var (orderId, reason) in command.Orders)
        {
            if (!ended.Add(orderId))
            {
                continue;
            }

            var note = reason.Length > 200 ? reason[..200] : reason;
            db.EndedOrders.Add(new EndedOrder { OrderId = orderId, Reason = note, EndedAt = now });
            if (!authorized.TryGetValue(orderId, out var payment))
            {
                continue;
            }

            await pipelines.GetPipeline(PaymentsResilience.Provider).ExecuteAsync(
                async ct => await provider.VoidAsync($"void-{orderId}", payment.ProviderReference!, ct),
                cancellationToken);
            payment.Status = PaymentStatus.Voided;
            db.Ledger.Add(new LedgerEntry
            {
                OrderId = orderId,
                PaymentId = payment.Id,
                Kind = "void",
                Amount = payment.Amount,
                Currency = payment.Currency,
                ProviderReference = payment.ProviderReference,
                Note = note,
                At = now,
            });
            db.Publish(new PaymentVoided(payment.Id, orderId, reason), orderId.ToString());
        }

        return Unit.Value;
    }

    public async ValueTask<PaymentLedgerView> Handle(GetPaymentLedger query, CancellationToken cancellationToken)
    {
        var payment = await db.Payments.AsNoTracking().SingleOrDefaultAsync(p => p.OrderId == query.OrderId, cancellationToken);
        var entries = await db.Ledger.AsNoTracking().Where(e => e.OrderId == query.OrderId).OrderBy(e => e.Id).ToListAsync(cancellationToken);
        return new PaymentLedgerView(
            query.OrderId,
            payment?.Status.ToString().ToLowerInvariant(),
            payment?.Amount,
            payment?.Currency,
            entries.Select(e => new LedgerEntryView(e.Kind, e.Amount, e.Currency, e.ProviderReference, e.Note, e.At)).ToArray());
    }
}

/// <summary>Module API: Orders authorises through contracts (voids follow the order's end, see <see cref="Consumers.VoidEndedOrders"/>).</summary>
internal sealed class PaymentApi(ISender sender) :
    IModuleRequestHandler<AuthorizePayment, PaymentAuthorization>,
    IModuleRequestHandler<AuthorizePaymentBatch, IReadOnlyList<PaymentAuthorization>>
{
    public async Task<PaymentAuthorization> HandleAsync(AuthorizePayment request, CancellationToken cancellationToken) =>
        await sender.Send(new AuthorizePaymentCommand(request.OrderId, request.Amount, request.Currency, request.Method, request.Token), cancellationToken);

    public async Task<IReadOnlyList<PaymentAuthorization>> HandleAsync(AuthorizePaymentBatch request, CancellationToken cancellationToken) =>
        await sender.Send(
            new AuthorizePaymentBatchCommand(request.Requests.Select(r => new AuthorizePaymentCommand(r.OrderId, r.Amount, r.Currency, r.Method, r.Token)).ToArray()),
            cancellationToken);
}

internal static class PaymentEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapGroup("/api/v1/payments").WithTags("Payments")
            .MapGet("/", async (Guid orderId, ISender sender, CancellationToken ct) => TypedResults.Ok(await sender.Send(new GetPaymentLedger(orderId), ct)))
            .WithName("GetPaymentLedger")
            .WithSummary("The payment of an order and its ledger (authorisations, declines, voids).");
}
