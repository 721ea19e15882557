using OmsModular.Shared.Contracts.Fulfillment;

namespace OmsModular.Modules.Fulfillment.Routing;

internal sealed record RoutingNode(
    string Code,
    bool Active,
    bool CanShip,
    bool CanPickup,
    bool AtCapacity,
    int Priority,
    double Latitude,
    double Longitude);

internal sealed record RoutingLine(string Sku, int Quantity);

internal sealed record RoutingRequest(
    IReadOnlyList<RoutingLine> Lines,
    string Method,
    string? PickupLocation,
    double? Latitude,
    double? Longitude,
    IReadOnlySet<string> Excluded);

internal sealed record RoutingOptions(int MaxSplits = 3, int ExactSearchNodeLimit = 12);

internal sealed record CandidateExplanation(string Node, double? DistanceKm, int Priority, string? RuledOut, IReadOnlyList<string> Short, bool Chosen);

internal sealed record RoutingPlan(
    bool Success,
    string? FailureReason,
    string Detail,
    string Strategy,
    IReadOnlyList<NodeAllocation> Allocations,
    IReadOnlyList<CandidateExplanation> Candidates);

/// <summary>
/// Picks the node(s) an order ships from. Ship: one node that holds every line, nearest to the
/// destination (great-circle), ties by priority; otherwise the fewest nodes (an exact search over
/// node sets for small networks, a greedy cover beyond), ties by total distance, then priority; at
/// most <see cref="RoutingOptions.MaxSplits"/> nodes; nodes at capacity are skipped. Pickup: the
/// named store must hold every line. Pure: the caller supplies nodes and availability.
/// </summary>
internal static class RoutingEngine
{
    private const double EarthRadiusKm = 6371.0088;

    public static RoutingPlan Plan(
        RoutingRequest request,
        IReadOnlyList<RoutingNode> nodes,
        IReadOnlyDictionary<(string Sku, string Node), int> available,
        RoutingOptions options)
    {
        int Available(string sku, string node) => available.TryGetValue((sku, node), out var n) ? n : 0;

        var candidates = nodes.Select(node =>
        {
            double? distance = request.Latitude is { } lat && request.Longitude is { } lon ? Math.Round(GreatCircleKm(lat, lon, node.Latitude, node.Longitude), 1) : null;
            var shortSkus = request.Lines.Where(l => Available(l.Sku, node.Code) < l.Quantity).Select(l => l.Sku).ToArray();
            string? ruledOut = request.Excluded.Contains(node.Code) ? "reservation failed here in an earlier attempt"
                : !node.Active ? "inactive"
                : request.Method == "pickup" && node.Code != request.PickupLocation ? "not the pickup location"
                : request.Method == "pickup" && !node.CanPickup ? "does not offer pickup"
                : request.Method != "pickup" && !node.CanShip ? "does not ship"
                : node.AtCapacity ? "at daily capacity"
                : null;
            return (Node: node, Distance: distance, Short: shortSkus, RuledOut: ruledOut);
        }).ToArray();

        var eligible = candidates.Where(c => c.RuledOut is null).ToArray();
        var ranked = eligible.OrderBy(c => c.Distance ?? double.MaxValue).ThenBy(c => c.Node.Priority).ThenBy(c => c.Node.Code, StringComparer.Ordinal).ToArray();

        RoutingPlan Result(bool success, string? reason, string detail, string strategy, IReadOnlyList<string> chosen)
        {
            var allocations = success ? Allocate(request.Lines, ranked.Where(c => chosen.Contains(c.Node.Code)).ToArray(), Available) : [];
            var explained = candidates
                .OrderBy(c => c.RuledOut is null ? 0 : 1).ThenBy(c => c.Distance ?? double.MaxValue).ThenBy(c => c.Node.Code, StringComparer.Ordinal)
                .Select(c => new CandidateExplanation(
                    c.Node.Code,
                    c.Distance,
                    c.Node.Priority,
                    c.RuledOut ?? (c.Short.Length > 0 && !chosen.Contains(c.Node.Code) ? $"short of {string.Join(", ", c.Short)}" : null),
                    c.Short,
                    chosen.Contains(c.Node.Code)))
                .ToArray();
            return new RoutingPlan(success, reason, detail, strategy, allocations, explained);
        }

        if (request.Method == "pickup")
        {
            var store = eligible.SingleOrDefault();
            var named = candidates.FirstOrDefault(c => c.Node.Code == request.PickupLocation);
            return store.Node is null
                ? named.Node is null
                    ? Result(false, "no-node", $"{request.PickupLocation} is not a pickup location.", "pickup", [])
                    : Result(false, "pickup-location-unavailable", $"{request.PickupLocation}: {named.RuledOut}.", "pickup", [])
                : store.Short.Length > 0
                    ? Result(false, "pickup-location-short", $"{store.Node.Code} is short of {string.Join(", ", store.Short)}.", "pickup", [])
                    : Result(true, null, $"Pickup at {store.Node.Code}.", "pickup", [store.Node.Code]);
        }

        if (ranked.Length == 0)
        {
            return Result(false, "no-node", "No active node can ship this order.", "none", []);
        }

        var single = ranked.FirstOrDefault(c => c.Short.Length == 0);
        if (single.Node is not null)
        {
            return Result(true, null, $"{single.Node.Code} holds every line.", "single-node", [single.Node.Code]);
        }

        // Splits: only nodes that hold something of the order can help.
        var useful = ranked.Where(c => request.Lines.Any(l => Available(l.Sku, c.Node.Code) > 0)).ToArray();
        bool Covers(IReadOnlyList<string> set) =>
            request.Lines.All(l => set.Sum(n => Math.Min(Available(l.Sku, n), l.Quantity)) >= l.Quantity);

        if (useful.Length <= options.ExactSearchNodeLimit)
        {
            for (var size = 2; size <= Math.Min(options.MaxSplits, useful.Length); size++)
            {
                var best = Combinations(useful, size)
                    .Where(set => Covers(set.Select(c => c.Node.Code).ToArray()))
                    .OrderBy(set => set.Sum(c => c.Distance ?? 0))
                    .ThenBy(set => set.Sum(c => c.Node.Priority))
                    .ThenBy(set => string.Join(',', set.Select(c => c.Node.Code)), StringComparer.Ordinal)
                    .FirstOrDefault();
                if (best is not null)
                {
                    return Result(true, null, $"Split over {size} nodes (fewest possible).", "split-exact", best.Select(c => c.Node.Code).ToArray());
                }
            }
        }
        else
        {
            var remaining = request.Lines.ToDictionary(l => l.Sku, l => l.Quantity, StringComparer.Ordinal);
            var chosen = new List<string>();
            while (chosen.Count < options.MaxSplits && remaining.Values.Any(q => q > 0))
            {
                var next = useful.Where(c => !chosen.Contains(c.Node.Code))
                    .Select(c => (Candidate: c, Covered: remaining.Sum(r => Math.Min(r.Value, Available(r.Key, c.Node.Code)))))
                    .Where(x => x.Covered > 0)
                    .OrderByDescending(x => x.Covered).ThenBy(x => x.Candidate.Distance ?? double.MaxValue).ThenBy(x => x.Candidate.Node.Priority)
                    .FirstOrDefault();
                if (next.Candidate.Node is null)
                {
                    break;
                }

                chosen.Add(next.Candidate.Node.Code);
                foreach (var sku in remaining.Keys.ToArray())
                {
                    remaining[sku] -= Math.Min(remaining[sku], Available(sku, next.Candidate.Node.Code));
                }
            }

            if (remaining.Values.All(q => q == 0))
            {
                return Result(true, null, $"Split over {chosen.Count} nodes (greedy cover).", "split-greedy", chosen);
            }
        }

        var network = request.Lines
            .Select(l => (l.Sku, l.Quantity, Total: eligible.Sum(c => Available(l.Sku, c.Node.Code))))
            .Where(x => x.Total < x.Quantity)
            .Select(x => $"{x.Sku}: {x.Total} of {x.Quantity}")
            .ToArray();
        return Result(
            false,
            "out-of-stock",
            network.Length > 0
                ? $"Not enough stock in the network: {string.Join("; ", network)}."
                : $"The order cannot be covered by {options.MaxSplits} nodes or fewer.",
            "none",
            []);
    }

