using System.Text.Json.Serialization;
using Mediator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Inventory.Features;

internal sealed record SetStockLevelRequest([property: JsonRequired] int OnHand, int? SafetyStock);

internal sealed record AdjustStockRequest([property: JsonRequired] int Delta, [property: JsonRequired] string Reason, string? Reference);

internal sealed record StockBatchRequest([property: JsonRequired] IReadOnlyList<StockBatchRow> Items);

internal sealed record StockBatchResult(int Updated);

internal sealed record ReserveStockRequest([property: JsonRequired] Guid OrderId, [property: JsonRequired] string Location, [property: JsonRequired] IReadOnlyList<ReservationLine> Lines, int? HoldSeconds);

internal sealed record ReleaseRequest(string? Reason);

/// <summary><c>/api/v1/inventory</c>: stock sync, adjustments, bulk loads, availability, reservations.</summary>
internal static class InventoryEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/v1/inventory").WithTags("Inventory");

        group.MapPut("/stock/{sku}/{location}", async (string sku, string location, SetStockLevelRequest body, Caller caller, ISender sender, IModuleClient modules, CancellationToken ct) =>
            {
                await StockLocations.EnsureNodesAsync(modules, [location], ct);
                return TypedResults.Ok(await sender.Send(new SetStockLevel(sku, location, body.OnHand, body.SafetyStock, caller.Actor), ct));
            })
            .WithName("SetStockLevel")
            .RequireScope(Scopes.InventoryWrite)
            .WithSummary("Sets the absolute on-hand count (stock sync) and optionally the safety stock of a SKU at a location.");

        group.MapPost("/stock/{sku}/{location}/adjustments", async (string sku, string location, AdjustStockRequest body, Caller caller, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new AdjustStock(sku, location, body.Delta, body.Reason, body.Reference, caller.Actor), ct)))
            .WithName("AdjustStock")
            .RequireScope(Scopes.InventoryWrite)
            .WithSummary("Changes on-hand by a delta with a reason: receipt, damage, count or correction.");

        group.MapPost("/stock/batch", async (StockBatchRequest body, Caller caller, ISender sender, IModuleClient modules, CancellationToken ct) =>
            {
                if (body.Items is { Count: > 0 and <= StockRules.MaxBatchRows } items)
                {
                    await StockLocations.EnsureNodesAsync(modules, items.Select(i => i.Location).ToArray(), ct);
                }

                return TypedResults.Ok(new StockBatchResult(await sender.Send(new LoadStockBatch(body.Items ?? [], caller.Actor), ct)));
            })
            .WithName("LoadStockBatch")
            .RequireScope(Scopes.InventoryWrite)
            .WithSummary("Stock sync of up to 10,000 (sku, location) rows in one transaction.");

        group.MapGet("/availability/{sku}", async (string sku, ISender sender, CancellationToken ct) =>
                TypedResults.Ok((await sender.Send(new GetStockAvailability([sku]), ct)).Skus[0]))
            .WithName("GetSkuAvailability")
            .RequireScope(Scopes.InventoryRead)
            .WithSummary("Available-to-promise of one SKU per location and across the network.");

        group.MapGet("/availability", async (string[] sku, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetStockAvailability(sku), ct)))
            .WithName("GetAvailability")
            .RequireScope(Scopes.InventoryRead)
            .WithSummary("Available-to-promise of a set of SKUs (?sku=A&sku=B).");

        group.MapPost("/reservations", async Task<Results<Created<ReservationOutcome>, ProblemHttpResult>> (ReserveStockRequest body, ISender sender, CancellationToken ct) =>
            {
                var hold = body.HoldSeconds is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
                var outcome = await sender.Send(new ReserveStockCommand(body.OrderId, body.Location ?? string.Empty, body.Lines ?? [], hold), ct);
                if (outcome.State == ReservationState.Held)
                {
                    return TypedResults.Created($"/api/v1/inventory/reservations?orderId={body.OrderId}", outcome);
                }

                // The attempt itself is recorded (inventory.stock-reservation-failed); nothing is held.
                var (code, title) = outcome.State == ReservationState.Short
                    ? ("stock-short", "Not enough stock to reserve every line")
                    : ("order-ended", "The order has ended: nothing is reserved for it");
                return TypedResults.Problem(new Microsoft.AspNetCore.Mvc.ProblemDetails
                {
                    Status = StatusCodes.Status409Conflict,
                    Type = $"urn:oms:problem:{code}",
                    Title = title,
                    Detail = outcome.State == ReservationState.Short ? "See shortfalls for what each line lacks at the location." : $"Order {outcome.OrderId} has ended.",
                    Extensions =
                    {
                        ["orderId"] = outcome.OrderId,
                        ["location"] = outcome.Location,
                        ["state"] = outcome.State.Kebab(),
                        ["shortfalls"] = outcome.Shortfalls,
                    },
                });
            })
            .WithName("ReserveStock")
            .RequireScope(Scopes.InventoryWrite)
            .WithSummary("Reserves every line at one location, all or nothing; 409 with the shortfall per line when stock is short.");

        group.MapGet("/reservations", async (Guid orderId, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetReservations(orderId), ct)))
            .WithName("GetReservations")
            .RequireScope(Scopes.InventoryWrite)
            .WithSummary("The reservations of an order.");

        group.MapPost("/reservations/{orderId:guid}/release", async (Guid orderId, ReleaseRequest? body, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ReleaseReservationsCommand(orderId, body?.Reason ?? "released"), ct)))
            .WithName("ReleaseReservations")
            .RequireScope(Scopes.InventoryWrite)
            .WithSummary("Releases the order's reservations; answers what the order holds afterwards (idempotent).");

        group.MapPost("/reservations/{orderId:guid}/confirm", async (Guid orderId, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ConfirmReservationsCommand(orderId, null), ct)))
            .WithName("ConfirmReservations")
            .RequireScope(Scopes.InventoryWrite)
            .WithSummary("Keeps the order's reservations: they no longer expire; answers confirmed, lost or order-ended (idempotent).");
    }
}
