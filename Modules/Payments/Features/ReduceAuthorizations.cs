using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Payments.Domain;
using OmsModular.Modules.Payments.Persistence;
using OmsModular.Modules.Payments.Providers;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.ModuleApi;
using Polly.Registry;

namespace OmsModular.Modules.Payments.Features;

/// <summary>Lowers the authorisations of orders whose units were cancelled to their new totals.</summary>
internal sealed record ReduceAuthorizationsCommand(IReadOnlyList<OrderLinesCancelled> Changes) : ICommand;

/// <summary>
/// For each change, the provider is asked to lower the authorisation to the order's new total with
/// the key <c>reduce-{changeId}</c> (a repeat after a lost answer or a failed commit reduces nothing
/// twice), the payment holds the new amount, and the ledger gets a <c>partial-void</c> of the
/// difference. A change that ends the order is left to the void that follows the order's end. A provider that does not answer is an outage (the consumer pauses and asks again).
/// </summary>
internal sealed class ReduceAuthorizationsHandler(PaymentsDbContext db, IPaymentProvider provider, ResiliencePipelineProvider<string> pipelines, TimeProvider clock)
    : ICommandHandler<ReduceAuthorizationsCommand>
{
    public async ValueTask<Unit> Handle(ReduceAuthorizationsCommand command, CancellationToken cancellationToken)
    {
        var orderIds = command.Changes.Select(c => c.OrderId).Distinct().ToArray();
        await db.LockAsync(orderIds.Select(id => $"order:{id}"), cancellationToken);
        var payments = await db.Payments.Where(p => orderIds.Contains(p.OrderId)).ToDictionaryAsync(p => p.OrderId, cancellationToken);
        foreach (var change in command.Changes)
        {
            if (payments.GetValueOrDefault(change.OrderId) is { Status: PaymentStatus.Captured or PaymentStatus.PartiallyCaptured } captured
                && captured.CapturedAmount > change.NewTotal)
            {
                // Captured beyond what the order now costs (a capture at confirmation): what the cancelled
                // units took off the total is given back, never more than is left to refund.
                await RefundPaymentHandler.RefundExcessAsync(
                    db, provider, pipelines, captured, Math.Min(change.Amount, captured.CapturedAmount - captured.RefundedAmount),
                    $"change:{change.ChangeId}", $"change {change.ChangeId} ({change.Reason}): the order now costs {change.NewTotal}", clock.GetUtcNow(), cancellationToken);
            }

            if (change.OrderEnded || payments.GetValueOrDefault(change.OrderId) is not { CanCapture: true } payment || change.NewTotal >= payment.Amount)
            {
                continue;
            }

            try
            {
                await pipelines.GetPipeline(PaymentsResilience.Provider).ExecuteAsync(
                    async ct => await provider.ReduceAuthorizationAsync(payment.Reauthorizations == 0 ? $"reduce-{change.ChangeId}" : $"reduce-{change.ChangeId}-r{payment.Reauthorizations}", payment.ProviderReference!, change.NewTotal - payment.CapturedBeforeReauthorization, payment.Currency, ct),
                    cancellationToken);
            }
            catch (Exception exception) when (PaymentHandlers.IsUnavailable(exception))
            {
                throw new DependencyUnavailableException($"The payment provider did not answer the reduction {change.ChangeId} of order {change.OrderId}; it is asked again with the same key.", exception);
            }

            db.Ledger.Add(new LedgerEntry
            {
                OrderId = payment.OrderId,
                PaymentId = payment.Id,
                Kind = "partial-void",
                Amount = payment.Amount - change.NewTotal,
                Currency = payment.Currency,
                ProviderReference = payment.ProviderReference,
                Note = $"change {change.ChangeId} ({change.Reason}): authorised {change.NewTotal}",
                At = clock.GetUtcNow(),
            });
            payment.Amount = change.NewTotal;
            if (payment.CapturedAmount >= payment.Amount)
            {
                payment.Status = PaymentStatus.Captured;
            }
        }

        return Unit.Value;
    }
}
