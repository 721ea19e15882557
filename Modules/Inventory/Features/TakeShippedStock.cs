using Mediator;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using OmsModular.Modules.Inventory.Domain;
using OmsModular.Modules.Inventory.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;

namespace OmsModular.Modules.Inventory.Features;

/// <summary>Shipments left their nodes: their stock goes out of on hand and out of the order's reservation there.</summary>
internal sealed record TakeShippedStock(IReadOnlyList<ShipmentShipped> Shipments) : ICommand;

/// <summary>
/// For each shipment: on hand and reserved at the node go down by the shipped quantities (ATP
/// unchanged: the goods were promised already), the order's reservation there records what shipped
/// and ends as <c>shipped</c> once every line has, and the stock ledger gets a <c>ship</c> movement
/// naming the shipment. A quantity beyond what the reservation still holds (a line shipped from
/// unreserved stock) takes on hand only. Runs once per shipment (the inbox), under the order's lock
/// and the stock rows' locks taken in the one fixed order.
/// </summary>
internal sealed class TakeShippedStockHandler(InventoryDbContext db, ILogger<TakeShippedStockHandler> logger) : ICommandHandler<TakeShippedStock>
{
    public async ValueTask<Unit> Handle(TakeShippedStock command, CancellationToken cancellationToken)
    {
        var orderIds = command.Shipments.Select(s => s.OrderId).Distinct().ToArray();
        await db.LockAsync(orderIds.Select(id => $"order:{id}"), cancellationToken);
        var reservations = await db.Reservations
            .Where(r => orderIds.Contains(r.OrderId) && (r.Status == ReservationStatus.Active || r.Status == ReservationStatus.Confirmed))
            .ToListAsync(cancellationToken);
        var levels = (await StockSql.LockAsync(db, command.Shipments.SelectMany(s => s.Lines.Select(l => (s.Node, l.Sku))), cancellationToken))
            .ToDictionary(l => (l.Location, l.Sku));
        foreach (var shipment in command.Shipments)
        {
            foreach (var line in shipment.Lines)
            {
                if (!levels.TryGetValue((shipment.Node, line.Sku), out var level))
                {
                    logger.LogWarning("Shipment {ShipmentId} of order {OrderId} shipped {Sku} from {Node}, where no stock of it is kept; nothing to take", shipment.ShipmentId, shipment.OrderId, line.Sku, shipment.Node);
                    continue;
                }

                var fromReservation = Reservation.TakeHeld(reservations, shipment.OrderId, shipment.Node, line.Sku, line.Quantity, (reserved, n) => reserved.Shipped += n);

                var taken = Math.Min(line.Quantity, level.OnHand);
                if (taken < line.Quantity)
                {
                    logger.LogWarning(
                        "Shipment {ShipmentId} of order {OrderId} shipped {Quantity} × {Sku} from {Node}, where {OnHand} were on hand: the count was wrong; on hand goes to 0",
                        shipment.ShipmentId, shipment.OrderId, line.Quantity, line.Sku, shipment.Node, level.OnHand);
                }

                var released = Math.Min(fromReservation, level.Reserved);
                level.OnHand -= taken;
                level.Reserved -= released;
                db.Movements.Add(new StockMovement
                {
                    Sku = line.Sku,
                    Location = shipment.Node,
                    Kind = MovementKind.Ship,
                    OnHandDelta = -taken, // what the level lost: the ledger and the level agree
                    ReservedDelta = -released,
                    Reference = $"shipment:{shipment.ShipmentId}",
                });
            }

            foreach (var reservation in reservations.Where(r => r.OrderId == shipment.OrderId && r.Location == shipment.Node))
            {
                reservation.EndIfEmpty("shipped", shipment.ShippedAt);
            }
        }

        await StockSql.WriteLevelsAsync(db, levels.Values, cancellationToken);
        foreach (var level in levels.Values)
        {
            db.Publish(level.Changed("shipment"), partitionKey: level.Sku);
        }

        return Unit.Value;
    }
}
