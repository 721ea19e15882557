using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Inventory.Domain;
using OmsModular.Modules.Inventory.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;

namespace OmsModular.Modules.Inventory.Features;

/// <summary>Nodes gave up units of confirmed orders (a short pick, a rejection): their reservations release them.</summary>
internal sealed record ReleaseShortUnits(IReadOnlyList<UnitsShort> Shortages) : ICommand;

/// <summary>
/// For each unit a node gave up, the order's reservation there holds one less and reserved goes
/// down (a <c>release</c> movement naming the shortage). When the shortage writes the units off (a
/// short pick: the count was wrong; damaged stock), on hand goes down by as many too (a
/// <c>count</c> or <c>damage</c> movement), never below zero, so ATP does not promise them again.
/// A reservation that holds nothing more ends. Once per shortage (the inbox), under the order's
/// lock and the stock rows' locks in the one fixed order.
/// </summary>
internal sealed class ReleaseShortUnitsHandler(InventoryDbContext db, TimeProvider clock) : ICommandHandler<ReleaseShortUnits>
{
    public async ValueTask<Unit> Handle(ReleaseShortUnits command, CancellationToken cancellationToken)
    {
        var orderIds = command.Shortages.Select(c => c.OrderId).Distinct().ToArray();
        await db.LockAsync(orderIds.Select(id => $"order:{id}"), cancellationToken);
        var reservations = await db.Reservations
            .Where(r => orderIds.Contains(r.OrderId) && (r.Status == ReservationStatus.Active || r.Status == ReservationStatus.Confirmed))
            .ToListAsync(cancellationToken);
        var levels = (await StockSql.LockAsync(db, command.Shortages.SelectMany(c => c.Lines.Select(l => (c.Node, l.Sku))), cancellationToken)).ToDictionary(l => (l.Location, l.Sku));
        foreach (var shortage in command.Shortages)
        {
            var reference = $"short:{shortage.ShortageId}";
            foreach (var line in shortage.Released ? [] : shortage.Lines) // a count released them already
            {
                if (!levels.TryGetValue((shortage.Node, line.Sku), out var level))
                {
                    continue;
                }

                var released = Math.Min(
                    Reservation.TakeHeld(reservations, shortage.OrderId, shortage.Node, line.Sku, line.Quantity, (reserved, n) => reserved.Released += n),
                    level.Reserved);
                // Only what this shortage released is written off: units a count released before were taken off on hand by that count.
                var writtenOff = shortage.WriteOff ? Math.Min(released, level.OnHand) : 0;
                level.Reserved -= released;
                level.OnHand -= writtenOff;
                if (released > 0)
                {
                    db.Movements.Add(new StockMovement { Sku = line.Sku, Location = shortage.Node, Kind = MovementKind.Release, ReservedDelta = -released, Reference = reference });
                }

                if (writtenOff > 0)
                {
                    db.Movements.Add(new StockMovement
                    {
                        Sku = line.Sku,
                        Location = shortage.Node,
                        Kind = shortage.Reason == "damaged-stock" ? MovementKind.Damage : MovementKind.Count,
                        OnHandDelta = -writtenOff,
                        Reference = reference,
                    });
                }
            }

            foreach (var reservation in reservations.Where(r => r.OrderId == shortage.OrderId && r.Location == shortage.Node))
            {
                reservation.EndIfEmpty($"units given up: {shortage.Reason}", clock.GetUtcNow());
            }
        }

        await StockSql.WriteLevelsAsync(db, levels.Values, cancellationToken);
        foreach (var level in levels.Values)
        {
            db.Publish(level.Changed(command.Shortages.Count == 1 ? command.Shortages[0].Reason : "units-short"), partitionKey: level.Sku);
        }

        StockShortfalls.Detect(db, levels.Values); // a write-off can leave other orders' reservations above on hand

        return Unit.Value;
    }
}
