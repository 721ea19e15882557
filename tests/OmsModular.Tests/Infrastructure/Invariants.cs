using Npgsql;

namespace OmsModular.Testing;

/// <summary>
/// The money and stock invariants across modules, read from one snapshot of the database (a test
/// tool: it reads every module's schema, which no module may). For each settled order:
/// confirmed (or shipping, delivered) ⇒ exactly one live authorisation for the order's total and
/// confirmed reservations for every unit not shipped yet (nothing merely active), at each node
/// exactly what its fulfilment orders there still have to ship, and once every unit shipped the
/// captures (less refunds for units cancelled after a capture at confirmation) add up to the total;
/// cancelled or rejected ⇒ nothing held, no live authorisation, whatever was captured refunded.
/// Everywhere: at most one authorisation per order in the ledger and one void per voided payment;
/// the captures, the ledger's capture entries and the payment's captured amount agree and never
/// exceed what was authorised; so do the refunds, never above what was captured; reserved = what
/// the holding reservations' lines still hold (quantity − shipped − released); on hand − reserved
/// ≥ 0; on hand = the sum of its stock movements.
/// Orders still pending or on hold are counted, not judged. Shared by the tests and the load generator.
/// </summary>
public static class Invariants
{
    /// <summary>What was checked and what was found.</summary>
    public sealed record Report(int Confirmed, int Ended, int InFlight, int StockRows, IReadOnlyList<string> Violations)
    {
        public bool Holds => Violations.Count == 0;

