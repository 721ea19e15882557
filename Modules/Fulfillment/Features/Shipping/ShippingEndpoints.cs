using FluentValidation;
using FluentValidation.Results;
using Mediator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Fulfillment.Features.Shipping;

/// <summary>The warehouse and store side of fulfilment: work queues, picking, packing, shipping, delivery.</summary>
internal static class ShippingEndpoints
{
    public static void Map(RouteGroupBuilder group)
    {
        group.MapGet("/orders", async (Guid orderId, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetFulfilmentOrders(orderId), ct)))
            .WithName("GetFulfilmentOrders")
            .RequireScope(Scopes.FulfillmentRead)
            .WithSummary("The fulfilment orders (one per node) of a confirmed order, with their lines' progress and shipments.");
        group.MapGet("/fulfilment-orders", async (string node, string? status, int? limit, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ListFulfilmentOrders(node, QueryEnums.ParseOrNull<FulfilmentOrderStatus>(status, "status"), Math.Clamp(limit ?? 50, 1, 200)), ct)))
            .WithName("ListFulfilmentOrders")
            .RequireScope(Scopes.FulfillmentRead)
            .WithSummary("A node's work queue: its fulfilment orders (in a state, when given), oldest first.");
        group.MapGet("/fulfilment-orders/{id:guid}", async (Guid id, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetFulfilmentOrder(id), ct)))
            .WithName("GetFulfilmentOrder")
            .RequireScope(Scopes.FulfillmentRead)
            .WithSummary("One fulfilment order with its lines' progress and shipments.");
        group.MapPost("/fulfilment-orders/{id:guid}/start-picking", async (Guid id, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new StartPicking(id), ct)))
            .WithName("StartPicking")
            .RequireScope(Scopes.FulfillmentWrite)
            .WithSummary("The node starts picking (ready-to-pick → picking); a repeat changes nothing.");
        group.MapPost("/fulfilment-orders/{id:guid}/picks", async (Guid id, PicksRequest body, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ReportPicks(id, body), ct)))
            .WithName("ReportPicks")
            .RequireScope(Scopes.FulfillmentWrite)
            .WithSummary("Reports the quantity picked so far of each SKU; a quantity below the ordered one is a short pick.");
        group.MapPost("/fulfilment-orders/{id:guid}/pack", async (Guid id, PackRequest? body, ISender sender, FulfillmentDbContext db, CancellationToken ct) =>
                TypedResults.Ok(await OnceMoreOnConflictAsync(db, () => sender.Send(new PackFulfilmentOrder(id, body ?? new PackRequest(null, null)), ct).AsTask())))
            .WithName("PackFulfilmentOrder")
            .RequireScope(Scopes.FulfillmentWrite)
            .WithSummary("Packed for shipping with what was picked (parcels and weight optional); units a short pick did not find are given up and re-sourced. A repeat changes nothing.");
        group.MapPost("/fulfilment-orders/{id:guid}/reject", async (Guid id, RejectRequest body, ISender sender, FulfillmentDbContext db, CancellationToken ct) =>
                TypedResults.Ok(await OnceMoreOnConflictAsync(db, () => sender.Send(new RejectFulfilmentOrder(id, body), ct).AsTask())))
            .WithName("RejectFulfilmentOrder")
            .RequireScope(Scopes.FulfillmentWrite)
            .WithSummary("The node cannot ship what it has not shipped (damaged-stock, node-closed, other): those units are re-sourced at other nodes, or cancelled when none has them. A repeat changes nothing.");
        group.MapPost("/fulfilment-orders/{id:guid}/shipments", async (Guid id, ShipRequest body, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, ISender sender, FulfillmentDbContext db, CancellationToken ct) =>
            {
                // A repeat racing its first request meets it on the key or the version: asked again, it finds the shipment.
                var result = await OnceMoreOnConflictAsync(db, () => sender.Send(new ShipFulfilmentOrder(id, idempotencyKey ?? string.Empty, body), ct).AsTask());
                var url = $"/api/v1/fulfillment/shipments/{result.Shipment.Id}";
                return result.Created ? Results.Created(url, result.Shipment) : Results.Ok(result.Shipment);
            })
            .Produces<ShipmentView>(StatusCodes.Status201Created)
            .Produces<ShipmentView>()
            .WithName("ShipFulfilmentOrder")
            .RequireScope(Scopes.FulfillmentWrite)
            .WithSummary("A shipment leaves with carrier and tracking: the named lines, or everything packed and not shipped. Requires an Idempotency-Key; a repeat answers the same shipment.");
        group.MapPost("/fulfilment-orders/{id:guid}/ready-for-pickup", async (Guid id, ISender sender, FulfillmentDbContext db, CancellationToken ct) =>
                TypedResults.Ok(await OnceMoreOnConflictAsync(db, () => sender.Send(new ReadyForPickup(id), ct).AsTask())))
            .WithName("ReadyForPickup")
            .RequireScope(Scopes.FulfillmentWrite)
            .WithSummary("A packed pickup order is ready at its store (until its pickup time ends); a repeat changes nothing.");
        group.MapPost("/fulfilment-orders/{id:guid}/picked-up", async (Guid id, ISender sender, FulfillmentDbContext db, CancellationToken ct) =>
                TypedResults.Ok(await OnceMoreOnConflictAsync(db, () => sender.Send(new PickUp(id), ct).AsTask())))
            .WithName("PickedUp")
            .RequireScope(Scopes.FulfillmentWrite)
            .WithSummary("The customer took a pickup order at the store: everything packed is handed over (shipped and delivered at once).");
        group.MapGet("/shipments/{id:guid}", async (Guid id, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetShipment(id), ct)))
            .WithName("GetShipment")
            .RequireScope(Scopes.FulfillmentRead)
            .WithSummary("One shipment: lines, carrier, tracking and times.");
        group.MapPost("/shipments/{id:guid}/deliver", async (Guid id, DeliveryRequest? body, ISender sender, FulfillmentDbContext db, CancellationToken ct) =>
                TypedResults.Ok(await OnceMoreOnConflictAsync(db, () => sender.Send(new DeliverShipment(id, body?.DeliveredAt), ct).AsTask())))
            .WithName("DeliverShipment")
            .RequireScope(Scopes.FulfillmentWrite)
            .WithSummary("The shipment reached the customer; a repeat changes nothing.");
        group.MapPost("/carrier-events", async (CarrierTrackingEvent body, ISender sender, FulfillmentDbContext db, CancellationToken ct) =>
                TypedResults.Ok(await OnceMoreOnConflictAsync(db, () => sender.Send(body, ct).AsTask()))) // carriers seldom retry a 409
            .WithName("PostCarrierEvent")
            .RequireScope(Scopes.FulfillmentWrite)
            .WithSummary("A carrier's tracking callback (by carrier and tracking number); a delivered event delivers the shipment.");
    }

    /// <summary>
    /// Runs a step, and once more when it lost a race on the fulfilment order's version or a unique key
    /// (its transaction was rolled back; the step then runs on what the order is now).
    /// </summary>
    private static async Task<T> OnceMoreOnConflictAsync<T>(FulfillmentDbContext db, Func<Task<T>> step)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await step();
            }
            catch (Exception conflict) when (attempt < 3 && (conflict is DbUpdateConcurrencyException || (conflict is DbUpdateException { InnerException: Npgsql.PostgresException { SqlState: "23505" } })))
            {
                db.Forget(); // its events too: the step decides them again on what the order is now
            }
        }
    }
}
