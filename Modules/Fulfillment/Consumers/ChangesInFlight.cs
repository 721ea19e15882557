using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Persistence;

namespace OmsModular.Modules.Fulfillment.Consumers;

/// <summary>
/// The order changes Fulfillment prepared and has not carried out yet (neither applied nor released):
/// read from the routing decisions, where preparing a change records <c>change:&lt;strategy&gt;</c> and
/// carrying out Orders' decision records <c>change:applied</c> or <c>change:released</c>, each naming the change.
/// </summary>
internal static class ChangesInFlight
{
    public const string Applied = "change:applied";
    public const string Released = "change:released";

    public static async Task<ILookup<Guid, Guid>> OfAsync(FulfillmentDbContext db, IReadOnlyCollection<Guid> orderIds, CancellationToken cancellationToken)
    {
        var named = await DecisionsAsync(db, orderIds, cancellationToken);
        var done = named.Where(d => d.Strategy is Applied or Released).Select(d => d.Change).ToHashSet();
        return named.Where(d => d.Strategy is not (Applied or Released) && !done.Contains(d.Change)).ToLookup(d => d.OrderId, d => d.Change);
    }

    /// <summary>The decisions that prepared these changes: when each was made, and the nodes its added units were planned at.</summary>
    public static async Task<IReadOnlyList<(Guid Change, DateTimeOffset DecidedAt, IReadOnlyList<string> Nodes)>> PreparedAsync(
        FulfillmentDbContext db, IReadOnlyCollection<Guid> orderIds, IReadOnlySet<Guid> changes, CancellationToken cancellationToken) =>
        (await DecisionsAsync(db, orderIds, cancellationToken))
            .Where(d => d.Strategy is not (Applied or Released) && changes.Contains(d.Change))
            .Select(d => (d.Change, d.DecidedAt, NodesOf(d.Explanation)))
            .ToArray();

    private static IReadOnlyList<string> NodesOf(string explanation) =>
        JsonDocument.Parse(explanation).RootElement.TryGetProperty("allocations", out var allocations) && allocations.ValueKind == JsonValueKind.Array
            ? allocations.EnumerateArray().Select(a => a.GetProperty("node").GetString()!).Distinct().ToArray()
            : [];

    private static async Task<List<(Guid OrderId, string Strategy, Guid Change, string Explanation, DateTimeOffset DecidedAt)>> DecisionsAsync(
        FulfillmentDbContext db, IReadOnlyCollection<Guid> orderIds, CancellationToken cancellationToken) =>
        (await db.Decisions.AsNoTracking()
            .Where(d => orderIds.Contains(d.OrderId) && d.Success && d.Strategy.StartsWith("change:"))
            .Select(d => new { d.OrderId, d.Strategy, d.Explanation, d.DecidedAt })
            .ToListAsync(cancellationToken))
        .Select(d => (d.OrderId, d.Strategy, Change: ChangeOf(d.Explanation), d.Explanation, d.DecidedAt))
        .Where(d => d.Change is not null)
        .Select(d => (d.OrderId, d.Strategy, d.Change!.Value, d.Explanation, d.DecidedAt))
        .ToList();

    private static Guid? ChangeOf(string explanation) =>
        JsonDocument.Parse(explanation).RootElement.TryGetProperty("change", out var change) && change.ValueKind == JsonValueKind.Object
        && change.TryGetProperty("changeId", out var id) && id.TryGetGuid(out var changeId)
            ? changeId
            : null;
}
