using FluentValidation;
using FluentValidation.Results;
using Mediator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OmsModular.Modules.Notifications.Domain;
using OmsModular.Modules.Notifications.Features.Templates;
using OmsModular.Modules.Notifications.Features.Webhooks;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Notifications.Features;

/// <summary><c>/api/v1/notifications</c>: templates and previews, e-mails and their log, webhook endpoints, deliveries and replay, the event feed.</summary>
internal static class NotificationEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/v1/notifications").WithTags("Notifications");

        group.MapGet("/templates", async (string? eventType, ISender sender, CancellationToken ct) => TypedResults.Ok(await sender.Send(new ListTemplates(eventType), ct)))
            .WithName("ListTemplates").RequireScope(Scopes.NotificationsRead)
            .WithSummary("The stored templates, and the built-in ones no stored template replaces.");
        group.MapPut("/templates/{eventType}/{channel}/{locale}", async (string eventType, string channel, string locale, TemplateRequest body, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new PutTemplate(eventType, channel, locale, body), ct)))
            .WithName("PutTemplate").RequireScope(Scopes.NotificationsWrite)
            .WithSummary("Creates or replaces the Liquid template (subject, HTML, text) of an event type, channel and locale; refused when a part does not parse.");
        group.MapDelete("/templates/{eventType}/{channel}/{locale}", async (string eventType, string channel, string locale, ISender sender, CancellationToken ct) =>
            {
                await sender.Send(new DeleteTemplate(eventType, channel, locale), ct);
                return TypedResults.NoContent();
            })
            .WithName("DeleteTemplate").RequireScope(Scopes.NotificationsWrite)
            .WithSummary("Removes a stored template (the fallback locale's, or the built-in one, applies again).");
        group.MapPost("/templates/preview", async (PreviewRequest body, ISender sender, CancellationToken ct) => TypedResults.Ok(await sender.Send(new PreviewTemplate(body), ct)))
            .WithName("PreviewTemplate").RequireScope(Scopes.NotificationsRead)
            .WithSummary("Renders a template (given, or the one that applies) against a real order's event or a sample.");

        group.MapGet("/emails", async (Guid orderId, ISender sender, CancellationToken ct) => TypedResults.Ok(await sender.Send(new GetEmails(orderId), ct)))
            .WithName("GetEmails").RequireScope(Scopes.NotificationsRead)
            .WithSummary("The e-mails of an order as rendered and stored, their status and delivery log.");
        group.MapGet("/events", async (long? after, int? limit, string? type, Guid? orderId, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetEventFeed(Math.Max(0, after ?? 0), Math.Clamp(limit ?? 100, 1, 500), type, orderId), ct)))
            .WithName("GetEventFeed").RequireScope(Scopes.NotificationsRead)
            .WithSummary("The customer-visible events after a cursor, oldest first: an integration that was down catches up from its last cursor.");

        var webhooks = group.MapGroup("/webhooks/endpoints");
        webhooks.MapPost("/", async (EndpointRequest body, ISender sender, CancellationToken ct) =>
            {
                var created = await sender.Send(new CreateEndpoint(body), ct);
                return TypedResults.Created($"/api/v1/notifications/webhooks/endpoints/{created.Id}", created);
            })
            .WithName("CreateWebhookEndpoint").RequireScope(Scopes.NotificationsWrite)
            .WithSummary("Subscribes a receiver URL to event types (all when none are named); answers with its signing secret.");
        webhooks.MapGet("/", async (ISender sender, CancellationToken ct) => TypedResults.Ok(await sender.Send(new ListEndpoints(), ct)))
            .WithName("ListWebhookEndpoints").RequireScope(Scopes.NotificationsRead)
            .WithSummary("Every webhook endpoint with its state (secrets not shown).");
        webhooks.MapGet("/{id:guid}", async (Guid id, ISender sender, CancellationToken ct) => TypedResults.Ok(await sender.Send(new GetEndpoint(id, WithSecret: false), ct)))
            .WithName("GetWebhookEndpoint").RequireScope(Scopes.NotificationsRead)
            .WithSummary("One webhook endpoint.");
        webhooks.MapGet("/{id:guid}/secret", async (Guid id, ISender sender, CancellationToken ct) => TypedResults.Ok(await sender.Send(new GetEndpoint(id, WithSecret: true), ct)))
            .WithName("GetWebhookEndpointSecret").RequireScope(Scopes.NotificationsWrite)
            .WithSummary("One webhook endpoint with its current signing secret.");
        webhooks.MapPut("/{id:guid}", async (Guid id, EndpointRequest body, ISender sender, CancellationToken ct) => TypedResults.Ok(await sender.Send(new UpdateEndpoint(id, body), ct)))
            .WithName("UpdateWebhookEndpoint").RequireScope(Scopes.NotificationsWrite)
            .WithSummary("Changes the URL, event types or description, or enables or disables the endpoint.");
        webhooks.MapDelete("/{id:guid}", async (Guid id, ISender sender, CancellationToken ct) =>
            {
                await sender.Send(new DeleteEndpoint(id), ct);
                return TypedResults.NoContent();
            })
            .WithName("DeleteWebhookEndpoint").RequireScope(Scopes.NotificationsWrite)
            .WithSummary("Removes the endpoint; its pending deliveries are given up.");
        webhooks.MapPost("/{id:guid}/rotate-secret", async (Guid id, RotateRequest? body, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new RotateSecret(id, body?.Overlap ?? TimeSpan.FromHours(24)), ct)))
            .WithName("RotateWebhookSecret").RequireScope(Scopes.NotificationsWrite)
            .WithSummary("A new signing secret; the old one keeps signing (a second signature) for the overlap (24 h unless given, at most 7 days).");
        webhooks.MapGet("/{id:guid}/log", async (Guid id, string? status, int? limit, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetEndpointLog(id, QueryEnums.ParseOrNull<DeliveryStatus>(status, "status"), Math.Clamp(limit ?? 100, 1, 500)), ct)))
            .WithName("GetWebhookLog").RequireScope(Scopes.NotificationsRead)
            .WithSummary("The endpoint's deliveries (in a state, when given), newest first, and its attempt log.");
        webhooks.MapPost("/{id:guid}/messages/{messageId}/replay", async (Guid id, string messageId, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ReplayMessage(id, messageId), ct)))
            .WithName("ReplayWebhookMessage").RequireScope(Scopes.NotificationsWrite)
            .WithSummary("Sends one message to the endpoint again (same webhook-id).");
        webhooks.MapPost("/{id:guid}/replay", async (Guid id, ReplayWindowRequest body, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ReplayFailed(id, body.Since, body.Until), ct)))
            .WithName("ReplayFailedWebhooks").RequireScope(Scopes.NotificationsWrite)
            .WithSummary("Sends every message of the window the endpoint wants and has not received (failed, or made while it was disabled) again.");
    }
}
