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
        var decisions = await db.Decisions.AsNoTracking()
            .Where(d => orderIds.Contains(d.OrderId) && d.Success && d.Strategy.StartsWith("change:"))
            .Select(d => new { d.OrderId, d.Strategy, d.Explanation })
            .ToListAsync(cancellationToken);
        var named = decisions.Select(d => (d.OrderId, d.Strategy, Change: ChangeOf(d.Explanation))).Where(d => d.Change is not null).ToArray();
        var done = named.Where(d => d.Strategy is Applied or Released).Select(d => d.Change!.Value).ToHashSet();
        return named.Where(d => d.Strategy is not (Applied or Released) && !done.Contains(d.Change!.Value)).ToLookup(d => d.OrderId, d => d.Change!.Value);
    }

    private static Guid? ChangeOf(string explanation) =>
        JsonDocument.Parse(explanation).RootElement.TryGetProperty("change", out var change) && change.ValueKind == JsonValueKind.Object
        && change.TryGetProperty("changeId", out var id) && id.TryGetGuid(out var changeId)
            ? changeId
            : null;
}
