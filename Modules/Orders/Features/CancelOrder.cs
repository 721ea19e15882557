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

/// <summary>A customer or an operator cancels a pending or on-hold order.</summary>
internal sealed record CancelOrder(Guid OrderId, string Reason, Caller? Caller = null) : ICommand<OrderView>;

internal sealed class CancelOrderValidator : AbstractValidator<CancelOrder>
{
    public CancelOrderValidator() => RuleFor(c => c.Reason).NotEmpty().MaximumLength(100);
}

/// <summary>
/// Cancels the order and commits <see cref="OrderCancelled"/> with it; the compensations follow that
/// commit (Inventory releases, Payments voids, Pricing gives coupon uses back), so a cancel whose
/// commit fails has changed nothing anywhere.
/// </summary>
internal sealed class CancelOrderHandler(OrdersDbContext db, TimeProvider clock) : ICommandHandler<CancelOrder, OrderView>
{
    public async ValueTask<OrderView> Handle(CancelOrder command, CancellationToken cancellationToken)
    {
        var order = OrderAccess.Visible(await db.Orders.SingleOrDefaultAsync(o => o.Id == command.OrderId, cancellationToken), command.OrderId, command.Caller);
        order.ActingAs(command.Caller?.Actor);
        var now = clock.GetUtcNow();
        try
        {
            order.Cancel(command.Reason, "cancel requested", now);
        }
        catch (IllegalTransitionException illegal)
        {
            throw ProblemException.Conflict(
                "illegal-transition",
                "The order cannot be cancelled now",
                $"Order {order.Number} is {illegal.From.Kebab()}; only pending or on-hold orders can be cancelled.");
        }

        // The compensations follow this commit: Inventory releases the stock, Payments voids the
        // authorisation and Pricing gives coupon uses back, each on the committed OrderCancelled.
        db.Publish(new OrderCancelled(order.Id, command.Reason, now), partitionKey: order.Id.ToString());
        await db.SaveChangesAsync(cancellationToken); // the version check: a concurrent step makes this a 409, not a lost update
        return OrderViews.Of(order);
    }
}
