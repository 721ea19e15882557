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
    : IIntegrationEventBatchHandler<OrderPlaced>, IIntegrationEventBatchHandler<OrderReroutingRequested>, IIntegrationEventBatchHandler<UnitsShort>, IIntegrationEventBatchHandler<OrderChangeRequested>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderPlaced>> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.Message.OrderId).Distinct().ToArray();
        var seen = (await db.Decisions.Where(d => ids.Contains(d.OrderId)).Select(d => d.OrderId).ToListAsync(cancellationToken)).ToHashSet();
        var work = batch.Where(d => seen.Add(d.Message.OrderId)) // decided already: a replayed delivery
            .Select(d => new Routing(d.Message.OrderId, d.Message.Lines.Select(l => new RoutingLine(l.Sku, l.Quantity)), Destination.Of(d.Message.ShippingAddress, d.Message.Delivery), [], d.Enter))
            .ToList();
        await RouteAsync(work, cancellationToken);
    }

    /// <summary>
    /// Re-sources units a node gave up after confirmation (a short pick, a rejection): the same
    /// planning, for those units only, towards the destination the order was first routed to, without
    /// that node or any other that gave up units of the order. What no node has is reported
    /// unavailable (Orders cancels it). Reserved under the shortage's id, so a redelivery after a
    /// failed commit first releases what the failed attempt reserved and never holds twice.
    /// </summary>
    public async Task HandleAsync(IReadOnlyList<Delivered<UnitsShort>> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.Message.OrderId).Distinct().ToArray();
        var destinations = await DestinationsAsync(ids, cancellationToken);
        var fulfilmentOrders = await db.FulfilmentOrders.Where(f => ids.Contains(f.OrderId)).ToListAsync(cancellationToken);
        var gaveUp = fulfilmentOrders
            .Where(f => f.RejectionReason is not null || f.ReadLines().Any(l => l.Short > 0))
            .ToLookup(f => f.OrderId, f => f.NodeCode);
        await RouteAsync(
            batch.Select(d =>
                {
                    var source = fulfilmentOrders.FirstOrDefault(f => f.Id == d.Message.FulfilmentOrderId);
                    // A decision made before destinations were recorded: a pickup order stays at its store.
                    var destination = destinations.GetValueOrDefault(d.Message.OrderId)
                        ?? (source is { IsPickup: true } ? new Destination(null, null, "pickup", source.NodeCode) : new Destination(null, null, "ship", null));
                    return new Routing(
                        d.Message.OrderId,
                        d.Message.Lines.Select(l => new RoutingLine(l.Sku, l.Quantity)),
                        destination,
                        gaveUp[d.Message.OrderId].Append(d.Message.Node),
                        d.Enter) { Shortage = d.Message, Source = source };
                })
                .ToList(),
            cancellationToken);
    }

    /// <summary>
    /// Prepares requested order changes: the added units are planned with the same engine towards the
    /// delivery the change asks for (in full, or not at all: <c>out-of-stock</c>) and reserved under the
    /// change's id (confirmed, released again if the change is refused); a change of the delivery holds
    /// the order's unshipped fulfilment orders until it is decided, and is refused when one of them is
    /// packed already or nothing is left to ship. Waits while the order's fulfilment orders are not
    /// made yet, units of it are being re-sourced, or an earlier change of it is not carried out here yet.
    /// </summary>
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderChangeRequested>> batch, CancellationToken cancellationToken)
    {
        var ids = batch.Select(d => d.Message.OrderId).Distinct().ToArray();
        var fulfilmentOrders = await db.FulfilmentOrders.Where(f => ids.Contains(f.OrderId)).ToListAsync(cancellationToken);
        var inFlight = await ChangesInFlight.OfAsync(db, ids, cancellationToken);
        var work = new List<Routing>();
        foreach (var delivered in batch)
        {
            var change = delivered.Message;
            if (inFlight[change.OrderId].Any(id => id != change.ChangeId))
            {
                throw new MessageWaitsException($"An earlier change of order {change.OrderId} is not carried out here yet; change {change.ChangeId} waits for it.");
            }

            var nodes = fulfilmentOrders.Where(f => f.OrderId == change.OrderId).ToArray();
            if (nodes.Length == 0)
            {
                throw new MessageWaitsException($"Order {change.OrderId} has no fulfilment orders yet; its change {change.ChangeId} waits for them.");
            }

            if (nodes.Any(f => f.PendingShortages > 0))
            {
                throw new MessageWaitsException($"Units of order {change.OrderId} are being re-sourced; its change {change.ChangeId} waits until they are at their new node.");
            }

            var open = nodes.Where(f => f.ReadLines().Any(l => l.ToShip > l.Shipped)
                                        && f.Status is FulfilmentOrderStatus.ReadyToPick or FulfilmentOrderStatus.Picking or FulfilmentOrderStatus.Packed or FulfilmentOrderStatus.PartiallyShipped)
                .ToArray();
            var routing = new Routing(change.OrderId, change.AddedUnits.Select(l => new RoutingLine(l.Sku, l.Quantity)), Destination.Of(change.ShippingAddress, change.Delivery), [], delivered.Enter)
            {
                Change = change,
                Held = change.DeliveryChanged ? open : [],
            };
            if (change.DeliveryChanged && open.FirstOrDefault(f => f.Status is FulfilmentOrderStatus.Packed or FulfilmentOrderStatus.PartiallyShipped) is { } packed)
            {
                Refuse(routing, "packed", $"The fulfilment order at {packed.NodeCode} is packed for the delivery as it was.");
            }
            else if (change.DeliveryChanged && open.Length == 0 && change.AddedUnits.Count == 0)
            {
                Refuse(routing, "already-shipped", "Nothing of the order is left to ship to a new delivery.");
            }
            else if (change.AddedUnits.Count == 0)
            {
                Decide(routing, new RoutingPlan(true, null, "The delivery changes; no units are added.", "delivery", [], []));
            }
            else
            {
                work.Add(routing);
            }
        }

        await RouteAsync(work, cancellationToken);
    }

    /// <summary>The latest destination recorded per order (its routing, a re-sourcing, or a change of its delivery).</summary>
    private async Task<Dictionary<Guid, Destination>> DestinationsAsync(Guid[] ids, CancellationToken cancellationToken) =>
        (await db.Decisions.AsNoTracking()
                .Where(d => ids.Contains(d.OrderId) && d.Success)
                .OrderBy(d => d.DecidedAt)
                .Select(d => new { d.OrderId, d.Explanation })
                .ToListAsync(cancellationToken))
            .GroupBy(d => d.OrderId)
            .Where(g => Destination.Latest(g.Select(d => d.Explanation)) is not null)
            .ToDictionary(g => g.Key, g => Destination.Latest(g.Select(d => d.Explanation))!);

    /// <summary>Routes an order again whose stock was lost (the inbox makes each request take effect once).</summary>
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderReroutingRequested>> batch, CancellationToken cancellationToken) =>
        await RouteAsync(
            batch.DistinctBy(d => d.Message.OrderId)
                .Select(d => new Routing(d.Message.OrderId, d.Message.Lines.Select(l => new RoutingLine(l.Sku, l.Quantity)), Destination.Of(d.Message.ShippingAddress, d.Message.Delivery), d.Message.ExcludedNodes, d.Enter))
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
                routing.Plan = PlanAsMuchAsPossible(routing, nodes, loads, available, options);
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

            var requests = planned.SelectMany(r => r.Plan!.Allocations.Select(a => (Routing: r, Request: new ReserveStock(r.OrderId, a.Node, a.Lines.Select(l => new ReservationLine(l.Sku, l.Quantity)).ToArray(), Reference: r.Reference)))).ToArray();
            var outcomes = await modules.SendAsync(new ReserveStockBatch(requests.Select(r => r.Request).ToArray()), cancellationToken);
            var refusedAt = new Dictionary<Routing, string>();
            var ended = new HashSet<Routing>();
            foreach (var ((routing, request), answer) in requests.Zip(outcomes)) // one answer per request, in the order asked
            {
                switch (answer.State)
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
            routing.Unavailable = routing.Lines;
            Decide(routing, exhausted);
        }

        await SaveLoadsAsync(loads, loadsBefore, today, cancellationToken);
    }

    /// <summary>Releases what earlier attempts reserved: everything the order holds, or what a re-sourcing or a change reserved under its id.</summary>
    private Task ReleaseAsync(IReadOnlyList<Routing> work, CancellationToken cancellationToken) =>
        work.Count == 0
            ? Task.CompletedTask
            : modules.SendAsync(new ReleaseReservationsBatch(work.Select(w => new ReleaseReservations(w.OrderId, "re-plan", w.Reference)).ToArray()), cancellationToken);

    /// <summary>
    /// The plan of an order; a re-sourcing that cannot be planned in full is planned for what the
    /// network still has (each line cut to the stock of the nodes it may use), the rest left unavailable.
    /// </summary>
    private static RoutingPlan PlanAsMuchAsPossible(Routing routing, IReadOnlyList<Node> nodes, IReadOnlyDictionary<string, int> loads, IReadOnlyDictionary<(string, string), int> available, RoutingOptions options)
    {
        routing.Unavailable = [];
        var plan = Plan(routing, routing.Lines, nodes, loads, available, options);
        if (plan.Success || routing.Shortage is null)
        {
            return plan;
        }

        var usable = nodes.Where(n => n.Active && n.CanShip && !routing.Excluded.Contains(n.Code) && !(n.DailyCapacity > 0 && loads.GetValueOrDefault(n.Code) >= n.DailyCapacity))
            .Select(n => n.Code).ToArray();
        var cut = routing.Lines
            .Select(l => l with { Quantity = Math.Min(l.Quantity, usable.Sum(n => Math.Max(0, available.GetValueOrDefault((l.Sku, n))))) })
            .ToArray();
        var partial = routing.Delivery.Method != "pickup" && cut.Any(l => l.Quantity > 0)
            ? Plan(routing, cut.Where(l => l.Quantity > 0).ToArray(), nodes, loads, available, options)
            : null;
        if (partial is { Success: true })
        {
            routing.Unavailable = routing.Lines.Zip(cut, (line, c) => line with { Quantity = line.Quantity - c.Quantity }).Where(l => l.Quantity > 0).ToArray();
            return partial with { Detail = $"{partial.Detail} Not in the network: {string.Join(", ", routing.Unavailable.Select(l => $"{l.Quantity} × {l.Sku}"))}." };
        }

        routing.Unavailable = routing.Lines;
        return plan;
    }

    private static RoutingPlan Plan(Routing routing, IReadOnlyList<RoutingLine> lines, IReadOnlyList<Node> nodes, IReadOnlyDictionary<string, int> loads, IReadOnlyDictionary<(string, string), int> available, RoutingOptions options)
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
            lines,
            routing.Delivery.Method,
            routing.Delivery.PickupLocation,
            routing.Delivery.Latitude,
            routing.Delivery.Longitude,
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

    /// <summary>A change Fulfillment cannot carry out: recorded as a failed decision and answered; nothing is held for it.</summary>
    private void Refuse(Routing routing, string reason, string detail) =>
        Decide(routing, new RoutingPlan(false, reason, detail, "refused", [], []));

    private void Decide(Routing routing, RoutingPlan plan)
    {
        var shortage = routing.Shortage;
        var change = routing.Change;
        var now = clock.GetUtcNow();
        var decision = new RoutingDecision
        {
            Id = Guid.CreateVersion7(),
            OrderId = routing.OrderId,
            Success = plan.Success,
            FailureReason = plan.FailureReason,
            Strategy = shortage is not null ? $"re-source:{plan.Strategy}" : change is not null ? $"change:{plan.Strategy}" : plan.Strategy,
            Attempts = routing.Attempts,
            Explanation = JsonSerializer.Serialize(
                new
                {
                    plan.Detail,
                    plan.Allocations,
                    plan.Candidates,
                    Excluded = routing.Excluded,
                    Destination = change is null ? routing.Delivery : null, // a change's delivery counts once it is applied
                    Shortage = shortage is null ? null : new { shortage.ShortageId, shortage.Node, shortage.Reason, shortage.Lines, Unavailable = routing.Unavailable },
                    Change = change is null ? null : new { change.ChangeId, change.AddedUnits, change.DeliveryChanged, Delivery = routing.Delivery },
                },
                MessageSerialization.Options),
            DecidedAt = now,
        };
        db.Decisions.Add(decision);
        using var cause = routing.Enter();
        if (change is not null)
        {
            if (!plan.Success)
            {
                db.Publish(
                    new OrderChangeUnavailable(change.OrderId, change.ChangeId, plan.FailureReason ?? "out-of-stock", plan.Detail,
                        plan.FailureReason is "packed" or "already-shipped" ? [] : change.AddedUnits.Select(l => new AllocatedLine(l.Sku, l.Quantity)).ToArray(), now),
                    partitionKey: change.OrderId.ToString());
                return;
            }

            foreach (var held in routing.Held)
            {
                held.PendingChange = change.ChangeId; // nothing packs or ships to the old delivery while the change is decided
            }

            db.Publish(new OrderChangePrepared(change.OrderId, change.ChangeId, decision.Id, plan.Allocations, now), partitionKey: change.OrderId.ToString());
            return;
        }

        if (shortage is not null)
        {
            routing.Source?.ShortageResolved(); // decided: a cancellation of the order's units need not wait any more
            if (plan.FailureReason == "order-ended")
            {
                return; // nothing is left to re-source or to cancel
            }

            // The re-sourced units become fulfilment orders at their new nodes in this commit.
            foreach (var allocation in plan.Success ? plan.Allocations : [])
            {
                var created = FulfilmentOrder.Create(routing.OrderId, allocation.Node, allocation.Lines.Select(l => (l.Sku, l.Quantity)), now);
                created.PaymentHold = routing.Source?.PaymentHold; // a payment on hold holds the re-sourced units too
                created.PendingChange = routing.Source?.PendingChange; // and a change of the delivery being decided
                db.FulfilmentOrders.Add(created);
            }

            db.Publish(
                new ShortageResolved(
                    routing.OrderId, shortage.ShortageId, decision.Id, shortage.Node, shortage.Reason,
                    plan.Success ? plan.Allocations : [],
                    routing.Unavailable.Select(l => new AllocatedLine(l.Sku, l.Quantity)).ToArray(),
                    now),
                partitionKey: routing.OrderId.ToString());
            return;
        }

        if (plan.Success)
        {
            db.Publish(new OrderRouted(routing.OrderId, decision.Id, plan.Allocations), partitionKey: routing.OrderId.ToString());
        }
        else
        {
            db.Publish(new OrderRoutingFailed(routing.OrderId, decision.Id, plan.FailureReason!, plan.Detail), partitionKey: routing.OrderId.ToString());
        }
    }

    /// <summary>Where an order goes (the coordinates routing measures from) and how: shipped, or picked up at a store.</summary>
    private sealed record Destination(double? Latitude, double? Longitude, string Method, string? PickupLocation)
    {
        public static Destination Of(OrderAddress address, OrderDelivery delivery) => new(address.Latitude, address.Longitude, delivery.Method, delivery.PickupLocation);

        /// <summary>The latest destination a decision of the order recorded (a change of the delivery records its own once applied).</summary>
        public static Destination? Latest(IEnumerable<string> explanations) =>
            explanations.Select(e => JsonDocument.Parse(e).RootElement.TryGetProperty("destination", out var d) && d.ValueKind == JsonValueKind.Object ? e : null)
                .LastOrDefault(e => e is not null) is { } latest ? Read(latest) : null;

        /// <summary>The destination a decision recorded (none recorded: shipped, no coordinates, so nodes rank by priority).</summary>
        public static Destination Read(string explanation) =>
            JsonDocument.Parse(explanation).RootElement.TryGetProperty("destination", out var destination) && destination.ValueKind == JsonValueKind.Object
                ? destination.Deserialize<Destination>(MessageSerialization.Options)!
                : new Destination(null, null, "ship", null);
    }

    /// <summary>One order being routed within a batch: what routing needs of it, and how to enter the message that asked.</summary>
    private sealed class Routing(Guid orderId, IEnumerable<RoutingLine> lines, Destination delivery, IEnumerable<string> excluded, Func<IDisposable> enter)
    {
        public Guid OrderId { get; } = orderId;

        public Destination Delivery { get; } = delivery;

        public RoutingLine[] Lines { get; } = lines.ToArray();

        /// <summary>Set when this routing re-sources units a node gave up after confirmation.</summary>
        public UnitsShort? Shortage { get; init; }

        /// <summary>Set when this routing prepares a requested order change (the units it adds).</summary>
        public OrderChangeRequested? Change { get; init; }

        /// <summary>The fulfilment orders a change of the delivery holds until it is decided.</summary>
        public IReadOnlyList<FulfilmentOrder> Held { get; init; } = [];

        /// <summary>What the reservations of this routing are made under: the shortage's or the change's id (none for a first routing: the order's own).</summary>
        public Guid? Reference => Shortage?.ShortageId ?? Change?.ChangeId;

        /// <summary>The fulfilment order that gave the units up (its pending shortage ends with the decision).</summary>
        public FulfilmentOrder? Source { get; init; }

        /// <summary>What a re-sourcing found no node for.</summary>
        public RoutingLine[] Unavailable { get; set; } = [];

        public HashSet<string> Excluded { get; } = new(excluded, StringComparer.Ordinal);

        public int Attempts { get; set; }

        public RoutingPlan? Plan { get; set; }

        public IDisposable Enter() => enter();
    }
}
