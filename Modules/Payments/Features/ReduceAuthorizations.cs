using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Payments.Domain;
using OmsModular.Modules.Payments.Persistence;
using OmsModular.Modules.Payments.Providers;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.ModuleApi;
using Polly.Registry;

namespace OmsModular.Modules.Payments.Features;

/// <summary>Lowers the authorisations of orders whose total went down (units cancelled, a change applied or refused) to their new totals.</summary>
internal sealed record ReduceAuthorizationsCommand(IReadOnlyList<TotalLowered> Changes) : ICommand;

/// <summary>
/// An order's total after a change: <paramref name="Amount"/> is what the change took off (refunded when
/// it was captured already), <paramref name="Key"/> names the provider call (<c>reduce-{changeId}</c>,
/// <c>revert-{changeId}</c> for the raise of a refused change).
/// </summary>
internal sealed record TotalLowered(Guid OrderId, Guid ChangeId, decimal Amount, decimal NewTotal, string Reason, bool OrderEnded, string Key)
{
    /// <summary>Gives back what <c>IncreaseAuthorization</c> raised for a refused change (the amount is read from the raise).</summary>
    public bool Revert { get; init; }

    public static TotalLowered Of(OrderLinesCancelled change) => new(change.OrderId, change.ChangeId, change.Amount, change.NewTotal, change.Reason, change.OrderEnded, $"reduce-{change.ChangeId}");

    public static TotalLowered Of(OrderChanged change) =>
        new(change.OrderId, change.ChangeId, Math.Max(0m, change.PreviousTotal - change.NewTotal), change.NewTotal, change.Reason, false, $"reduce-{change.ChangeId}");

    /// <summary>A refused change leaves the order at its total: an authorisation raised for it goes back to that; nothing was captured for it.</summary>
    public static TotalLowered Of(OrderChangeRefused change) => new(change.OrderId, change.ChangeId, 0m, change.Total, $"change refused: {change.Reason}", false, $"revert-{change.ChangeId}") { Revert = true };
}

/// <summary>
/// For each change, the provider is asked to lower the authorisation by what the change took off with
/// the change's key (a repeat after a lost answer or a failed commit reduces nothing
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
            var refunded = 0m;
            if (payments.GetValueOrDefault(change.OrderId) is { Status: PaymentStatus.Captured or PaymentStatus.PartiallyCaptured } captured
                && captured.CapturedAmount > change.NewTotal && change.Amount > 0)
            {
                // Captured beyond what the order now costs (a capture at confirmation, say): what the change
                // took off the total and was captured is given back, never more than is left to refund.
                refunded = await RefundPaymentHandler.RefundExcessAsync(
                    db, provider, pipelines, captured, Math.Min(Math.Min(change.Amount, captured.CapturedAmount - change.NewTotal), captured.CapturedAmount - captured.RefundedAmount),
                    $"change:{change.ChangeId}", $"change {change.ChangeId} ({change.Reason}): the order now costs {change.NewTotal}", clock.GetUtcNow(), cancellationToken);
            }

            var lowered = change;
            if (change.Revert)
            {
                // What the refused change raised, once: by the difference, so a later change's raise stays.
                var raise = await db.AuthorizationIncreases.SingleOrDefaultAsync(i => i.ChangeId == change.ChangeId, cancellationToken);
                if (raise is not { Approved: true, RevertedAt: null })
                {
                    continue;
                }

                raise.RevertedAt = clock.GetUtcNow();
                lowered = change with { Amount = raise.AmountAfter - raise.AmountBefore };
            }

            if (lowered.OrderEnded || payments.GetValueOrDefault(change.OrderId) is not { CanCapture: true } payment || lowered.Amount - refunded <= 0)
            {
                continue;
            }

            // By what the change took off and was not refunded, so reductions, refunds and raises of
            // successive changes add up in whatever order Payments carries them out; never below what is captured.
            var target = Math.Max(payment.CapturedAmount, payment.Amount - (lowered.Amount - refunded));
            if (target >= payment.Amount)
            {
                continue;
            }

            try
            {
                await pipelines.GetPipeline(PaymentsResilience.Provider).ExecuteAsync(
                    async ct => await provider.ReduceAuthorizationAsync(payment.Reauthorizations == 0 ? change.Key : $"{change.Key}-r{payment.Reauthorizations}", payment.ProviderReference!, target - payment.CapturedBeforeReauthorization, payment.Currency, ct),
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
                Amount = payment.Amount - target,
                Currency = payment.Currency,
                ProviderReference = payment.ProviderReference,
                Note = $"change {change.ChangeId} ({change.Reason}): authorised {target}",
                At = clock.GetUtcNow(),
            });
            payment.Amount = target;
            if (payment.CapturedAmount >= payment.Amount)
            {
                payment.Status = PaymentStatus.Captured;
            }
        }

        return Unit.Value;
    }
}