        public override string ToString() =>
            $"{Confirmed} confirmed, {Ended} cancelled/rejected, {InFlight} in flight, {StockRows} stock rows: "
            + (Holds ? "all invariants hold" : $"{Violations.Count} violations:{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", Violations.Take(50)));
    }

    /// <summary>Checks the given orders (and the stock of their SKUs), or every order and all stock when none are given.</summary>
    public static async Task<Report> CheckAsync(string connectionString, IReadOnlyCollection<Guid>? orderIds = null, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var snapshot = await connection.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        var ids = orderIds?.ToArray();
        var filter = ids is null ? "true" : "o.id = ANY($1)";

        var orders = new Dictionary<Guid, (string Status, decimal? Total)>();
        await foreach (var row in QueryAsync(connection, $"SELECT o.id, o.status, o.total FROM orders.orders o WHERE {filter}", ids, r => (r.GetGuid(0), r.GetString(1), r.IsDBNull(2) ? (decimal?)null : r.GetDecimal(2)), cancellationToken))
        {
            orders[row.Item1] = (row.Item2, row.Item3);
        }

        var lines = new Dictionary<Guid, Dictionary<string, int>>(); // what the order still has to ship: ordered − cancelled − shipped
        var allShipped = new HashSet<Guid>();
        await foreach (var (order, sku, quantity) in QueryAsync(connection, $"SELECT l.order_id, l.sku, l.quantity - l.cancelled_quantity - l.shipped_quantity FROM orders.order_lines l JOIN orders.orders o ON o.id = l.order_id WHERE {filter}", ids, r => (r.GetGuid(0), r.GetString(1), r.GetInt32(2)), cancellationToken))
        {
            Add(lines, order, sku, quantity);
        }

        var orderedSkus = lines.Values.SelectMany(l => l.Keys).Distinct().ToArray(); // before the shipped-out lines are dropped: their stock is checked too
        foreach (var (order, open) in lines)
        {
            if (open.Values.All(q => q == 0))
            {
                allShipped.Add(order);
            }

            foreach (var sku in open.Where(l => l.Value == 0).Select(l => l.Key).ToArray())
            {
                open.Remove(sku);
            }
        }

        var payments = new Dictionary<Guid, (string Status, decimal Amount, decimal Captured, decimal Refunded)>();
        await foreach (var (order, status, amount, captured, refunded) in QueryAsync(connection, $"SELECT p.order_id, p.status, p.amount, p.captured_amount, p.refunded_amount FROM payments.payments p JOIN orders.orders o ON o.id = p.order_id WHERE {filter}", ids, r => (r.GetGuid(0), r.GetString(1), r.GetDecimal(2), r.GetDecimal(3), r.GetDecimal(4)), cancellationToken))
        {
            payments[order] = (status, amount, captured, refunded);
        }

        var refunds = new Dictionary<Guid, (int Count, decimal Amount)>();
        var cancellationRefunds = new Dictionary<Guid, decimal>(); // what went back for units cancelled after a capture at confirmation
        await foreach (var (order, count, amount, cancellation) in QueryAsync(
                           connection,
                           $"SELECT r.order_id, count(*)::int, sum(r.amount), coalesce(sum(r.amount) FILTER (WHERE r.reason = 'cancellation'), 0) FROM payments.refunds r JOIN orders.orders o ON o.id = r.order_id WHERE {filter} GROUP BY 1",
                           ids,
                           r => (r.GetGuid(0), r.GetInt32(1), r.GetDecimal(2), r.GetDecimal(3)),
                           cancellationToken))
        {
            refunds[order] = (count, amount);
            cancellationRefunds[order] = cancellation;
        }

        var captures = new Dictionary<Guid, (int Count, decimal Amount)>();
        await foreach (var (order, count, amount) in QueryAsync(connection, $"SELECT c.order_id, count(*)::int, sum(c.amount) FROM payments.captures c JOIN orders.orders o ON o.id = c.order_id WHERE {filter} GROUP BY 1", ids, r => (r.GetGuid(0), r.GetInt32(1), r.GetDecimal(2)), cancellationToken))
        {
            captures[order] = (count, amount);
        }

        var ledger = new Dictionary<Guid, Dictionary<string, int>>();
        await foreach (var (order, kind, count) in QueryAsync(connection, $"SELECT e.order_id, e.kind, count(*)::int FROM payments.ledger_entries e JOIN orders.orders o ON o.id = e.order_id WHERE {filter} GROUP BY 1, 2", ids, r => (r.GetGuid(0), r.GetString(1), r.GetInt32(2)), cancellationToken))
        {
            Add(ledger, order, kind, count);
        }

        var held = new Dictionary<Guid, List<(string Location, string Status, string Sku, int Quantity)>>();
        await foreach (var (order, location, status, sku, quantity) in QueryAsync(
                           connection,
                           $"""
                           SELECT r.order_id, r.location, r.status, l.sku, l.quantity - l.shipped - l.released
                           FROM inventory.reservations r JOIN inventory.reservation_lines l ON l.reservation_id = r.id
                           JOIN orders.orders o ON o.id = r.order_id
                           WHERE r.status IN ('Active', 'Confirmed') AND l.quantity > l.shipped + l.released AND {filter}
                           """,
                           ids,
                           r => (r.GetGuid(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt32(4)),
                           cancellationToken))
        {
            (held.TryGetValue(order, out var list) ? list : held[order] = []).Add((location, status, sku, quantity));
        }

        // Per order, node and SKU: what its fulfilment orders there still have to ship, and what its reservations there hold.
        var toShipAtNodes = new Dictionary<Guid, Dictionary<string, int>>();
        await foreach (var (order, key, quantity) in QueryAsync(
                           connection,
                           $"""
                           SELECT f.order_id, f.node_code || ' ' || (l->>'sku'),
                                  sum((l->>'quantity')::int - coalesce((l->>'cancelled')::int, 0) - coalesce((l->>'short')::int, 0) - coalesce((l->>'shipped')::int, 0))::int
                           FROM fulfillment.fulfilment_orders f CROSS JOIN LATERAL jsonb_array_elements(f.lines) AS l
                           JOIN orders.orders o ON o.id = f.order_id
                           WHERE {filter}
                           GROUP BY 1, 2
                           """,
                           ids,
                           r => (r.GetGuid(0), r.GetString(1), r.GetInt32(2)),
                           cancellationToken))
        {
            Add(toShipAtNodes, order, key, quantity);
        }

        var violations = new List<string>();
        int confirmed = 0, ended = 0, inFlight = 0;
        foreach (var (id, (status, total)) in orders)
        {
            var entries = ledger.GetValueOrDefault(id) ?? [];
            var payment = payments.TryGetValue(id, out var p) ? p : default((string Status, decimal Amount, decimal Captured, decimal Refunded)?);
            var refunded = refunds.GetValueOrDefault(id);
            if (refunded.Count != entries.GetValueOrDefault("refund") || refunded.Amount != (payment?.Refunded ?? 0m) || refunded.Amount > (payment?.Captured ?? 0m))
            {
                violations.Add($"order {id}: {refunded.Count} refunds of {refunded.Amount} but {entries.GetValueOrDefault("refund")} in the ledger, {payment?.Refunded ?? 0m} on the payment, {payment?.Captured ?? 0m} captured");
            }
            var captured = captures.GetValueOrDefault(id);
            if (captured.Count != entries.GetValueOrDefault("capture") || captured.Amount != (payment?.Captured ?? 0m))
            {
                violations.Add($"order {id}: {captured.Count} captures of {captured.Amount} but {entries.GetValueOrDefault("capture")} in the ledger and {payment?.Captured ?? 0m} on the payment");
            }

            if (payment is { } paid && paid.Captured > paid.Amount)
            {
                violations.Add($"order {id}: captured {paid.Captured}, more than the {paid.Amount} authorised");
            }
            var holding = held.GetValueOrDefault(id) ?? [];
            if (entries.GetValueOrDefault("authorize") > 1)
            {
                violations.Add($"order {id}: {entries["authorize"]} authorisations in the ledger");
            }

            if (entries.GetValueOrDefault("void") > 1 || (payment?.Status == "Voided" && entries.GetValueOrDefault("void") != 1))
            {
                violations.Add($"order {id}: payment {payment?.Status} with {entries.GetValueOrDefault("void")} voids in the ledger");
            }

            switch (status)
            {
                case "Confirmed" or "PartiallyShipped" or "Shipped" or "PartiallyDelivered" or "Delivered" or "Completed":
                    confirmed++;
                    var givenBack = cancellationRefunds.GetValueOrDefault(id);
                    if (allShipped.Contains(id) && payment?.Captured - givenBack != total)
                    {
                        violations.Add($"order {id}: everything shipped for {total} but {payment?.Captured} captured ({givenBack} of it refunded for cancelled units)");
                    }

                    if (payment is not { Status: "Authorized" or "PartiallyCaptured" or "Captured" } authorized || authorized.Amount - givenBack != total)
                    {
                        violations.Add($"order {id}: confirmed for {total} but its payment is {payment?.Status ?? "missing"} for {payment?.Amount}");
                    }

                    if (holding.Any(h => h.Status != "Confirmed"))
                    {
                        violations.Add($"order {id}: confirmed with reservations still active at {string.Join(", ", holding.Where(h => h.Status != "Confirmed").Select(h => h.Location).Distinct())}");
                    }

                    if (toShipAtNodes.TryGetValue(id, out var atNodes))
                    {
                        var heldAtNodes = holding.GroupBy(h => $"{h.Location} {h.Sku}").ToDictionary(g => g.Key, g => g.Sum(h => h.Quantity));
                        var open = atNodes.Where(n => n.Value != 0).ToDictionary(n => n.Key, n => n.Value);
                        if (open.Count != heldAtNodes.Count || open.Any(n => heldAtNodes.GetValueOrDefault(n.Key) != n.Value))
                        {
                            violations.Add($"order {id}: its fulfilment orders still ship {Describe(open)} but its reservations hold {Describe(heldAtNodes)} (node and SKU)");
                        }
                    }

                    var reserved = holding.GroupBy(h => h.Sku).ToDictionary(g => g.Key, g => g.Sum(h => h.Quantity));
                    var ordered = lines.GetValueOrDefault(id) ?? [];
                    if (ordered.Count != reserved.Count || ordered.Any(l => reserved.GetValueOrDefault(l.Key) != l.Value))
                    {
                        violations.Add($"order {id}: confirmed; ordered {Describe(ordered)} but holds {Describe(reserved)}");
                    }

                    break;
                case "Cancelled" or "Rejected":
                    ended++;
                    if (holding.Count > 0)
                    {
                        violations.Add($"order {id}: {status.ToLowerInvariant()} but still holds {Describe(holding.GroupBy(h => $"{h.Sku}@{h.Location}").ToDictionary(g => g.Key, g => g.Sum(h => h.Quantity)))}");
                    }

                    if (payment is { Status: "Authorized" })
                    {
                        violations.Add($"order {id}: {status.ToLowerInvariant()} but its authorisation of {payment.Value.Amount} is still live");
                    }

                    if (payment is { Captured: > 0 } paidFor && paidFor.Refunded != paidFor.Captured)
                    {
                        violations.Add($"order {id}: {status.ToLowerInvariant()} after {paidFor.Captured} was captured, but {paidFor.Refunded} refunded");
                    }

                    break;
                default:
                    inFlight++;
                    break;
            }
        }

        // Stock: every row, or the rows of the checked orders' SKUs.
        var skus = ids is null ? null : orderedSkus;
        var stockRows = 0;
        var stockFilter = skus is null ? "true" : "k.sku = ANY($1)";
        await foreach (var (location, sku, onHand, reservedCount, holdingCount, movedOnHand) in QueryAsync(
                           connection,
                           $"""
                           WITH holding AS (
                               SELECT r.location, l.sku, sum(l.quantity - l.shipped - l.released)::int AS quantity
                               FROM inventory.reservations r JOIN inventory.reservation_lines l ON l.reservation_id = r.id
                               WHERE r.status IN ('Active', 'Confirmed') GROUP BY 1, 2),
                           ledger AS (
                               SELECT location, sku, sum(on_hand_delta)::int AS on_hand FROM inventory.stock_movements GROUP BY 1, 2)
                           SELECT k.location, k.sku, coalesce(s.on_hand, 0), coalesce(s.reserved, 0), coalesce(h.quantity, 0), coalesce(m.on_hand, 0)
                           FROM (SELECT location, sku FROM inventory.stock_levels UNION SELECT location, sku FROM holding) k
                           LEFT JOIN inventory.stock_levels s ON s.location = k.location AND s.sku = k.sku
                           LEFT JOIN holding h ON h.location = k.location AND h.sku = k.sku
                           LEFT JOIN ledger m ON m.location = k.location AND m.sku = k.sku
                           WHERE {stockFilter}
                           """,
                           skus,
                           r => (r.GetString(0), r.GetString(1), r.GetInt32(2), r.GetInt32(3), r.GetInt32(4), r.GetInt32(5)),
                           cancellationToken))
        {
            stockRows++;
            if (onHand != movedOnHand)
            {
                violations.Add($"stock {sku}@{location}: on hand {onHand} but its movements add up to {movedOnHand}");
            }

            if (reservedCount != holdingCount)
            {
                violations.Add($"stock {sku}@{location}: reserved {reservedCount} but its holding reservations add up to {holdingCount}");
            }

            if (onHand - reservedCount < 0)
            {
                violations.Add($"stock {sku}@{location}: on hand {onHand} below reserved {reservedCount}");
            }
        }

        return new Report(confirmed, ended, inFlight, stockRows, violations);
    }

    /// <summary>Checks and throws with every violation when any is found.</summary>
    public static async Task<Report> AssertHoldAsync(string connectionString, IReadOnlyCollection<Guid>? orderIds = null, CancellationToken cancellationToken = default)
    {
        var report = await CheckAsync(connectionString, orderIds, cancellationToken);
        return report.Holds ? report : throw new InvalidOperationException($"Money and stock invariants violated: {report}");
    }

    private static void Add(Dictionary<Guid, Dictionary<string, int>> map, Guid id, string key, int value)
    {
        var inner = map.TryGetValue(id, out var existing) ? existing : map[id] = new(StringComparer.Ordinal);
        inner[key] = inner.GetValueOrDefault(key) + value;
    }

    private static string Describe(Dictionary<string, int> quantities) =>
        quantities.Count == 0 ? "nothing" : string.Join(", ", quantities.OrderBy(q => q.Key, StringComparer.Ordinal).Select(q => $"{q.Value} × {q.Key}"));

    private static async IAsyncEnumerable<T> QueryAsync<T>(NpgsqlConnection connection, string sql, Array? parameter, Func<NpgsqlDataReader, T> read, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (parameter is not null)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }

        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            yield return read(reader);
        }
    }
}
