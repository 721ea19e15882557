using Hangfire;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Orders.Features;

/// <summary>Rejects an order whose pipeline did not finish in time, with compensations.</summary>
internal sealed record TimeOutOrder(Guid OrderId, DateTimeOffset Due) : ICommand<bool>;

internal sealed class TimeOutOrderHandler(OrdersDbContext db, IModuleClient modules, IBackgroundJobClient jobs, TimeProvider clock) : ICommandHandler<TimeOutOrder, bool>
{
    public async ValueTask<bool> Handle(TimeOutOrder command, CancellationToken cancellationToken)
    {
        var order = await db.Orders.SingleOrDefaultAsync(o => o.Id == command.OrderId, cancellationToken);
        if (order is not { Status: OrderStatus.Pending })
        {
            return false;
        }

        var now = clock.GetUtcNow();
        if (command.Due > now)
        {
            OrderTimeoutJob.Schedule(jobs, order.Id, command.Due); // Hangfire may fire up to a second early
            return false;
        }

        var pending = new[] { ("reservation", order.Reservation), ("pricing", order.Pricing), ("payment", order.PaymentStep) }
            .Where(s => s.Item2 == StepState.Pending)
            .Select(s => s.Item1);
        var detail = $"steps still pending: {string.Join(", ", pending)}";
        order.MoveTo(OrderStatus.Rejected, "timeout", detail, now);
        db.Publish(new OrderRejected(order.Id, "timeout", detail, now), order.Id.ToString());
        await db.SaveChangesAsync(cancellationToken); // the version check first: a step that just finished wins
        await modules.SendAsync(new ReleaseReservations(order.Id, "timeout"), cancellationToken);
        await modules.SendAsync(new VoidPayment(order.Id, "timeout"), cancellationToken);
        return true;
    }
}

/// <summary>The delayed Hangfire job behind <see cref="TimeOutOrder"/>.</summary>
internal sealed class OrderTimeoutJob(ISender sender)
{
    public static void Schedule(IBackgroundJobClient jobs, Guid orderId, DateTimeOffset due) =>
        jobs.Schedule<OrderTimeoutJob>(job => job.CheckAsync(orderId, due, CancellationToken.None), due.AddSeconds(1));

    public async Task CheckAsync(Guid orderId, DateTimeOffset due, CancellationToken cancellationToken) =>
        await sender.Send(new TimeOutOrder(orderId, due), cancellationToken);
}
