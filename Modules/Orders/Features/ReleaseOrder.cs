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

/// <summary>Releases an order from its hold; the pipeline goes on to payment.</summary>
internal sealed record ReleaseOrder(Guid OrderId, Caller Caller) : ICommand<OrderView>;

/// <summary>
/// Releases an order from its hold and advances it at once: authorise, confirm (idempotent steps
/// whose answers it needs), then its own commit. A retry after a failed commit gets the same answers.
/// </summary>
internal sealed class ReleaseOrderHandler(OrdersDbContext db, TimeProvider clock, Consumers.OrderPipeline pipeline) : ICommandHandler<ReleaseOrder, OrderView>
{
    public async ValueTask<OrderView> Handle(ReleaseOrder command, CancellationToken cancellationToken)
    {
        var order = OrderAccess.Visible(await db.Orders.SingleOrDefaultAsync(o => o.Id == command.OrderId, cancellationToken), command.OrderId, command.Caller);
        order.ActingAs(command.Caller.Actor);
        if (order.Status != OrderStatus.OnHold)
        {
            throw ProblemException.Conflict(
                "illegal-transition",
                "The order is not on hold",
                $"Order {order.Number} is {order.Status.Kebab()}; only orders on hold can be released.");
        }

        order.ReleaseHold(command.Caller.Actor, clock.GetUtcNow());
        await pipeline.AdvanceAsync(order, cancellationToken); // idempotent steps only: a retry after a failed commit gets the same answers
        await db.SaveChangesAsync(cancellationToken);
        return OrderViews.Of(order);
    }
}
