using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Inventory.Domain;
using OmsModular.Modules.Inventory.Persistence;
using OmsModular.Shared.Contracts.Inventory;

namespace OmsModular.Modules.Inventory.Features;

/// <summary>Counts that left on hand below reserved: their reservations are given up until reserved fits again.</summary>
internal sealed record ResolveStockShortfalls(IReadOnlyList<StockShortfall> Shortfalls) : ICommand;

internal static class StockShortfalls
{
    /// <summary>In a count's commit: a stock row whose on hand fell below its reserved count is handed to <see cref="ResolveStockShortfallsHandler"/>.</summary>
    public static void Detect(InventoryDbContext db, IEnumerable<StockLevel> levels)
    {
        foreach (var level in levels.Where(l => l.OnHand < l.Reserved))
        {
            db.Publish(new StockShortfall(level.Sku, level.Location, level.OnHand, level.Reserved, DateTimeOffset.UtcNow), partitionKey: level.Sku);
        }
    }
}

/// <summary>
/// Gives up reservations at a location until its reserved count fits its on hand again, on locked,
/// current numbers (the orders' locks, then every stock row their reservations touch, in the one
/// fixed order), so a repeat or a later count finds nothing more to give up. Orders still in the
/// pipeline lose first (their whole reservation there is released: their confirmation finds it lost
/// and routes them again), then confirmed orders, the latest first: they lose the units only, and
/// <see cref="ReservedUnitsLost"/> has Fulfillment re-source them.
/// </summary>
internal sealed class ResolveStockShortfallsHandler(InventoryDbContext db, TimeProvider clock) : ICommandHandler<ResolveStockShortfalls>
{
    private const int ChunkOrders = 200;

    public async ValueTask<Unit> Handle(ResolveStockShortfalls command, CancellationToken cancellationToken)
    {
        var keys = command.Shortfalls.Select(s => (s.Location, s.Sku)).Distinct().ToArray();
        var locations = keys.Select(k => k.Location).Distinct().ToArray();
        var skus = keys.Select(k => k.Sku).Distinct().ToArray();
        // The likely losers, in the order they lose (at most a chunk of them: what is still short after
        // them is handed on to a next round); locked, then judged again on what they hold now.
        var orderIds = (await db.Reservations.AsNoTracking()
                .Where(r => locations.Contains(r.Location) && (r.Status == ReservationStatus.Active || r.Status == ReservationStatus.Confirmed)
                            && r.Lines.Any(l => skus.Contains(l.Sku) && l.Quantity > l.Shipped + l.Released))
                .OrderBy(r => r.Status == ReservationStatus.Active ? 0 : 1).ThenByDescending(r => r.CreatedAt)
                .Select(r => r.OrderId)
                .Take(ChunkOrders * 4)
                .ToListAsync(cancellationToken))
            .Distinct()
            .Take(ChunkOrders)
            .ToArray();
        await db.LockAsync(orderIds.Select(id => $"order:{id}"), cancellationToken);
        var reservations = await db.Reservations
            .Where(r => orderIds.Contains(r.OrderId) && (r.Status == ReservationStatus.Active || r.Status == ReservationStatus.Confirmed))
            .ToListAsync(cancellationToken);
        var levels = (await StockSql.LockAsync(db, reservations.SelectMany(r => r.Lines.Select(l => (r.Location, l.Sku))).Concat(keys), cancellationToken))
            .ToDictionary(l => (l.Location, l.Sku));
        var now = clock.GetUtcNow();
        var touched = new HashSet<StockLevel>();
        foreach (var (location, sku) in keys)
        {
            if (!levels.TryGetValue((location, sku), out var level) || level.OnHand >= level.Reserved)
            {
                continue; // resolved before, or a later count put it right
            }

            var victims = reservations
                .Where(r => r.Holds && r.Location == location && r.Lines.Any(l => l.Sku == sku && l.Held > 0))
                .OrderBy(r => r.Status == ReservationStatus.Active ? 0 : 1).ThenByDescending(r => r.CreatedAt)
                .ToArray();
            foreach (var reservation in victims)
            {
                var shortfall = level.Reserved - level.OnHand;
                if (shortfall <= 0)
                {
                    break;
                }

                if (reservation.Status == ReservationStatus.Active)
                {
                    ReleaseWhole(reservation, levels, touched, now);
                    continue;
                }

                var lost = Reservation.TakeHeld([reservation], reservation.OrderId, location, sku, Math.Min(shortfall, level.Reserved), (line, n) => line.Released += n);
                level.Reserved -= lost;
                touched.Add(level);
                db.Movements.Add(new StockMovement { Sku = sku, Location = location, Kind = MovementKind.Release, ReservedDelta = -lost, Reference = $"count:{reservation.OrderId}" });
                reservation.EndIfEmpty("stock-count", now);
                db.Publish(new ReservedUnitsLost(reservation.OrderId, location, sku, lost, "stock-count", now), partitionKey: reservation.OrderId.ToString());
            }
        }

        await StockSql.WriteLevelsAsync(db, touched, cancellationToken);
        foreach (var level in touched)
        {
            db.Publish(level.Changed("stock-count"), partitionKey: level.Sku);
        }

        if (orderIds.Length == ChunkOrders && touched.Count > 0)
        {
            StockShortfalls.Detect(db, keys.Select(k => levels.GetValueOrDefault(k)).OfType<StockLevel>()); // more losers than one chunk: the next round goes on
        }

        return Unit.Value;
    }

    /// <summary>An order still in the pipeline gives up its whole reservation at the location: its confirmation finds it lost and routes it again.</summary>
    private void ReleaseWhole(Reservation reservation, Dictionary<(string Location, string Sku), StockLevel> levels, HashSet<StockLevel> touched, DateTimeOffset now)
    {
        var held = reservation.Lines.Where(l => l.Held > 0).ToArray();
        foreach (var line in held)
        {
            var level = levels[(reservation.Location, line.Sku)];
            var released = Math.Min(line.Held, level.Reserved);
            level.Reserved -= released;
            touched.Add(level);
            db.Movements.Add(new StockMovement { Sku = line.Sku, Location = reservation.Location, Kind = MovementKind.Release, ReservedDelta = -released, Reference = reservation.OrderId.ToString() });
        }

        db.Publish(
            new StockReleased(reservation.Id, reservation.OrderId, reservation.Location, held.Select(l => new ReservationLine(l.Sku, l.Held)).ToArray(), "stock-count"),
            partitionKey: reservation.OrderId.ToString());
        foreach (var line in held)
        {
            line.Released += line.Held;
        }

        reservation.Status = ReservationStatus.Released;
        reservation.EndedAt = now;
        reservation.EndReason = "stock-count";
    }
}