    /// <summary>Great-circle distance (haversine) in kilometres.</summary>
    public static double GreatCircleKm(double lat1, double lon1, double lat2, double lon2)
    {
        static double Radians(double degrees) => degrees * Math.PI / 180;
        var dLat = Radians(lat2 - lat1);
        var dLon = Radians(lon2 - lon1);
        var a = (Math.Sin(dLat / 2) * Math.Sin(dLat / 2)) + (Math.Cos(Radians(lat1)) * Math.Cos(Radians(lat2)) * Math.Sin(dLon / 2) * Math.Sin(dLon / 2));
        return 2 * EarthRadiusKm * Math.Asin(Math.Min(1, Math.Sqrt(a)));
    }

    /// <summary>Lines allocated nearest node first; a line may be split over the chosen nodes.</summary>
    private static NodeAllocation[] Allocate(
        IReadOnlyList<RoutingLine> lines,
        IReadOnlyList<(RoutingNode Node, double? Distance, string[] Short, string? RuledOut)> chosen,
        Func<string, string, int> available)
    {
        var byNode = chosen.ToDictionary(c => c.Node.Code, _ => new List<AllocatedLine>(), StringComparer.Ordinal);
        foreach (var line in lines)
        {
            var left = line.Quantity;
            foreach (var candidate in chosen)
            {
                var take = Math.Min(left, available(line.Sku, candidate.Node.Code));
                if (take > 0)
                {
                    byNode[candidate.Node.Code].Add(new AllocatedLine(line.Sku, take));
                    left -= take;
                }
            }
        }

        return chosen.Where(c => byNode[c.Node.Code].Count > 0)
            .Select(c => new NodeAllocation(c.Node.Code, byNode[c.Node.Code], c.Distance))
            .ToArray();
    }

    private static IEnumerable<T[]> Combinations<T>(IReadOnlyList<T> items, int size)
    {
        var indices = Enumerable.Range(0, size).ToArray();
        while (true)
        {
            yield return indices.Select(i => items[i]).ToArray();
            var position = size - 1;
            while (position >= 0 && indices[position] == items.Count - size + position)
            {
                position--;
            }

            if (position < 0)
            {
                yield break;
            }

            indices[position]++;
            for (var i = position + 1; i < size; i++)
            {
                indices[i] = indices[i - 1] + 1;
            }
        }
    }
}
