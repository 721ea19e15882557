using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Payments.Domain;
using OmsModular.Modules.Payments.Persistence;
using OmsModular.Modules.Payments.Providers;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Shared.Infrastructure.ReferenceData;
using Polly.Registry;

namespace OmsModular.Modules.Payments.Features;

internal sealed record RefundLine([property: JsonRequired] string Sku, [property: JsonRequired] int Quantity);

/// <summary>A refund of an amount, or of lines (SKU, quantity: their share of the line's gross), with a reason code.</summary>
internal sealed record RefundRequest([property: JsonRequired] Guid OrderId, [property: JsonRequired] string Reason, decimal? Amount = null, IReadOnlyList<RefundLine>? Lines = null, string? Note = null);

internal sealed record RefundPayment(RefundRequest Refund, string IdempotencyKey, Caller? Caller = null) : ICommand<RefundResult>;

internal sealed record RefundResult(RefundView Refund, bool Created);

internal sealed record RefundView(Guid Id, Guid OrderId, string Status, decimal Amount, string Currency, string Reason, string? Note, IReadOnlyList<RefundLine> Lines, string ProviderReference, DateTimeOffset CreatedAt, DateTimeOffset RefundedAt);

/// <summary>The refunds of an order, oldest first.</summary>
internal sealed record ListRefunds(Guid OrderId) : IQuery<IReadOnlyList<RefundView>>;

internal sealed class ListRefundsHandler(PaymentsDbContext db) : IQueryHandler<ListRefunds, IReadOnlyList<RefundView>>
{
    public async ValueTask<IReadOnlyList<RefundView>> Handle(ListRefunds query, CancellationToken cancellationToken) =>
        (await db.Refunds.AsNoTracking().Where(r => r.OrderId == query.OrderId).OrderBy(r => r.RefundedAt).ToListAsync(cancellationToken))
        .Select(RefundPaymentHandler.View).ToArray();
}

internal static class RefundReasons
{
    /// <summary>The reasons a caller may give; Payments itself refunds with <c>cancellation</c> (units cancelled after a capture at confirmation).</summary>
    public static readonly string[] All = ["goodwill", "price-adjustment", "lost-parcel", "damaged", "return", "other"];
}

internal sealed class RefundValidator : AbstractValidator<RefundPayment>
{
    public RefundValidator()
    {
        RuleFor(c => c.IdempotencyKey).NotEmpty().MaximumLength(200).OverridePropertyName("Idempotency-Key");
        RuleFor(c => c.Refund.Reason).Must(r => RefundReasons.All.Contains(r))
            .WithMessage($"'reason' must be one of {string.Join(", ", RefundReasons.All)}.").OverridePropertyName("reason");
        RuleFor(c => c.Refund.Note).MaximumLength(500).OverridePropertyName("note");
        RuleFor(c => c.Refund).Must(r => (r.Amount is null) != (r.Lines is null))
            .WithMessage("A refund names an 'amount' or 'lines', not both.").OverridePropertyName("amount");
        RuleFor(c => c.Refund.Amount).IsAmount().GreaterThan(0m).When(c => c.Refund.Amount is not null).OverridePropertyName("amount");
        RuleFor(c => c.Refund.Lines).NotEmpty().When(c => c.Refund.Lines is not null).OverridePropertyName("lines");
        RuleForEach(c => c.Refund.Lines).NotNull().WithMessage("'lines' holds no null entries.").OverridePropertyName("lines");
        RuleForEach(c => c.Refund.Lines).ChildRules(line =>
        {
            line.RuleFor(l => l.Sku).NotEmpty().MaximumLength(64).OverridePropertyName("sku");
            line.RuleFor(l => l.Quantity).GreaterThan(0).OverridePropertyName("quantity");
        }).OverridePropertyName("lines");
        RuleFor(c => c.Refund.Lines).Must(l => l!.Where(x => x is not null).Select(x => x.Sku).Distinct(StringComparer.Ordinal).Count() == l!.Count(x => x is not null))
            .When(c => c.Refund.Lines is not null).WithMessage("Each SKU is named once.").OverridePropertyName("lines");
    }
}

