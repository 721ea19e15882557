using Mediator;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using OmsModular.Modules.Payments.Domain;
using OmsModular.Modules.Payments.Persistence;
using OmsModular.Modules.Payments.Providers;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.ModuleApi;
using Polly.Registry;

namespace OmsModular.Modules.Payments.Features;

/// <summary>Captures the shares Orders decided are due (one capture per capture id).</summary>
internal sealed record CapturePaymentsCommand(IReadOnlyList<CaptureRequested> Requests) : ICommand;

/// <summary>
/// Captures each requested share under the order's authorisation with the provider key
/// <c>capture-{captureId}</c>, and records it (the capture, the payment's captured total and
/// status, a ledger entry, <see cref="PaymentCaptured"/>) in one commit. A capture id already
/// recorded changes nothing; a provider that captured but whose answer was lost is asked again
/// with the same key and answers the same capture, so a share is never captured twice. A share that
/// would take the captured total above the authorisation is refused before the provider is asked,
/// except a capture at confirmation (capture id = order id) or of what a change added (capture id =
/// the change's), which takes what is left of it (a cancellation overtook it); an order that ended, or whose authorisation was voided, is not captured. A provider
/// that does not answer is an outage (the consumer pauses and tries again); a share the provider
/// refuses, or one for an order without a capturable authorisation, is a failure of that message.
/// </summary>
internal sealed class CapturePaymentsHandler(
    PaymentsDbContext db,
    IPaymentProvider provider,
    ResiliencePipelineProvider<string> pipelines,
    TimeProvider clock,
    ILogger<CapturePaymentsHandler> logger) : ICommandHandler<CapturePaymentsCommand>
{
    public async ValueTask<Unit> Handle(CapturePaymentsCommand command, CancellationToken cancellationToken)
    {
        var orderIds = command.Requests.Select(r => r.OrderId).Distinct().ToArray();
        await db.LockAsync(orderIds.Select(id => $"order:{id}"), cancellationToken);
        var payments = await db.Payments.Where(p => orderIds.Contains(p.OrderId)).ToDictionaryAsync(p => p.OrderId, cancellationToken);
        var captureIds = command.Requests.Select(r => r.CaptureId).ToArray();
        var done = (await db.Captures.AsNoTracking().Where(c => captureIds.Contains(c.Id)).Select(c => c.Id).ToListAsync(cancellationToken)).ToHashSet();
        var ended = (await db.EndedOrders.AsNoTracking().Where(e => orderIds.Contains(e.OrderId)).Select(e => e.OrderId).ToListAsync(cancellationToken)).ToHashSet();
        var raised = (await db.AuthorizationIncreases.AsNoTracking().Where(i => captureIds.Contains(i.ChangeId)).Select(i => i.ChangeId).ToListAsync(cancellationToken)).ToHashSet();
        foreach (var request in command.Requests)
        {
            if (!done.Add(request.CaptureId))
            {
                continue;
            }

            var payment = payments.GetValueOrDefault(request.OrderId);
            if (payment is { Status: PaymentStatus.Voided } || ended.Contains(request.OrderId))
            {
                // The order ended before its capture (a capture at confirmation overtaken by a cancellation of every line): nothing is owed.
                logger.LogInformation("Capture {CaptureId} of order {OrderId} is not made: the order ended", request.CaptureId, request.OrderId);
                continue;
            }

            if (payment is not { CanCapture: true })
            {
                throw new InvalidOperationException($"Order {request.OrderId} has no capturable authorisation (payment {payment?.Status.ToString() ?? "missing"}); capture {request.CaptureId} of {request.Amount} {request.Currency} is not made.");
            }

            // A capture at confirmation, or of what a change added to such an order (capture id = the change's,
            // whose raise Payments made), that a cancellation overtook (the authorisation lowered first) captures what the order costs now.
            var atConfirmation = request.CaptureId == request.OrderId || raised.Contains(request.CaptureId);
            var amount = atConfirmation ? Math.Min(request.Amount, payment.Amount - payment.CapturedAmount) : request.Amount;
            if (amount < request.Amount)
            {
                logger.LogWarning("Capture {CaptureId} of order {OrderId} takes {Amount} of the {Requested} {Currency} asked: a cancellation lowered the authorisation first", request.CaptureId, request.OrderId, amount, request.Amount, request.Currency);
            }

            if (amount <= 0m)
            {
                logger.LogInformation("Capture {CaptureId} of order {OrderId} is not made: nothing is left of the authorisation to capture", request.CaptureId, request.OrderId);
                continue;
            }
            if (payment.CapturedAmount + amount > payment.Amount)
            {
                throw new InvalidOperationException($"Capture {request.CaptureId} of {request.Amount} {request.Currency} would take order {request.OrderId} to {payment.CapturedAmount + request.Amount}, above the {payment.Amount} authorised; it is not made.");
            }

            if (request.Currency != payment.Currency)
            {
                throw new InvalidOperationException($"Capture {request.CaptureId} is in {request.Currency}, the authorisation of order {request.OrderId} in {payment.Currency}.");
            }

            ProviderCapture capture;
            try
            {
                capture = await pipelines.GetPipeline(PaymentsResilience.Provider).ExecuteAsync(
                    async ct => await provider.CaptureAsync($"capture-{request.CaptureId}", payment.ProviderReference!, amount, request.Currency, ct),
                    cancellationToken);
            }
            catch (Exception exception) when (PaymentHandlers.IsUnavailable(exception))
            {
                throw new DependencyUnavailableException($"The payment provider did not answer the capture {request.CaptureId} of order {request.OrderId}; it is asked again with the same key.", exception);
            }

            var now = clock.GetUtcNow();
            payment.CapturedAmount += amount;
            payment.Status = payment.CapturedAmount >= payment.Amount ? PaymentStatus.Captured : PaymentStatus.PartiallyCaptured;
            db.Captures.Add(new Capture
            {
                Id = request.CaptureId,
                PaymentId = payment.Id,
                OrderId = payment.OrderId,
                Amount = amount,
                Currency = request.Currency,
                Final = request.Final,
                ProviderReference = capture.Reference,
                CapturedAt = now,
            });
            db.Ledger.Add(new LedgerEntry
            {
                OrderId = payment.OrderId,
                PaymentId = payment.Id,
                Kind = "capture",
                Amount = amount,
                Currency = request.Currency,
                ProviderReference = capture.Reference,
                Note = $"capture {request.CaptureId}{(request.Final ? " (final)" : string.Empty)}",
                At = now,
            });
            db.Publish(new PaymentCaptured(payment.Id, payment.OrderId, request.CaptureId, amount, payment.CapturedAmount, payment.Currency, capture.Reference), payment.OrderId.ToString());
            logger.LogInformation("Captured {Amount} {Currency} of order {OrderId} ({CaptureId})", amount, request.Currency, payment.OrderId, request.CaptureId);
        }

        return Unit.Value;
    }
}
