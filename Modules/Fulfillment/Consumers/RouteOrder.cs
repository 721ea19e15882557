using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Modules.Fulfillment.Routing;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Fulfillment.Consumers;

/// <summary>
/// Plans where a placed order ships from (availability from Inventory through its module API),
/// reserves the lines at the chosen node(s), and records the decision with its explanation. When
/// a reservation fails because stock moved, it re-plans without that node, a bounded number of times.
/// </summary>
internal sealed class RouteOrder(FulfillmentDbContext db, IModuleClient modules, IConfiguration configuration, TimeProvider clock, ILogger<RouteOrder> logger)
    : IIntegrationEventHandler<OrderPlaced>
{
    public async Task HandleAsync(OrderPlaced message, MessageContext context, CancellationToken cancellationToken)
    {
        if (await db.Decisions.AnyAsync(d => d.OrderId == message.OrderId, cancellationToken))
        {
            return; // decided already (a replayed delivery after a partial failure elsewhere)
        }

        // A delivery that reserved and then failed before committing its decision must not leave
        // those reservations behind: start from a clean slate (a no-op the first time).
        await modules.SendAsync(new ReleaseReservations(message.OrderId, "re-plan"), cancellationToken);

        var options = new RoutingOptions(configuration.GetValue("Oms:Fulfillment:MaxSplits", 3), configuration.GetValue("Oms:Fulfillment:ExactSearchNodeLimit", 12));
        var maxAttempts = configuration.GetValue("Oms:Fulfillment:MaxReplans", 3) + 1;
        var lines = message.Lines.Select(l => new RoutingLine(l.Sku, l.Quantity)).ToArray();
        var excluded = new HashSet<string>(StringComparer.Ordinal);
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        RoutingPlan plan = null!;
        for (var attempt = 1; attempt <= maxAttempts; attempt++)
        {
            plan = await PlanAsync(message, lines, excluded, today, options, cancellationToken);
            if (!plan.Success)
            {
                await DecideAsync(message, plan, attempt, excluded, cancellationToken);
                return;
            }

            var failedAt = await ReserveAsync(message.OrderId, plan, cancellationToken)
                           ?? await TakeCapacityAsync(plan, today, cancellationToken);
            if (failedAt is null)
            {
                await DecideAsync(message, plan, attempt, excluded, cancellationToken);
                return;
            }

            logger.LogInformation("Re-planning order {OrderId}: {Node} could not take it (attempt {Attempt})", message.OrderId, failedAt, attempt);
            excluded.Add(failedAt);
            await modules.SendAsync(new ReleaseReservations(message.OrderId, "re-plan"), cancellationToken);
        }

        var exhausted = plan with { Success = false, FailureReason = "out-of-stock", Detail = $"Stock moved under {maxAttempts} plans in a row.", Allocations = [] };
        await DecideAsync(message, exhausted, maxAttempts, excluded, cancellationToken);
    }

    private async Task<RoutingPlan> PlanAsync(OrderPlaced message, RoutingLine[] lines, HashSet<string> excluded, DateOnly today, RoutingOptions options, CancellationToken cancellationToken)
    {
        var nodes = await db.Nodes.AsNoTracking().ToListAsync(cancellationToken);
        var loads = await db.Loads.AsNoTracking().Where(l => l.Day == today).ToDictionaryAsync(l => l.NodeCode, l => l.Orders, cancellationToken);
        var availability = await modules.SendAsync(new GetAvailability(lines.Select(l => l.Sku).ToArray()), cancellationToken);
        var available = availability.Locations.ToDictionary(l => (l.Sku, l.Location), l => l.Available);
        var routingNodes = nodes.Select(n => new RoutingNode(
            n.Code,
            n.Active,
            n.CanShip,
            n.CanPickup,
            n.DailyCapacity > 0 && loads.GetValueOrDefault(n.Code) >= n.DailyCapacity,
            n.Priority,
            n.Latitude,
            n.Longitude)).ToArray();
        var request = new RoutingRequest(
            lines,
            message.Delivery.Method,
            message.Delivery.PickupLocation,
            message.ShippingAddress.Latitude,
            message.ShippingAddress.Longitude,
            excluded);
        return RoutingEngine.Plan(request, routingNodes, available, options);
    }

    /// <summary>Reserves every allocation; returns the node that refused, or null.</summary>
    private async Task<string?> ReserveAsync(Guid orderId, RoutingPlan plan, CancellationToken cancellationToken)
    {
        foreach (var allocation in plan.Allocations)
        {
            var outcome = await modules.SendAsync(
                new ReserveStock(orderId, allocation.Node, allocation.Lines.Select(l => new ReservationLine(l.Sku, l.Quantity)).ToArray()),
                cancellationToken);
            if (!outcome.Reserved)
            {
                return allocation.Node;
            }
        }

        return null;
    }

    /// <summary>Counts the order against each node's daily capacity; returns a node that is full, or null.</summary>
    private async Task<string?> TakeCapacityAsync(RoutingPlan plan, DateOnly today, CancellationToken cancellationToken)
    {
        var capacities = await db.Nodes.AsNoTracking().ToDictionaryAsync(n => n.Code, n => n.DailyCapacity, cancellationToken);
        foreach (var allocation in plan.Allocations)
        {
            await using var take = await db.CreateCommandAsync(
                """
                INSERT INTO fulfillment.node_daily_load AS l (node_code, day, orders) VALUES ($1, $2, 1)
                ON CONFLICT (node_code, day) DO UPDATE SET orders = l.orders + 1
                WHERE $3 = 0 OR l.orders < $3
                RETURNING orders
                """,
                cancellationToken);
            take.Parameters.Add(new NpgsqlParameter<string> { TypedValue = allocation.Node });
            take.Parameters.Add(new NpgsqlParameter<DateOnly> { TypedValue = today });
            take.Parameters.Add(new NpgsqlParameter<int> { TypedValue = capacities.GetValueOrDefault(allocation.Node) });
            if (await take.ExecuteScalarAsync(cancellationToken) is null)
            {
                return allocation.Node;
            }
        }

        return null;
    }

    private Task DecideAsync(OrderPlaced message, RoutingPlan plan, int attempts, IReadOnlySet<string> excluded, CancellationToken cancellationToken)
    {
        var decision = new RoutingDecision
        {
            Id = Guid.CreateVersion7(),
            OrderId = message.OrderId,
            Success = plan.Success,
            FailureReason = plan.FailureReason,
            Strategy = plan.Strategy,
            Attempts = attempts,
            Explanation = JsonSerializer.Serialize(new { plan.Detail, plan.Allocations, plan.Candidates, Excluded = excluded }, MessageSerialization.Options),
            DecidedAt = clock.GetUtcNow(),
        };
        db.Decisions.Add(decision);
        if (plan.Success)
        {
            db.Publish(new OrderRouted(message.OrderId, decision.Id, plan.Allocations), partitionKey: message.OrderId.ToString());
        }
        else
        {
            db.Publish(new OrderRoutingFailed(message.OrderId, decision.Id, plan.FailureReason!, plan.Detail), partitionKey: message.OrderId.ToString());
        }

        return Task.CompletedTask;
    }
}
