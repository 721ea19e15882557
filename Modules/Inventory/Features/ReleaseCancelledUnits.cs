using Mediator;
using Microsoft.EntityFrameworkCore;
using Npgsql;
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
            foreach (var line in change.Lines)
            {
                var reservation = reservations.FirstOrDefault(r => r.OrderId == change.OrderId && r.Location == line.Node);
                var reserved = reservation?.Lines.FirstOrDefault(l => l.Sku == line.Sku && l.Held > 0);
                var released = Math.Min(line.Quantity, reserved?.Held ?? 0);
                if (released == 0 || !levels.TryGetValue((line.Node, line.Sku), out var level))
                {
                    continue;
                }

                reserved!.Released += released;
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

            foreach (var reservation in reservations.Where(r => r.OrderId == change.OrderId && r.Holds && r.Lines.All(l => l.Held == 0)))
            {
                reservation.Status = reservation.Lines.Any(l => l.Shipped > 0) ? ReservationStatus.Shipped : ReservationStatus.Released;
                reservation.EndedAt = clock.GetUtcNow();
                reservation.EndReason = $"lines cancelled: {change.Reason}";
            }
        }

        await using var update = await db.CreateCommandAsync("""
            UPDATE inventory.stock_levels s SET reserved = v.reserved, updated_at = now()
            FROM unnest($1::text[], $2::text[], $3::int[]) AS v(location, sku, reserved)
            WHERE s.location = v.location AND s.sku = v.sku
            """, cancellationToken);
        update.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = levels.Values.Select(l => l.Location).ToArray() });
        update.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = levels.Values.Select(l => l.Sku).ToArray() });
        update.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = levels.Values.Select(l => l.Reserved).ToArray() });
        await update.ExecuteNonQueryAsync(cancellationToken);
        foreach (var level in levels.Values)
        {
            db.Publish(level.Changed("lines-cancelled"), partitionKey: level.Sku);
        }

        return Unit.Value;
    }
}
