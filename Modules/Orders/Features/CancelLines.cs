using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
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
/// Asks for units that have not shipped to be cancelled: the request is checked against what Orders
/// knows (open units), recorded on the order and committed with
/// <see cref="LineCancellationRequested"/>; Fulfillment, which knows what the nodes packed and
/// shipped, takes off what it still can and answers, and the order, its total and what follows
/// change then (<see cref="Consumers.OrderShipping"/>). A repeat of the key answers the order as it
/// is now and asks nothing again.
/// </summary>
internal sealed class CancelLinesHandler(OrdersDbContext db, TimeProvider clock) : ICommandHandler<CancelLines, OrderView>
{
    public async ValueTask<OrderView> Handle(CancelLines command, CancellationToken cancellationToken)
    {
        var order = OrderAccess.Visible(await db.Orders.AsSplitQuery().SingleOrDefaultAsync(o => o.Id == command.OrderId, cancellationToken), command.OrderId, command.Caller);
        var key = command.Caller?.ScopedKey(command.IdempotencyKey) ?? command.IdempotencyKey;
        var changeId = new Guid(SHA256.HashData(Encoding.UTF8.GetBytes($"cancel-lines:{order.Id}:{key}")).AsSpan(0, 16));
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(command.Change, MessageSerialization.Options))));
        if (order.CancellationRequests.FirstOrDefault(c => c.ChangeId == changeId) is { } earlier)
        {
            return earlier.RequestHash is null || earlier.RequestHash == hash // requests recorded before the hash was kept answer as they are
                ? OrderViews.Of(order)
                : throw new ProblemException(422, "idempotency-key-reused", "The Idempotency-Key was used for another cancellation", $"A cancellation of order {order.Number}'s units was asked for with this key and other lines or another reason.", "Idempotency-Key");
        }

        order.ActingAs(command.Caller?.Actor);
        var now = clock.GetUtcNow();
        var reason = command.Change.Reason ?? "customer-request";
        var lines = command.Change.Lines.Select(l => (l.Sku, l.Quantity)).ToArray();
        Request(order, changeId, hash, lines, reason, now);
        db.Publish(new LineCancellationRequested(order.Id, changeId, lines.Select(l => new OrderEventLine(l.Sku, l.Quantity)).ToArray(), reason, now), order.Id.ToString());
        await db.SaveChangesAsync(cancellationToken); // the version check: a concurrent change makes this a 409, not a lost update
        return OrderViews.Of(order);
    }

    /// <summary>Records the request on the order, or answers 409 why it cannot be (a change of the order not decided yet, units shipped, the order's state).</summary>
    internal static void Request(Order order, Guid changeId, string requestHash, IReadOnlyList<(string Sku, int Quantity)> lines, string reason, DateTimeOffset now)
    {
        if (order.Changes.Any(c => c.Status == OrderChangeStatus.Requested))
        {
            throw ProblemException.Conflict("change-in-progress", "The lines cannot be cancelled now", $"A change of order {order.Number} is not decided yet; cancel the units when it is.", "lines");
        }

        try
        {
            order.RequestCancellation(changeId, lines, reason, now, requestHash);
        }
        catch (LineChangeException refused)
        {
            throw ProblemException.Conflict(refused.Code, "The lines cannot be cancelled", refused.Message, "lines");
        }
        catch (IllegalTransitionException illegal)
        {
            throw ProblemException.Conflict("illegal-transition", "The order's lines cannot be cancelled now", $"Order {order.Number} is {illegal.From.Kebab()}; lines are cancelled from confirmation until they ship.");
        }
    }
}
