using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Inventory.Domain;
using OmsModular.Modules.Inventory.Persistence;
using OmsModular.Shared.Contracts.Orders;

namespace OmsModular.Modules.Inventory.Features;

/// <summary>Units of confirmed orders were cancelled: the reservations at their nodes release them.</summary>
internal sealed record ReleaseCancelledUnits(IReadOnlyList<OrderLinesCancelled> Changes) : ICommand;

/// <summary>
/// For each cancelled unit, the order's reservation at its node holds one less and reserved goes
/// down there (a <c>release</c> movement naming the change); a reservation that holds nothing more
/// ends (<c>shipped</c> when part of it shipped, else <c>released</c>). Once per change (the inbox);
/// a reservation released meanwhile (the order ended) has nothing left to release.
/// </summary>
internal sealed class ReleaseCancelledUnitsHandler(InventoryDbContext db, TimeProvider clock) : ICommandHandler<ReleaseCancelledUnits>
{
    public async ValueTask<Unit> Handle(ReleaseCancelledUnits command, CancellationToken cancellationToken)
    {
        var orderIds = command.Changes.Select(c => c.OrderId).Distinct().ToArray();
        await db.LockAsync(orderIds.Select(id => $"order:{id}"), cancellationToken);
        var reservations = await db.Reservations
            .Where(r => orderIds.Contains(r.OrderId) && (r.Status == ReservationStatus.Active || r.Status == ReservationStatus.Confirmed))
            .ToListAsync(cancellationToken);
        var levels = (await StockSql.LockAsync(db, command.Changes.SelectMany(c => c.Lines.Select(l => (l.Node, l.Sku))), cancellationToken)).ToDictionary(l => (l.Location, l.Sku));
        foreach (var change in command.Changes)
        {
            foreach (var line in change.Lines.Where(l => !l.ReleasedAtNode)) // units the node gave up were released when it did
            {
                if (!levels.TryGetValue((line.Node, line.Sku), out var level))
                {
                    continue;
                }

                var released = Reservation.TakeHeld(reservations, change.OrderId, line.Node, line.Sku, line.Quantity, (reserved, n) => reserved.Released += n);
                if (released == 0)
                {
                    continue;
                }

                released = Math.Min(released, level.Reserved);
                level.Reserved -= released;
                db.Movements.Add(new StockMovement
                {
                    Sku = line.Sku,
                    Location = line.Node,
                    Kind = MovementKind.Release,
                    ReservedDelta = -released,
                    Reference = $"cancel:{change.ChangeId}",
                });
            }

            foreach (var reservation in reservations.Where(r => r.OrderId == change.OrderId))
            {
                reservation.EndIfEmpty($"lines cancelled: {change.Reason}", clock.GetUtcNow());
            }
        }

        await StockSql.WriteLevelsAsync(db, levels.Values, cancellationToken);
        foreach (var level in levels.Values)
        {
            db.Publish(level.Changed("lines-cancelled"), partitionKey: level.Sku);
        }

        return Unit.Value;
    }
}
