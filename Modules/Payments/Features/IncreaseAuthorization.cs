using Mediator;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using OmsModular.Modules.Payments.Domain;
using OmsModular.Modules.Payments.Persistence;
using OmsModular.Modules.Payments.Providers;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.ModuleApi;
using Polly.Registry;

namespace OmsModular.Modules.Payments.Features;

internal sealed record IncreaseAuthorizationCommand(Guid OrderId, Guid ChangeId, decimal Amount, decimal NewTotal, string Currency) : ICommand<PaymentAuthorization>;

/// <summary>
/// Raises an order's authorisation by what a change adds to its total, once per change (the outcome is
/// kept in <c>authorization_increases</c> and the provider is asked with <c>increase-{changeId}</c>,
/// so a repeat after a lost answer or a failed commit raises nothing twice):
/// <list type="bullet">
/// <item>a method with incremental authorisation (<see cref="IPaymentProvider.SupportsIncrement"/>) raises
/// the live authorisation to what is left to capture under it;</item>
/// <item>any other, and an authorisation captured in full already (a capture at confirmation), authorises
/// what is left to capture anew, replacing the old authorisation (as a re-authorisation does).</item>
/// </list>
/// Declined: the payment stays as it was and the change must be refused. The ledger gets an
/// <c>increase</c> (or <c>increase-declined</c>) entry.
/// </summary>
internal sealed class IncreaseAuthorizationHandler(PaymentsDbContext db, IPaymentProvider provider, ResiliencePipelineProvider<string> pipelines, TimeProvider clock, ILogger<IncreaseAuthorizationHandler> logger)
    : ICommandHandler<IncreaseAuthorizationCommand, PaymentAuthorization>
{
    public async ValueTask<PaymentAuthorization> Handle(IncreaseAuthorizationCommand command, CancellationToken cancellationToken)
    {
        await db.LockAsync($"order:{command.OrderId}", cancellationToken);
        var payment = await db.Payments.SingleOrDefaultAsync(p => p.OrderId == command.OrderId, cancellationToken);
        if (await db.AuthorizationIncreases.AsNoTracking().SingleOrDefaultAsync(i => i.ChangeId == command.ChangeId, cancellationToken) is { } earlier)
        {
            return new PaymentAuthorization(command.OrderId, earlier.Approved ? PaymentState.Authorized : PaymentState.Declined, payment?.Id, earlier.AmountAfter, command.Currency, earlier.DeclineReason);
        }

        if (payment is null || await db.EndedOrders.AnyAsync(e => e.OrderId == command.OrderId, cancellationToken)
            || payment.Status is not (PaymentStatus.Authorized or PaymentStatus.PartiallyCaptured or PaymentStatus.Captured))
        {
            return new PaymentAuthorization(command.OrderId, PaymentState.OrderEnded, payment?.Id, 0m, command.Currency, null);
        }

        if (command.Amount <= 0)
        {
            return new PaymentAuthorization(command.OrderId, PaymentState.Authorized, payment.Id, payment.Amount, payment.Currency, null);
        }

        var target = payment.Amount + command.Amount; // by the difference: a reduction of an earlier change still to come lowers it by its own

        var key = $"increase-{command.ChangeId}";
        // An authorisation captured in full (a capture at confirmation) is not raised in place: what the change adds is authorised anew.
        var incremental = provider.SupportsIncrement(payment.Method) && payment.Status != PaymentStatus.Captured;
        ProviderAuthorization outcome;
        try
        {
            outcome = await pipelines.GetPipeline(PaymentsResilience.Provider).ExecuteAsync(
                async ct => incremental
                    ? await provider.IncreaseAuthorizationAsync(key, payment.ProviderReference!, target - payment.CapturedBeforeReauthorization, payment.Currency, ct)
                    : await provider.ReauthorizeAsync(key, payment.ProviderReference!, target - payment.CapturedAmount, payment.Currency, ct),
                cancellationToken);
        }
        catch (Exception exception) when (PaymentHandlers.IsUnavailable(exception))
        {
            logger.LogWarning(exception, "The payment provider did not answer the increase for change {ChangeId} of order {OrderId}; it is asked again with the same key", command.ChangeId, command.OrderId);
            return new PaymentAuthorization(command.OrderId, PaymentState.Unavailable, payment.Id, payment.Amount, payment.Currency, null);
        }

        var now = clock.GetUtcNow();
        var before = payment.Amount;
        db.AuthorizationIncreases.Add(new AuthorizationIncrease
        {
            ChangeId = command.ChangeId,
            OrderId = command.OrderId,
            PaymentId = payment.Id,
            Approved = outcome.Approved,
            AmountBefore = before,
            AmountAfter = outcome.Approved ? target : before,
            DeclineReason = outcome.DeclineReason,
            At = now,
        });
        db.Ledger.Add(new LedgerEntry
        {
            OrderId = payment.OrderId,
            PaymentId = payment.Id,
            Kind = outcome.Approved ? "increase" : "increase-declined",
            Amount = command.Amount,
            Currency = payment.Currency,
            ProviderReference = outcome.Approved ? outcome.Reference ?? payment.ProviderReference : payment.ProviderReference,
            Note = outcome.Approved
                ? $"change {command.ChangeId} (order total {command.NewTotal}): authorised {target}{(incremental ? string.Empty : " (a new authorisation replacing the old)")}"
                : $"change {command.ChangeId}: {outcome.DeclineReason}",
            At = now,
        });
        if (!outcome.Approved)
        {
            return new PaymentAuthorization(command.OrderId, PaymentState.Declined, payment.Id, before, payment.Currency, outcome.DeclineReason);
        }

        if (!incremental)
        {
            payment.Reauthorizations++;
            payment.CapturedBeforeReauthorization = payment.CapturedAmount;
            payment.ProviderReference = outcome.Reference;
            payment.AuthorizationExpiresAt = outcome.ExpiresAt ?? payment.AuthorizationExpiresAt;
        }

        payment.Amount = target;
        payment.Status = payment.CapturedAmount > 0 ? PaymentStatus.PartiallyCaptured : PaymentStatus.Authorized;
        return new PaymentAuthorization(command.OrderId, PaymentState.Authorized, payment.Id, payment.Amount, payment.Currency, null);
    }
}

/// <summary>Module API: <see cref="IncreaseAuthorization"/>.</summary>
internal sealed class IncreaseAuthorizationApi(ISender sender) : IModuleRequestHandler<IncreaseAuthorization, PaymentAuthorization>
{
    public async Task<PaymentAuthorization> HandleAsync(IncreaseAuthorization request, CancellationToken cancellationToken) =>
        await sender.Send(new IncreaseAuthorizationCommand(request.OrderId, request.ChangeId, request.Amount, request.NewTotal, request.Currency), cancellationToken);
}
