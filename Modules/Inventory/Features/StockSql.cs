using System.Data.Common;
using Npgsql;
using OmsModular.Modules.Inventory.Domain;
using OmsModular.Modules.Inventory.Persistence;
using OmsModular.Shared.Contracts.Inventory;
using static OmsModular.Shared.Infrastructure.Persistence.SqlParameters;

namespace OmsModular.Modules.Inventory.Features;

/// <summary>The hand-written SQL of the stock features: reading stock rows, writing new reservations.</summary>
internal static class StockSql
{
    public const string Columns = "sku, location, on_hand, reserved, safety_stock";

    public static async Task<List<StockLevel>> ReadLevelsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var levels = new List<StockLevel>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            levels.Add(Read(reader));
        }

        return levels;
    }

    /// <summary>Locks (and reads) the stock rows of the given (location, SKU) pairs in one fixed order: location, then SKU.</summary>
    public static async Task<List<StockLevel>> LockAsync(InventoryDbContext db, IEnumerable<(string Location, string Sku)> rows, CancellationToken cancellationToken)
    {
        var keys = rows.Distinct().ToArray();
        if (keys.Length == 0)
        {
            return [];
        }

        await using var select = await db.CreateCommandAsync($"""
            SELECT {Columns} FROM inventory.stock_levels
            JOIN unnest($1::text[], $2::text[]) AS k(key_location, key_sku) ON location = k.key_location AND sku = k.key_sku
            ORDER BY location, sku
            FOR UPDATE OF stock_levels
            """, cancellationToken);
        select.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys.Select(k => k.Location).ToArray() });
        select.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = keys.Select(k => k.Sku).ToArray() });
        return await ReadLevelsAsync(select, cancellationToken);
    }

    /// <summary>Writes the on hand and reserved counts of locked stock rows back (one statement).</summary>
    public static async Task WriteLevelsAsync(InventoryDbContext db, IReadOnlyCollection<StockLevel> levels, CancellationToken cancellationToken)
    {
        if (levels.Count == 0)
        {
            return;
        }

        await using var update = await db.CreateCommandAsync("""
            UPDATE inventory.stock_levels s SET on_hand = v.on_hand, reserved = v.reserved, updated_at = now()
            FROM unnest($1::text[], $2::text[], $3::int[], $4::int[]) AS v(location, sku, on_hand, reserved)
            WHERE s.location = v.location AND s.sku = v.sku
            """, cancellationToken);
        update.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = levels.Select(l => l.Location).ToArray() });
        update.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = levels.Select(l => l.Sku).ToArray() });
        update.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = levels.Select(l => l.OnHand).ToArray() });
        update.Parameters.Add(new NpgsqlParameter<int[]> { TypedValue = levels.Select(l => l.Reserved).ToArray() });
        await update.ExecuteNonQueryAsync(cancellationToken);
    }

    public static StockLevel Read(DbDataReader reader) => new()
    {
        Sku = reader.GetString(0),
        Location = reader.GetString(1),
        OnHand = reader.GetInt32(2),
        Reserved = reader.GetInt32(3),
        SafetyStock = reader.GetInt32(4),
    };

    public static LocationAvailability ToContract(this StockLevel level) =>
        new(level.Sku, level.Location, level.OnHand, level.Reserved, level.SafetyStock, level.Available);

    public static StockLevelChanged Changed(this StockLevel level, string cause) =>
        new(level.Sku, level.Location, level.OnHand, level.Reserved, level.SafetyStock, level.Available, cause);

    /// <summary>
    /// New reservations (with their lines) and the stock movements that go with them, as three
    /// set-based inserts of one batch: reservations are plain inserts nothing reads back in the same
    /// unit, and EF's per-row inserts and tracking of them were most of a reservation's cost.
    /// </summary>
    public static IEnumerable<NpgsqlBatchCommand> Insert(IReadOnlyCollection<Reservation> reservations, IReadOnlyCollection<StockMovement> movements)
    {
        var lines = reservations.SelectMany(r => r.Lines.Select(l => (r.Id, l.Sku, l.Quantity))).ToArray();
        yield return new NpgsqlBatchCommand("""
            INSERT INTO inventory.reservations (id, order_id, location, status, created_at, expires_at, reference)
            SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], $7::uuid[])
            """)
        {
            Parameters =
            {
                ArrayParameter(reservations.Select(r => r.Id)),
                ArrayParameter(reservations.Select(r => r.OrderId)),
                ArrayParameter(reservations.Select(r => r.Location)),
                ArrayParameter(reservations.Select(r => r.Status.ToString())),
                ArrayParameter(reservations.Select(r => r.CreatedAt)),
                ArrayParameter(reservations.Select(r => r.ExpiresAt)),
                ArrayParameter(reservations.Select(r => r.Reference)),
            },
        };
        yield return new NpgsqlBatchCommand("""
            INSERT INTO inventory.reservation_lines (reservation_id, sku, quantity)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[])
            """)
        {
            Parameters = { ArrayParameter(lines.Select(l => l.Id)), ArrayParameter(lines.Select(l => l.Sku)), ArrayParameter(lines.Select(l => l.Quantity)) },
        };
        yield return new NpgsqlBatchCommand("""
            INSERT INTO inventory.stock_movements (id, sku, location, kind, on_hand_delta, reserved_delta, reference, occurred_at)
            SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::text[], $8::timestamptz[])
            """)
        {
            Parameters =
            {
                ArrayParameter(movements.Select(m => m.Id)),
                ArrayParameter(movements.Select(m => m.Sku)),
                ArrayParameter(movements.Select(m => m.Location)),
                ArrayParameter(movements.Select(m => m.Kind.ToString())),
                ArrayParameter(movements.Select(m => m.OnHandDelta)),
                ArrayParameter(movements.Select(m => m.ReservedDelta)),
                ArrayParameter(movements.Select(m => m.Reference)),
                ArrayParameter(movements.Select(m => m.OccurredAt)),
            },
        };
    }
}
