using FluentValidation;
using FluentValidation.Results;
using Mediator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Access;

namespace OmsModular.Modules.Orders.Features;

internal sealed record PlaceOrderResponse(Guid OrderId, string OrderNumber, string Status, string StatusUrl);

internal sealed record CancelRequest(string? Reason);

/// <summary><c>/api/v1/orders</c>: capture, read, list, cancel.</summary>
internal static class OrderEndpoints
{
    public const int MaxBodyBytes = 256 * 1024;

    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/v1/orders").WithTags("Orders");

        group.MapPost("/", async (PlaceOrderRequest order, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, Caller caller, ISender sender, CancellationToken ct) =>
            {
                var result = await sender.Send(new PlaceOrder(idempotencyKey ?? string.Empty, order, caller), ct);
                var url = $"/api/v1/orders/{result.OrderId}";
                return TypedResults.Accepted(url, new PlaceOrderResponse(result.OrderId, result.OrderNumber, result.Status, url));
            })
            .WithMetadata(new RequestSizeLimitAttribute(MaxBodyBytes))
            .AddEndpointFilter(async (context, next) =>
            {
                // Kestrel enforces the limit while reading; this refuses a declared oversize body up front.
                if (context.HttpContext.Request.ContentLength > MaxBodyBytes)
                {
                    throw new ProblemException(
                        StatusCodes.Status413PayloadTooLarge,
                        "payload-too-large",
                        "The order is too large",
                        $"An order body may hold at most {MaxBodyBytes / 1024} KiB.");
                }

                return await next(context);
            })
            .WithName("PlaceOrder")
            .RequireScope(Scopes.OrdersWrite)
            .WithSummary("Captures an order from any channel. Answers 202 once the order is committed; repeat with the same Idempotency-Key to get the same answer.");

        group.MapGet("/{id:guid}", async (Guid id, Caller caller, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetOrder(id, caller), ct)))
            .WithName("GetOrder")
            .RequireScope(Scopes.OrdersRead)
            .WithSummary("The order with its status, lines, delivery and timeline.");

        group.MapGet("/", async (ISender sender, Caller caller, string? status, string? channel, string? customerId, DateTimeOffset? from, DateTimeOffset? to, Guid? cursor, int? limit, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(
                    new ListOrders(QueryEnums.ParseOrNull<OrderStatus>(status, "status"), QueryEnums.ParseOrNull<SalesChannel>(channel, "channel"), customerId, from, to, cursor, limit ?? 50, caller),
                    ct)))
            .WithName("ListOrders")
            .RequireScope(Scopes.OrdersRead)
            .WithSummary("Orders newest first, filtered by status, channel, customer and time range, with keyset (cursor) pagination.");

        group.MapPost("/{id:guid}/release", async (Guid id, Caller caller, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ReleaseOrder(id, caller), ct)))
            .WithName("ReleaseOrder")
            .RequireScope(Scopes.OrdersReview)
            .WithSummary("Releases an order from its hold; payment is authorised next.");

        group.MapPost("/{id:guid}/cancel", async (Guid id, CancelRequest? body, Caller caller, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new CancelOrder(id, body?.Reason ?? "customer-request", caller), ct)))
            .WithName("CancelOrder")
            .RequireScope(Scopes.OrdersWrite)
            .WithSummary("Cancels an order that is not yet confirmed.");

        group.MapPost("/{id:guid}/cancel-lines", async (Guid id, CancelLinesRequest body, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, Caller caller, ISender sender, CancellationToken ct) =>
                TypedResults.Accepted($"/api/v1/orders/{id}", await sender.Send(new CancelLines(id, idempotencyKey ?? string.Empty, body, caller), ct)))
            .WithName("CancelOrderLines")
            .RequireScope(Scopes.OrdersWrite)
            .WithSummary("Asks to cancel units of lines that have not shipped (after confirmation); answers 202. The nodes take off what they have not packed, then the total, the authorisation and the reservations follow, and every line cancelled cancels the order. Requires an Idempotency-Key; a repeat asks nothing again.");

        group.MapPost("/{id:guid}/changes", async (Guid id, ChangeOrderRequest body, [FromHeader(Name = "Idempotency-Key")] string? idempotencyKey, Caller caller, ISender sender, CancellationToken ct) =>
                TypedResults.Accepted($"/api/v1/orders/{id}", await sender.Send(new ChangeOrder(id, idempotencyKey ?? string.Empty, body, caller), ct)))
            .WithName("ChangeOrder")
            .RequireScope(Scopes.OrdersWrite)
            .WithSummary("Changes a confirmed order before it ships: more units of a line, a new line, the shipping address, the service level. Answers 202 with the order and the change priced (changes[].newTotal); the added units are reserved, a higher total is authorised, and the change is applied in full or refused in full (changes[].status). Lower quantities alone cancel those units. Requires an Idempotency-Key; a repeat asks nothing again.");
    }
}
