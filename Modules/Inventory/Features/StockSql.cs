using System.Data.Common;
using Npgsql;
using OmsModular.Modules.Inventory.Domain;
using OmsModular.Shared.Contracts.Inventory;

namespace OmsModular.Modules.Inventory.Features;

/// <summary>Reading stock rows returned by the hand-written SQL of the stock features.</summary>
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
}
