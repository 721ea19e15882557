using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Orders.Features;

internal sealed record LineToCancel([property: JsonRequired] string Sku, [property: JsonRequired] int Quantity);

internal sealed record CancelLinesRequest([property: JsonRequired] IReadOnlyList<LineToCancel> Lines, string? Reason = null);

/// <summary>Cancels units of lines that have not shipped; once per Idempotency-Key (the key names the change).</summary>
internal sealed record CancelLines(Guid OrderId, string IdempotencyKey, CancelLinesRequest Change, Caller? Caller = null) : ICommand<OrderView>;

internal sealed class CancelLinesValidator : AbstractValidator<CancelLines>
{
    public CancelLinesValidator()
    {
        RuleFor(c => c.IdempotencyKey).NotEmpty().MaximumLength(200).OverridePropertyName("Idempotency-Key");
        RuleFor(c => c.Change.Reason).MaximumLength(100).OverridePropertyName("reason");
        RuleFor(c => c.Change.Lines).NotEmpty().OverridePropertyName("lines");
        RuleForEach(c => c.Change.Lines).NotNull().WithMessage("'lines' holds no null entries.").OverridePropertyName("lines");
        RuleForEach(c => c.Change.Lines).ChildRules(line =>
        {
            line.RuleFor(l => l.Sku).NotEmpty().MaximumLength(64).OverridePropertyName("sku");
            line.RuleFor(l => l.Quantity).GreaterThan(0).OverridePropertyName("quantity");
        }).OverridePropertyName("lines");
        RuleFor(c => c.Change.Lines).Must(l => l.Where(x => x is not null).Select(x => x.Sku).Distinct(StringComparer.Ordinal).Count() == l.Count(x => x is not null))
            .When(c => c.Change.Lines is not null).WithMessage("Each SKU is named once.").OverridePropertyName("lines");
    }
}

/// <summary>
/// Cancels units that have not shipped and commits what follows with the order: the customer-visible
/// <see cref="OrderLinesCancelled"/> (Inventory releases the units at their nodes, Fulfillment takes
/// them off the nodes' fulfilment orders, Payments reduces the authorisation to the new total), a
/// last <see cref="CaptureRequested"/> when nothing is left to ship but something shipped, and
/// <see cref="OrderCancelled"/> when every line is cancelled (the order ends). A repeat of the key
/// answers the order as it is now and changes nothing.
/// </summary>
internal sealed class CancelLinesHandler(OrdersDbContext db, TimeProvider clock) : ICommandHandler<CancelLines, OrderView>
{
    public async ValueTask<OrderView> Handle(CancelLines command, CancellationToken cancellationToken)
    {
        var order = OrderAccess.Visible(await db.Orders.AsSplitQuery().SingleOrDefaultAsync(o => o.Id == command.OrderId, cancellationToken), command.OrderId, command.Caller);
        var key = command.Caller?.ScopedKey(command.IdempotencyKey) ?? command.IdempotencyKey;
        var changeId = new Guid(SHA256.HashData(Encoding.UTF8.GetBytes($"cancel-lines:{order.Id}:{key}")).AsSpan(0, 16));
        if (order.Cancellations.Any(c => c.ChangeId == changeId))
        {
            return OrderViews.Of(order);
        }

        order.ActingAs(command.Caller?.Actor);
        var now = clock.GetUtcNow();
        var reason = command.Change.Reason ?? "customer-request";
        Order.LinesCancelled result;
        try
        {
            result = order.CancelLines(changeId, command.Change.Lines.Select(l => (l.Sku, l.Quantity)).ToArray(), reason, now);
        }
        catch (LineChangeException refused)
        {
            throw ProblemException.Conflict(refused.Code, "The lines cannot be cancelled", refused.Message, "lines");
        }
        catch (IllegalTransitionException illegal)
        {
            throw ProblemException.Conflict("illegal-transition", "The order's lines cannot be cancelled now", $"Order {order.Number} is {illegal.From.Kebab()}; lines are cancelled from confirmation until they ship.");
        }

        var partition = order.Id.ToString();
        db.Publish(
            new OrderLinesCancelled(order.Id, order.Number, changeId, result.Lines.Select(l => new CancelledLine(l.Sku, l.Quantity, l.Node)).ToArray(),
                result.Amount, result.NewTotal, order.Currency, reason, order.Status.Kebab(), now),
            partition);
        if (result.OrderEnded)
        {
            db.Publish(new OrderCancelled(order.Id, reason, now), partition);
        }
        else if (result.FinalCapture is > 0m)
        {
            db.Publish(new CaptureRequested(order.Id, changeId, result.FinalCapture.Value, order.Currency, Final: true, now), partition);
        }

        await db.SaveChangesAsync(cancellationToken); // the version check: a concurrent change makes this a 409, not a lost update
        return OrderViews.Of(order);
    }
}
