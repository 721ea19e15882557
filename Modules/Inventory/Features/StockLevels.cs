using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Shared.Contracts.Fulfillment;
using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using Npgsql;
using NpgsqlTypes;
using OmsModular.Modules.Inventory.Domain;
using OmsModular.Modules.Inventory.Persistence;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Infrastructure.Hosting;

namespace OmsModular.Modules.Inventory.Features;

/// <summary>Stock sync: the absolute on-hand count (and optionally the safety stock) of a SKU at a location.</summary>
internal sealed record SetStockLevel(string Sku, string Location, int OnHand, int? SafetyStock, string? Actor = null) : ICommand<LocationAvailability>;

/// <summary>A relative change of on-hand with its reason (receipt, damage, count, correction).</summary>
internal sealed record AdjustStock(string Sku, string Location, int Delta, string Reason, string? Reference, string? Actor = null) : ICommand<LocationAvailability>;

/// <summary>A bulk stock sync (up to <see cref="StockRules.MaxBatchRows"/> rows in one transaction).</summary>
internal sealed record LoadStockBatch(IReadOnlyList<StockBatchRow> Items, string? Actor = null) : ICommand<int>;

internal sealed record StockBatchRow([property: JsonRequired] string Sku, [property: JsonRequired] string Location, [property: JsonRequired] int OnHand, int? SafetyStock);

internal static class StockRules
{
    public const int MaxBatchRows = 10_000;
    public const int MaxOnHand = 100_000_000;
    public static readonly string[] AdjustmentReasons = ["receipt", "damage", "count", "correction"];

    public static IRuleBuilderOptions<T, string> IsCode<T>(this IRuleBuilder<T, string> rule) => rule
        .NotEmpty()
        .MaximumLength(64)
        .Matches("^[A-Za-z0-9][A-Za-z0-9._-]*$").WithMessage("'{PropertyName}' may hold letters, digits, '.', '_' and '-' only.");
}

internal sealed class SetStockLevelValidator : AbstractValidator<SetStockLevel>
{
    public SetStockLevelValidator()
    {
        RuleFor(c => c.Sku).IsCode();
        RuleFor(c => c.Location).IsCode();
        RuleFor(c => c.OnHand).InclusiveBetween(0, StockRules.MaxOnHand);
        RuleFor(c => c.SafetyStock).InclusiveBetween(0, StockRules.MaxOnHand);
    }
}

internal sealed class AdjustStockValidator : AbstractValidator<AdjustStock>
{
    public AdjustStockValidator()
    {
        RuleFor(c => c.Sku).IsCode();
        RuleFor(c => c.Location).IsCode();
        RuleFor(c => c.Delta).NotEqual(0).InclusiveBetween(-StockRules.MaxOnHand, StockRules.MaxOnHand);
        RuleFor(c => c.Reason).Must(r => StockRules.AdjustmentReasons.Contains(r))
            .WithMessage($"'Reason' must be one of {string.Join(", ", StockRules.AdjustmentReasons)}.");
        RuleFor(c => c.Reference).MaximumLength(200);
    }
}

internal sealed class LoadStockBatchValidator : AbstractValidator<LoadStockBatch>
{
    public LoadStockBatchValidator()
    {
        RuleFor(c => c.Items).NotEmpty().Must(i => i.Count <= StockRules.MaxBatchRows)
            .WithMessage($"A batch holds at most {StockRules.MaxBatchRows} rows.");
        RuleFor(c => c.Items)
            .Must(items => items.Select(i => (i.Sku, i.Location)).Distinct().Count() == items.Count)
            .WithMessage("A (sku, location) pair appears twice in the batch.")
            .When(c => c.Items is { Count: > 0 });
        RuleForEach(c => c.Items).ChildRules(item =>
        {
            item.RuleFor(i => i.Sku).IsCode();
            item.RuleFor(i => i.Location).IsCode();
            item.RuleFor(i => i.OnHand).InclusiveBetween(0, StockRules.MaxOnHand);
            item.RuleFor(i => i.SafetyStock).InclusiveBetween(0, StockRules.MaxOnHand);
        });
    }
}

