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
/// Plans where placed orders ship from (availability from Inventory through its module API),
/// reserves the lines at the chosen node(s), and records each decision with its explanation. When
/// a reservation fails because stock moved, it re-plans without that node, a bounded number of times.
/// It works on the orders of an inbox batch together: one availability request, one reservation
/// request and the nodes' daily loads locked once per round, planned one order after another
/// against what the earlier orders of the batch took (stock and capacity), so a batch does not
/// plan two orders onto the same last unit.
/// </summary>
internal sealed class RouteOrder(FulfillmentDbContext db, IModuleClient modules, IConfiguration configuration, TimeProvider clock, ILogger<RouteOrder> logger)
    : IIntegrationEventBatchHandler<OrderPlaced>, IIntegrationEventBatchHandler<OrderReroutingRequested>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderPlaced>> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.Message.OrderId).Distinct().ToArray();
        var seen = (await db.Decisions.Where(d => ids.Contains(d.OrderId)).Select(d => d.OrderId).ToListAsync(cancellationToken)).ToHashSet();
        var work = batch.Where(d => seen.Add(d.Message.OrderId)) // decided already: a replayed delivery
            .Select(d => new Routing(d.Message.OrderId, d.Message.Lines, d.Message.ShippingAddress, d.Message.Delivery, [], d.Enter))
            .ToList();
        await RouteAsync(work, cancellationToken);
    }

    /// <summary>Routes an order again whose stock was lost (the inbox makes each request take effect once).</summary>
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderReroutingRequested>> batch, CancellationToken cancellationToken) =>
        await RouteAsync(
            batch.DistinctBy(d => d.Message.OrderId)
                .Select(d => new Routing(d.Message.OrderId, d.Message.Lines, d.Message.ShippingAddress, d.Message.Delivery, d.Message.ExcludedNodes, d.Enter))
                .ToList(),
            cancellationToken);

    private async Task RouteAsync(List<Routing> work, CancellationToken cancellationToken)
    {
        if (work.Count == 0)
        {
            return;
        }

        // A delivery that reserved and then failed before committing its decision must not leave
        // those reservations behind: start from a clean slate (a no-op the first time).
        await ReleaseAsync(work, cancellationToken);

        var options = new RoutingOptions(configuration.GetValue("Oms:Fulfillment:MaxSplits", 3), configuration.GetValue("Oms:Fulfillment:ExactSearchNodeLimit", 12));
        var maxAttempts = configuration.GetValue("Oms:Fulfillment:MaxReplans", 3) + 1;
        var today = DateOnly.FromDateTime(clock.GetUtcNow().UtcDateTime);
        var nodes = await db.Nodes.AsNoTracking().OrderBy(n => n.Code).ToListAsync(cancellationToken);
        var loads = await LockLoadsAsync(nodes, today, cancellationToken);
        var loadsBefore = new Dictionary<string, int>(loads);
        var pending = work;
        for (var attempt = 1; attempt <= maxAttempts && pending.Count > 0; attempt++)
        {
            var skus = pending.SelectMany(w => w.Lines.Select(l => l.Sku)).Distinct().ToArray();
            var availability = await modules.SendAsync(new GetAvailability(skus), cancellationToken);
            var available = availability.Locations.ToDictionary(l => (l.Sku, l.Location), l => l.Available);
            var planned = new List<Routing>(pending.Count);
            foreach (var routing in pending)
            {
                routing.Attempts = attempt;
                routing.Plan = Plan(routing, nodes, loads, available, options);
                if (!routing.Plan.Success)
                {
                    Decide(routing, routing.Plan);
                    continue;
                }

                Take(routing.Plan, loads, available, +1);
                planned.Add(routing);
            }

            if (planned.Count == 0)
            {
                pending = [];
                break;
            }

            var requests = planned.SelectMany(r => r.Plan!.Allocations.Select(a => (Routing: r, Request: new ReserveStock(r.OrderId, a.Node, a.Lines.Select(l => new ReservationLine(l.Sku, l.Quantity)).ToArray())))).ToArray();
            var outcomes = await modules.SendAsync(new ReserveStockBatch(requests.Select(r => r.Request).ToArray()), cancellationToken);
            var answers = outcomes.ToDictionary(o => (o.OrderId, o.Location));
            var refusedAt = new Dictionary<Routing, string>();
            var ended = new HashSet<Routing>();
            foreach (var (routing, request) in requests)
            {
                switch (answers[(request.OrderId, request.Location)].State)
                {
                    case ReservationState.Held:
                        break;
                    case ReservationState.OrderEnded:
                        ended.Add(routing);
                        break;
                    default:
                        refusedAt.TryAdd(routing, request.Location);
                        break;
                }
            }

            var retry = new List<Routing>();
            foreach (var routing in planned)
            {
                if (ended.Contains(routing))
                {
                    // The order was cancelled or rejected meanwhile: Inventory holds nothing for it and never will.
                    Take(routing.Plan!, loads, available: null, -1);
                    Decide(routing, routing.Plan! with { Success = false, FailureReason = "order-ended", Detail = "The order ended before its stock was reserved.", Allocations = [] });
                    continue;
                }

                if (!refusedAt.TryGetValue(routing, out var node))
                {
                    Decide(routing, routing.Plan!);
                    continue;
                }

                logger.LogInformation("Re-planning order {OrderId}: {Node} could not take it (attempt {Attempt})", routing.OrderId, node, attempt);
                Take(routing.Plan!, loads, available: null, -1);
                routing.Excluded.Add(node);
                retry.Add(routing);
            }

            // Whatever the refused orders did reserve elsewhere is given back before they are planned again.
            await ReleaseAsync(retry, cancellationToken);
            pending = retry;
        }

        foreach (var routing in pending)
        {
            var exhausted = routing.Plan! with { Success = false, FailureReason = "out-of-stock", Detail = $"Stock moved under {maxAttempts} plans in a row.", Allocations = [] };
            Decide(routing, exhausted);
        }

        await SaveLoadsAsync(loads, loadsBefore, today, cancellationToken);
    }

    private Task ReleaseAsync(IReadOnlyList<Routing> work, CancellationToken cancellationToken) =>
        work.Count == 0
            ? Task.CompletedTask
            : modules.SendAsync(new ReleaseReservationsBatch(work.Select(w => new ReleaseReservations(w.OrderId, "re-plan")).ToArray()), cancellationToken);

    private static RoutingPlan Plan(Routing routing, IReadOnlyList<Node> nodes, IReadOnlyDictionary<string, int> loads, IReadOnlyDictionary<(string, string), int> available, RoutingOptions options)
    {
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
            routing.Lines,
            routing.Delivery.Method,
            routing.Delivery.PickupLocation,
            routing.Address.Latitude,
            routing.Address.Longitude,
            routing.Excluded);
        return RoutingEngine.Plan(request, routingNodes, available, options);
    }

    /// <summary>Counts a plan against the nodes' loads and (when given) the stock the batch still sees as available.</summary>
    private static void Take(RoutingPlan plan, Dictionary<string, int> loads, Dictionary<(string Sku, string Location), int>? available, int sign)
    {
        foreach (var allocation in plan.Allocations)
        {
            loads[allocation.Node] = loads.GetValueOrDefault(allocation.Node) + sign;
            if (available is null)
            {
                continue;
            }

            foreach (var line in allocation.Lines)
            {
                available[(line.Sku, allocation.Node)] = available.GetValueOrDefault((line.Sku, allocation.Node)) - (sign * line.Quantity);
            }
        }
    }

    /// <summary>
    /// Today's order count of every node, locked for this transaction (in node order, so batches do
    /// not deadlock): the counts stay exact while the batch plans against them.
    /// </summary>
    private async Task<Dictionary<string, int>> LockLoadsAsync(IReadOnlyList<Node> nodes, DateOnly today, CancellationToken cancellationToken)
    {
        await using (var insert = await db.CreateCommandAsync(
            "INSERT INTO fulfillment.node_daily_load (node_code, day, orders) SELECT unnest($1::text[]), $2, 0 ON CONFLICT (node_code, day) DO NOTHING",
            cancellationToken))
        {
            insert.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = nodes.Select(n => n.Code).ToArray() });
            insert.Parameters.Add(new NpgsqlParameter<DateOnly> { TypedValue = today });
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var select = await db.CreateCommandAsync(
            "SELECT node_code, orders FROM fulfillment.node_daily_load WHERE day = $1 ORDER BY node_code FOR UPDATE",
            cancellationToken);
        select.Parameters.Add(new NpgsqlParameter<DateOnly> { TypedValue = today });
        var loads = new Dictionary<string, int>(StringComparer.Ordinal);
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            loads[reader.GetString(0)] = reader.GetInt32(1);
        }

        return loads;
    }

    private async Task SaveLoadsAsync(Dictionary<string, int> loads, Dictionary<string, int> before, DateOnly today, CancellationToken cancellationToken)
    {
        var changed = loads.Where(l => before.GetValueOrDefault(l.Key) != l.Value).ToArray();
        if (changed.Length == 0)
        {
            return;
        }

        await using var update = await db.CreateCommandAsync(
            """
            INSERT INTO fulfillment.node_daily_load AS l (node_code, day, orders)
            SELECT node, $3, orders FROM unnest($1::text[], $2::int[]) AS v(node, orders)
            ON CONFLICT (node_code, day) DO UPDATE SET orders = excluded.orders
            """,
            cancellationToken);
        update.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = changed.Select(c => c.Key).ToArray() });
        update.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = changed.Select(c => c.Value).ToArray() });
        update.Parameters.Add(new NpgsqlParameter<DateOnly> { TypedValue = today });
        await update.ExecuteNonQueryAsync(cancellationToken);
    }

    private void Decide(Routing routing, RoutingPlan plan)
    {
        var decision = new RoutingDecision
        {
            Id = Guid.CreateVersion7(),
            OrderId = routing.OrderId,
            Success = plan.Success,
            FailureReason = plan.FailureReason,
            Strategy = plan.Strategy,
            Attempts = routing.Attempts,
            Explanation = JsonSerializer.Serialize(new { plan.Detail, plan.Allocations, plan.Candidates, Excluded = routing.Excluded }, MessageSerialization.Options),
            DecidedAt = clock.GetUtcNow(),
        };
        db.Decisions.Add(decision);
        using var cause = routing.Enter();
        if (plan.Success)
        {
            db.Publish(new OrderRouted(routing.OrderId, decision.Id, plan.Allocations), partitionKey: routing.OrderId.ToString());
        }
        else
        {
            db.Publish(new OrderRoutingFailed(routing.OrderId, decision.Id, plan.FailureReason!, plan.Detail), partitionKey: routing.OrderId.ToString());
        }
    }

    /// <summary>One order being routed within a batch: what routing needs of it, and how to enter the message that asked.</summary>
    private sealed class Routing(Guid orderId, IReadOnlyList<OrderLineSnapshot> lines, OrderAddress address, OrderDelivery delivery, IEnumerable<string> excluded, Func<IDisposable> enter)
    {
        public Guid OrderId { get; } = orderId;

        public OrderAddress Address { get; } = address;

        public OrderDelivery Delivery { get; } = delivery;

        public RoutingLine[] Lines { get; } = lines.Select(l => new RoutingLine(l.Sku, l.Quantity)).ToArray();

        public HashSet<string> Excluded { get; } = new(excluded, StringComparer.Ordinal);

        public int Attempts { get; set; }

        public RoutingPlan? Plan { get; set; }

        public IDisposable Enter() => enter();
    }
}
