using Hangfire;
using Mediator;
using Microsoft.Extensions.Logging;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.Jobs;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Orders.Features;

/// <summary>Rejects an order whose pipeline did not finish in time (the compensations follow the committed rejection).</summary>
internal sealed record TimeOutOrder(Guid OrderId) : ICommand<bool>;

/// <summary>Pending orders placed in [From, To) (or before <c>To</c> when <c>From</c> is null) that are due, oldest first.</summary>
internal sealed record FindOverdueOrders(DateTimeOffset? From, DateTimeOffset To, int Limit) : IQuery<IReadOnlyList<Guid>>;

internal sealed class TimeOutOrderHandler(OrdersDbContext db, OrderSettings settings, TimeProvider clock) :
    ICommandHandler<TimeOutOrder, bool>,
    IQueryHandler<FindOverdueOrders, IReadOnlyList<Guid>>
{
    public async ValueTask<bool> Handle(TimeOutOrder command, CancellationToken cancellationToken)
    {
        var order = await db.Orders.SingleOrDefaultAsync(o => o.Id == command.OrderId, cancellationToken);
        var now = clock.GetUtcNow();
        // Due once the pipeline has been still for the step time-out since capture, or since its last
        // change of course (a release from hold, a re-routing).
        if (order is not { Status: OrderStatus.Pending } || (order.PlacedAt > order.UpdatedAt ? order.PlacedAt : order.UpdatedAt) + settings.StepTimeout > now)
        {
            return false;
        }

        var pending = new[] { ("reservation", order.Reservation), ("pricing", order.Pricing), ("payment", order.PaymentStep) }
            .Where(s => s.Item2 == StepState.Pending)
            .Select(s => s.Item1);
        var detail = $"steps still pending: {string.Join(", ", pending)}";
        order.Reject("timeout", detail, now);

        // Inventory releases and Payments voids on the committed rejection.
        db.Publish(new OrderRejected(order.Id, "timeout", detail, now), order.Id.ToString());
        await db.SaveChangesAsync(cancellationToken); // the version check: a step that just finished wins
        return true;
    }

    public async ValueTask<IReadOnlyList<Guid>> Handle(FindOverdueOrders query, CancellationToken cancellationToken)
    {
        var dueBefore = clock.GetUtcNow() - settings.StepTimeout;
        var to = query.To < dueBefore ? query.To : dueBefore;
        return await db.Orders.AsNoTracking()
            .Where(o => o.Status == OrderStatus.Pending && o.PlacedAt < to && o.UpdatedAt < dueBefore && (query.From == null || o.PlacedAt >= query.From))
            .OrderBy(o => o.PlacedAt)
            .Select(o => o.Id)
            .Take(query.Limit)
            .ToListAsync(cancellationToken);
    }
}

/// <summary>
/// The step time-out as Hangfire jobs: one delayed job per second of capture times (the first
/// capture of each second schedules it, see <see cref="DueWindows"/>) rejects the orders of that
/// second still pending when their time is up; a minutely sweep catches anything a crashed process
/// did not schedule.
/// </summary>
internal sealed class OrderTimeoutJob(ISender sender, IBackgroundJobClient jobs, OrderSettings settings, TimeProvider clock, ILogger<OrderTimeoutJob> logger)
{
    public const string SweepJobId = "orders-time-out-pending";

    public static void Schedule(IBackgroundJobClient jobs, DueWindows windows, DateTimeOffset placedAt, TimeSpan timeout)
    {
        if (windows.Claim("orders.step-timeout", placedAt) is { } window)
        {
            ScheduleWindow(jobs, window.From, window.To, timeout);
        }
    }

    private static void ScheduleWindow(IBackgroundJobClient jobs, DateTimeOffset from, DateTimeOffset to, TimeSpan timeout) =>
        jobs.Schedule<OrderTimeoutJob>(job => job.TimeOutWindowAsync(from, to, CancellationToken.None), to + timeout + TimeSpan.FromSeconds(1));

    public async Task TimeOutWindowAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await TimeOutAsync(from, to, cancellationToken);
        if (clock.GetUtcNow() < to + settings.StepTimeout)
        {
            // Hangfire's schedule has whole-second resolution: it ran early, part of the window is not due yet
            ScheduleWindow(jobs, from, to, settings.StepTimeout);
        }
    }

    public Task SweepAsync(CancellationToken cancellationToken) => TimeOutAsync(null, DateTimeOffset.MaxValue, cancellationToken);

    private async Task TimeOutAsync(DateTimeOffset? from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        for (var round = 0; round < 50; round++) // bounded: an order a step keeps winning against is looked at again next time
        {
            var overdue = await sender.Send(new FindOverdueOrders(from, to, 200), cancellationToken);
            foreach (var id in overdue)
            {
                try
                {
                    await sender.Send(new TimeOutOrder(id), cancellationToken);
                }
                catch (DbUpdateConcurrencyException)
                {
                    // a step finished meanwhile: the order is no longer ours to time out
                }
                catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
                {
                    // One order's failure does not hold up the others; it is still overdue, so the next sweep retries it.
                    logger.LogWarning(exception, "Timing out order {OrderId} failed; the next sweep retries it", id);
                }
            }

            if (overdue.Count < 200)
            {
                return;
            }
        }
    }
}