internal sealed class StockLevelHandlers(InventoryDbContext db) :
    ICommandHandler<SetStockLevel, LocationAvailability>,
    ICommandHandler<AdjustStock, LocationAvailability>,
    ICommandHandler<LoadStockBatch, int>
{
    public async ValueTask<LocationAvailability> Handle(SetStockLevel command, CancellationToken cancellationToken)
    {
        var levels = await UpsertAsync([new StockBatchRow(command.Sku, command.Location, command.OnHand, command.SafetyStock)], command.Actor, cancellationToken);
        return levels[0].ToContract();
    }

    public async ValueTask<int> Handle(LoadStockBatch command, CancellationToken cancellationToken) =>
        (await UpsertAsync(command.Items, command.Actor, cancellationToken)).Count;

    public async ValueTask<LocationAvailability> Handle(AdjustStock command, CancellationToken cancellationToken)
    {
        await using var update = await db.CreateCommandAsync($"""
            UPDATE inventory.stock_levels SET on_hand = on_hand + $3, updated_at = now()
            WHERE sku = $1 AND location = $2 AND on_hand::bigint + $3 BETWEEN 0 AND {StockRules.MaxOnHand}
            RETURNING {StockSql.Columns}
            """, cancellationToken);
        update.Parameters.Add(new NpgsqlParameter<string> { TypedValue = command.Sku });
        update.Parameters.Add(new NpgsqlParameter<string> { TypedValue = command.Location });
        update.Parameters.Add(new NpgsqlParameter<int> { TypedValue = command.Delta });
        var level = (await StockSql.ReadLevelsAsync(update, cancellationToken)).SingleOrDefault();
        if (level is null)
        {
            var exists = await db.StockLevels.FindAsync([command.Sku, command.Location], cancellationToken);
            throw exists is null
                ? ProblemException.NotFound("Stock", $"There is no stock of {command.Sku} at {command.Location}; set it first.")
                : ProblemException.Conflict(
                    command.Delta < 0 ? "stock-would-go-negative" : "stock-above-maximum",
                    command.Delta < 0 ? "On hand cannot go below zero" : $"On hand cannot go above {StockRules.MaxOnHand}",
                    $"{command.Sku} at {command.Location} has {exists.OnHand} on hand; an adjustment of {command.Delta} would take it below zero or above {StockRules.MaxOnHand}.",
                    "delta");
        }

        db.Movements.Add(new StockMovement
        {
            Sku = level.Sku,
            Location = level.Location,
            Kind = Enum.Parse<MovementKind>(command.Reason, ignoreCase: true),
            OnHandDelta = command.Delta,
            Reference = command.Reference,
            Actor = command.Actor,
        });
        db.Publish(level.Changed(command.Reason), partitionKey: level.Sku);
        StockShortfalls.Detect(db, [level]);
        return level.ToContract();
    }

    private async Task<List<StockLevel>> UpsertAsync(IReadOnlyList<StockBatchRow> rows, string? actor, CancellationToken cancellationToken)
    {

        // One round trip for one row or ten thousand, in the stock rows' one lock order (location, SKU):
        // the rows are locked and their on hand read first (a statement of its own: a locking read in the
        // same statement as the upsert would not see the rows the upsert changes), then on hand is
        // overwritten, reserved kept.
        await using var batch = await db.CreateBatchAsync(cancellationToken);
        NpgsqlParameter[] Inputs() =>
        [
            new() { Value = rows.Select(r => r.Sku).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
            new() { Value = rows.Select(r => r.Location).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text },
            new() { Value = rows.Select(r => r.OnHand).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer },
            new() { Value = rows.Select(r => r.SafetyStock).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer },
        ];
        // Rows that do not exist yet are made first (on hand 0; a concurrent sync of the same new row
        // waits here and then reads what the first wrote), so every row is read locked before it changes.
        var create = new NpgsqlBatchCommand("""
            INSERT INTO inventory.stock_levels (sku, location, on_hand, reserved, safety_stock, updated_at)
            SELECT sku, location, 0, 0, 0, now() FROM unnest($1::text[], $2::text[], $3::int[], $4::int[]) AS i(sku, location, on_hand, safety_stock)
            ORDER BY location, sku
            ON CONFLICT (sku, location) DO NOTHING
            """);
        create.Parameters.AddRange(Inputs());
        var previous = new NpgsqlBatchCommand("""
            SELECT s.sku, s.location, s.on_hand
            FROM inventory.stock_levels s JOIN unnest($1::text[], $2::text[], $3::int[], $4::int[]) AS i(sku, location, on_hand, safety_stock)
              ON i.sku = s.sku AND i.location = s.location
            ORDER BY s.location, s.sku
            FOR UPDATE OF s
            """);
        previous.Parameters.AddRange(Inputs());
        var upsert = new NpgsqlBatchCommand($"""
            WITH input AS (
                SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[]) AS i(sku, location, on_hand, safety_stock)
            )
            INSERT INTO inventory.stock_levels AS s (sku, location, on_hand, reserved, safety_stock, updated_at)
            SELECT sku, location, on_hand, 0, coalesce(safety_stock, 0), now() FROM input ORDER BY location, sku
            ON CONFLICT (sku, location) DO UPDATE
            SET on_hand = excluded.on_hand,
                safety_stock = coalesce((SELECT i.safety_stock FROM input i WHERE i.sku = s.sku AND i.location = s.location), s.safety_stock),
                updated_at = now()
            RETURNING {StockSql.Columns}
            """);
        upsert.Parameters.AddRange(Inputs());
        batch.BatchCommands.Add(create);
        batch.BatchCommands.Add(previous);
        batch.BatchCommands.Add(upsert);

        var before = new Dictionary<(string Sku, string Location), int>();
        var levels = new List<StockLevel>(rows.Count);
        await using (var reader = await batch.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                before[(reader.GetString(0), reader.GetString(1))] = reader.GetInt32(2);
            }

            await reader.NextResultAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                var level = StockSql.Read(reader);
                levels.Add(level);
                var delta = level.OnHand - before.GetValueOrDefault((level.Sku, level.Location));
                if (delta != 0)
                {
                    db.Movements.Add(new StockMovement { Sku = level.Sku, Location = level.Location, Kind = MovementKind.Sync, OnHandDelta = delta, Actor = actor });
                }
            }
        }

        foreach (var level in levels)
        {
            db.Publish(level.Changed("sync"), partitionKey: level.Sku);
        }

        StockShortfalls.Detect(db, levels);
        return levels;
    }
}

/// <summary>
/// Stock is kept only at fulfilment nodes: a location Fulfillment does not know would be counted in
/// network availability but never shipped from. Asked before the stock command's transaction opens
/// (no connection is held while Fulfillment answers).
/// </summary>
internal static class StockLocations
{
    public static async Task EnsureNodesAsync(IModuleClient modules, IReadOnlyList<string> locations, CancellationToken cancellationToken)
    {
        var known = (await modules.SendAsync(new FindNodes(locations.Distinct(StringComparer.Ordinal).ToArray()), cancellationToken)).Codes.ToHashSet(StringComparer.Ordinal);
        var unknown = locations.Select((location, index) => (Location: location, Index: index)).Where(l => !known.Contains(l.Location)).ToArray();
        if (unknown.Length > 0)
        {
            throw new ProblemException(422, "unknown-location", "Stock can only be kept at a fulfilment node",
                $"There is no fulfilment node {unknown[0].Location}{(unknown.Length > 1 ? $" (nor {unknown.Length - 1} more)" : string.Empty)}; create it first (PUT /api/v1/fulfillment/nodes/{{code}}).",
                locations.Count == 1 ? "location" : $"items[{unknown[0].Index}].location");
        }
    }
}
