using Hangfire;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Jobs;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Orders.Features;

/// <summary>Completes up to <paramref name="Limit"/> delivered orders whose return window has closed, oldest delivery first.</summary>
internal sealed record CompleteOrders(int Limit) : ICommand<int>;

/// <summary>
/// A delivered order whose channel's return window (<see cref="OrderSettings.ReturnWindow"/>) has
/// closed becomes <c>completed</c>, with <see cref="OrderCompleted"/> in the same commit. The order
/// row's version guards against a concurrent change (the job runs again).
/// </summary>
internal sealed class CompleteOrdersHandler(OrdersDbContext db, OrderSettings settings, TimeProvider clock) : ICommandHandler<CompleteOrders, int>
{
    public async ValueTask<int> Handle(CompleteOrders command, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var done = 0;
        foreach (var channel in Enum.GetValues<SalesChannel>())
        {
            var closedBefore = now - settings.ReturnWindow(channel.Kebab());
            var due = await db.Orders.AsSplitQuery()
                .Where(o => o.Channel == channel && o.Status == OrderStatus.Delivered && o.DeliveredAt <= closedBefore)
                .OrderBy(o => o.DeliveredAt)
                .Take(command.Limit - done)
                .ToListAsync(cancellationToken);
            foreach (var order in due.Where(o => o.Complete(settings.ReturnWindow(channel.Kebab()), now)))
            {
                db.Publish(new OrderCompleted(order.Id, order.Number, order.DeliveredAt!.Value, now), order.Id.ToString());
            }

            done += due.Count;
            if (done >= command.Limit)
            {
                break;
            }
        }

        return done;
    }
}

/// <summary>The Hangfire jobs that complete delivered orders: one delayed job per second of window ends, and a minutely sweep.</summary>
internal sealed class OrderCompletionJob(ISender sender, IBackgroundJobClient jobs, TimeProvider clock)
{
    public const string SweepJobId = "orders-complete-delivered";

    /// <summary>An order was delivered: a job when its return window closes (one per second of closing times, per process).</summary>
    public static void ScheduleFor(IBackgroundJobClient jobs, DueWindows windows, DateTimeOffset closesAt)
    {
        if (windows.Claim("orders.completion", closesAt) is { } window)
        {
            jobs.Schedule<OrderCompletionJob>(job => job.CompleteByAsync(window.To, CancellationToken.None), window.To.AddSeconds(1));
        }
    }

    public async Task CompleteByAsync(DateTimeOffset to, CancellationToken cancellationToken)
    {
        await SweepAsync(cancellationToken);
        if (clock.GetUtcNow() < to)
        {
            jobs.Schedule<OrderCompletionJob>(job => job.CompleteByAsync(to, CancellationToken.None), to.AddSeconds(1)); // ran early
        }
    }

    public async Task SweepAsync(CancellationToken cancellationToken)
    {
        while (await sender.Send(new CompleteOrders(200), cancellationToken) == 200)
        {
        }
    }
}