/// <summary>
/// Refunds part of what was captured for an order, once per Idempotency-Key: the provider is asked
/// with the key <c>refund-{refundId}</c> (the refund id is derived from the key), so a repeat after a
/// lost answer never refunds twice. Never more than captured and not yet refunded (what was not
/// captured is released by voiding, not refunded). A line refund takes the line's gross (its
/// discounts allocated) per unit, for units that have shipped and were not refunded before. When the
/// provider does not answer, nothing is recorded and the answer is 503: the same request again asks
/// the provider with the same key, which answers the refund it made, if it made one.
/// </summary>
internal sealed class RefundPaymentHandler(
    PaymentsDbContext db,
    IPaymentProvider provider,
    ResiliencePipelineProvider<string> pipelines,
    IModuleClient modules,
    TimeProvider clock) : ICommandHandler<RefundPayment, RefundResult>
{
    public async ValueTask<RefundResult> Handle(RefundPayment command, CancellationToken cancellationToken)
    {
        var request = command.Refund;
        var key = command.Caller?.ScopedKey(command.IdempotencyKey) ?? command.IdempotencyKey;
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(request, MessageSerialization.Options))));
        await db.LockAsync($"order:{request.OrderId}", cancellationToken);
        var payment = await db.Payments.SingleOrDefaultAsync(p => p.OrderId == request.OrderId, cancellationToken)
            ?? throw ProblemException.NotFound("Payment", $"Order {request.OrderId} has no payment.");
        var refund = await db.Refunds.SingleOrDefaultAsync(r => r.IdempotencyKey == key, cancellationToken);
        if (refund is not null)
        {
            if (refund.RequestHash != hash)
            {
                throw new ProblemException(422, "idempotency-key-reused", "The Idempotency-Key was used for another refund", $"Refund {refund.Id} was made with this key and other values.", "Idempotency-Key");
            }

            return new RefundResult(View(refund), Created: false);
        }

        {
            var (amount, lines) = await AmountAsync(request, payment, cancellationToken);
            var left = payment.CapturedAmount - payment.RefundedAmount;
            if (amount > left)
            {
                throw ProblemException.Conflict(
                    "refund-exceeds-captured",
                    "The refund is more than was captured",
                    $"{amount} {payment.Currency} asked; {left} {payment.Currency} of the {payment.CapturedAmount} captured is left to refund. What was not captured is released by cancelling the lines, not refunded.",
                    request.Amount is null ? "lines" : "amount");
            }

            refund = new Refund
            {
                Id = new Guid(SHA256.HashData(Encoding.UTF8.GetBytes(key)).AsSpan(0, 16)),
                OrderId = payment.OrderId,
                PaymentId = payment.Id,
                Amount = amount,
                Currency = payment.Currency,
                Reason = request.Reason,
                Note = request.Note,
                Lines = JsonSerializer.Serialize(lines, MessageSerialization.Options),
                ProviderReference = string.Empty,
                IdempotencyKey = key,
                RequestHash = hash,
                Actor = command.Caller?.Actor,
                CreatedAt = clock.GetUtcNow(),
            };
        }

        ProviderCapture answer;
        try
        {
            answer = await pipelines.GetPipeline(PaymentsResilience.Provider).ExecuteAsync(
                async ct => await provider.RefundAsync($"refund-{refund.Id}", payment.ProviderReference!, refund.Amount, refund.Currency, ct),
                cancellationToken);
        }
        catch (Exception exception) when (PaymentHandlers.IsUnavailable(exception))
        {
            throw new DependencyUnavailableException($"The payment provider did not answer refund {refund.Id}; send the same request (same Idempotency-Key) again to complete it.", exception);
        }
        catch (CaptureRefusedException refused)
        {
            throw ProblemException.Conflict("refund-refused", "The payment provider refused the refund", refused.Message);
        }

        Record(db, payment, refund, answer.Reference, clock.GetUtcNow());
        return new RefundResult(View(refund), Created: true);
    }

    /// <summary>Records a refund the provider made: the refund, the payment's refunded total, a <c>refund</c> ledger entry and <see cref="PaymentRefunded"/>, in the caller's commit.</summary>
    internal static void Record(PaymentsDbContext db, Payment payment, Refund refund, string providerReference, DateTimeOffset now)
    {
        refund.ProviderReference = providerReference;
        refund.RefundedAt = now;
        db.Refunds.Add(refund);
        payment.RefundedAmount += refund.Amount;
        db.Ledger.Add(new LedgerEntry
        {
            OrderId = payment.OrderId,
            PaymentId = payment.Id,
            Kind = "refund",
            Amount = refund.Amount,
            Currency = refund.Currency,
            ProviderReference = providerReference,
            Note = $"refund {refund.Id} ({refund.Reason})",
            At = now,
        });
        db.Publish(new PaymentRefunded(refund.Id, payment.Id, payment.OrderId, refund.Amount, payment.RefundedAmount, payment.Currency, refund.Reason, now), payment.OrderId.ToString());
    }

    /// <summary>
    /// Gives back what was captured beyond what the order now costs (units cancelled, or the order
    /// ended, after it was captured at confirmation): a refund with reason <c>cancellation</c>, its id
    /// derived from <paramref name="cause"/> (a change or the order's end), so a redelivery after the
    /// provider refunded but before this committed refunds nothing twice. The payment's lock is held.
    /// </summary>
    /// <returns>What this cause has had refunded (now or before).</returns>
    internal static async Task<decimal> RefundExcessAsync(
        PaymentsDbContext db, IPaymentProvider provider, ResiliencePipelineProvider<string> pipelines, Payment payment, decimal excess, string cause, string note, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var id = new Guid(SHA256.HashData(Encoding.UTF8.GetBytes($"system:{cause}")).AsSpan(0, 16));
        if (await db.Refunds.AsNoTracking().Where(r => r.Id == id).Select(r => (decimal?)r.Amount).SingleOrDefaultAsync(cancellationToken) is { } before)
        {
            return before;
        }

        if (excess <= 0)
        {
            return 0m;
        }

        var refund = new Refund
        {
            Id = id,
            OrderId = payment.OrderId,
            PaymentId = payment.Id,
            Amount = excess,
            Currency = payment.Currency,
            Reason = "cancellation",
            Note = note.Length > 500 ? note[..500] : note,
            Lines = "[]",
            ProviderReference = string.Empty,
            IdempotencyKey = $"system:{cause}",
            RequestHash = "system",
            CreatedAt = now,
        };
        ProviderCapture answer;
        try
        {
            answer = await pipelines.GetPipeline(PaymentsResilience.Provider).ExecuteAsync(
                async ct => await provider.RefundAsync($"refund-{refund.Id}", payment.ProviderReference!, refund.Amount, refund.Currency, ct),
                cancellationToken);
        }
        catch (Exception exception) when (PaymentHandlers.IsUnavailable(exception))
        {
            throw new DependencyUnavailableException($"The payment provider did not answer refund {refund.Id} of order {payment.OrderId}; it is asked again with the same key.", exception);
        }

        Record(db, payment, refund, answer.Reference, now);
        return refund.Amount;
    }

    /// <summary>The amount asked, or the lines' share: gross per unit of units shipped and not refunded before, to the currency's minor unit.</summary>
    private async Task<(decimal Amount, IReadOnlyList<RefundLine> Lines)> AmountAsync(RefundRequest request, Payment payment, CancellationToken cancellationToken)
    {
        if (request.Amount is { } amount)
        {
            var digits = Currencies.MinorUnits(payment.Currency);
            return decimal.Round(amount, digits) == amount
                ? (amount, [])
                : throw new FluentValidation.ValidationException([new FluentValidation.Results.ValidationFailure("amount", $"'amount' has more decimals than {payment.Currency} has ({digits}).")]);
        }

        var order = await modules.SendAsync(new GetOrderLines(request.OrderId), cancellationToken);
        var refunded = (await db.Refunds.AsNoTracking().Where(r => r.OrderId == request.OrderId).Select(r => r.Lines).ToListAsync(cancellationToken))
            .SelectMany(l => JsonSerializer.Deserialize<RefundLine[]>(l, MessageSerialization.Options) ?? [])
            .GroupBy(l => l.Sku, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(l => l.Quantity), StringComparer.Ordinal);
        var total = 0m;
        foreach (var line in request.Lines!)
        {
            var ordered = order.Lines.FirstOrDefault(l => l.Sku == line.Sku)
                ?? throw ProblemException.Conflict("unknown-line", "The order has no such line", $"SKU {line.Sku} is not a line of order {request.OrderId}.", "lines");
            var before = refunded.GetValueOrDefault(line.Sku);
            if (before + line.Quantity > ordered.Shipped)
            {
                throw ProblemException.Conflict("refund-exceeds-shipped", "More units than shipped and not refunded", $"{line.Quantity} × {line.Sku} asked; {ordered.Shipped - before} of {ordered.Quantity} shipped are not refunded yet.", "lines");
            }

            var digits = Currencies.MinorUnits(order.Currency);
            total += Math.Round(ordered.Gross * (before + line.Quantity) / ordered.Quantity, digits, MidpointRounding.AwayFromZero)
                     - Math.Round(ordered.Gross * before / ordered.Quantity, digits, MidpointRounding.AwayFromZero);
        }

        return (total, request.Lines);
    }

    internal static RefundView View(Refund r) => new(
        r.Id, r.OrderId, "refunded", r.Amount, r.Currency, r.Reason, r.Note,
        JsonSerializer.Deserialize<RefundLine[]>(r.Lines, MessageSerialization.Options) ?? [], r.ProviderReference, r.CreatedAt, r.RefundedAt);
}
