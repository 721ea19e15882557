using FluentValidation;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Notifications.Domain;
using OmsModular.Modules.Notifications.Persistence;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Notifications.Features.Webhooks;

/// <summary>Sends one message to an endpoint again (whatever became of it before); the receiver sees the same <c>webhook-id</c>.</summary>
internal sealed record ReplayMessage(Guid EndpointId, string MessageId) : ICommand<DeliveryView>;

internal sealed record ReplayWindowRequest(DateTimeOffset Since, DateTimeOffset? Until);

/// <summary>Sends every message of the window the endpoint wants and has not received (failed, or made while it was disabled) again.</summary>
internal sealed record ReplayFailed(Guid EndpointId, DateTimeOffset Since, DateTimeOffset? Until) : ICommand<ReplayView>;

internal sealed record ReplayView(Guid EndpointId, int Replayed);

internal sealed record DeliveryView(Guid Id, Guid EndpointId, string MessageId, string EventType, string Status, int Attempts, DateTimeOffset NextAttemptAt, int? LastStatusCode, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset? SucceededAt);

internal sealed record AttemptView(Guid DeliveryId, string MessageId, DateTimeOffset At, int? StatusCode, string? Error, int DurationMs);

/// <summary>An endpoint's deliveries (in a state, when given) newest first, and its attempt log.</summary>
internal sealed record GetEndpointLog(Guid EndpointId, DeliveryStatus? Status, int Limit) : IQuery<EndpointLogView>;

internal sealed record EndpointLogView(Guid EndpointId, IReadOnlyList<DeliveryView> Deliveries, IReadOnlyList<AttemptView> Attempts);

internal sealed class ReplayFailedValidator : AbstractValidator<ReplayFailed>
{
    public ReplayFailedValidator() =>
        RuleFor(c => c.Until).GreaterThan(c => c.Since).When(c => c.Until is not null).OverridePropertyName("until");
}

internal sealed class ReplayHandlers(NotificationsDbContext db, NotificationSignals signals, TimeProvider clock) :
    ICommandHandler<ReplayMessage, DeliveryView>,
    ICommandHandler<ReplayFailed, ReplayView>,
    IQueryHandler<GetEndpointLog, EndpointLogView>
{
    public async ValueTask<DeliveryView> Handle(ReplayMessage command, CancellationToken cancellationToken)
    {
        var endpoint = await EnabledAsync(command.EndpointId, cancellationToken);
        var message = await db.Messages.AsNoTracking().SingleOrDefaultAsync(m => m.Id == command.MessageId, cancellationToken)
            ?? throw ProblemException.NotFound("Webhook message", $"No message {command.MessageId}.");
        var delivery = await db.Deliveries.SingleOrDefaultAsync(d => d.EndpointId == endpoint.Id && d.MessageId == message.Id, cancellationToken);
        var now = clock.GetUtcNow();
        if (delivery is null)
        {
            delivery = new WebhookDelivery { Id = Guid.CreateVersion7(), EndpointId = endpoint.Id, MessageId = message.Id, CreatedAt = now };
            db.Deliveries.Add(delivery);
        }

        (delivery.Status, delivery.NextAttemptAt, delivery.Attempts) = (DeliveryStatus.Pending, now, 0);
        signals.WebhookStored();
        return View(delivery, message.EventType);
    }

    /// <summary>
    /// Every message of the window that the endpoint wants and did not receive is owed again: failed
    /// deliveries start over, and messages that arrived while the endpoint was disabled (so no
    /// delivery was made for them) get one.
    /// </summary>
    public async ValueTask<ReplayView> Handle(ReplayFailed command, CancellationToken cancellationToken)
    {
        var endpoint = await EnabledAsync(command.EndpointId, cancellationToken);
        var now = clock.GetUtcNow();
        var until = command.Until ?? now;
        await using var replay = await db.CreateCommandAsync("""
            INSERT INTO notifications.webhook_deliveries (id, endpoint_id, message_id, status, attempts, next_attempt_at, created_at)
            SELECT gen_random_uuid(), $1, m.id, 'Pending', 0, $4, $4
            FROM notifications.webhook_messages m
            WHERE m.created_at >= $2 AND m.created_at < $3 AND (cardinality($5::text[]) = 0 OR m.event_type = ANY($5))
            ON CONFLICT (endpoint_id, message_id) DO UPDATE SET status = 'Pending', attempts = 0, next_attempt_at = EXCLUDED.next_attempt_at
              WHERE webhook_deliveries.status = 'Failed'
            """, cancellationToken);
        replay.Parameters.Add(new Npgsql.NpgsqlParameter<Guid> { TypedValue = endpoint.Id });
        replay.Parameters.Add(new Npgsql.NpgsqlParameter<DateTimeOffset> { TypedValue = command.Since > endpoint.CreatedAt ? command.Since : endpoint.CreatedAt }); // nothing from before the endpoint existed
        replay.Parameters.Add(new Npgsql.NpgsqlParameter<DateTimeOffset> { TypedValue = until });
        replay.Parameters.Add(new Npgsql.NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        replay.Parameters.Add(new Npgsql.NpgsqlParameter<string[]> { TypedValue = endpoint.EventTypes.ToArray() });
        var replayed = await replay.ExecuteNonQueryAsync(cancellationToken);
        signals.WebhookStored();
        return new ReplayView(endpoint.Id, replayed);
    }

    public async ValueTask<EndpointLogView> Handle(GetEndpointLog query, CancellationToken cancellationToken)
    {
        if (!await db.Endpoints.AnyAsync(e => e.Id == query.EndpointId, cancellationToken))
        {
            throw ProblemException.NotFound("Webhook endpoint", $"No webhook endpoint {query.EndpointId}.");
        }

        var deliveries = db.Deliveries.AsNoTracking().Where(d => d.EndpointId == query.EndpointId);
        if (query.Status is { } status)
        {
            deliveries = deliveries.Where(d => d.Status == status);
        }

        var page = await deliveries.OrderByDescending(d => d.CreatedAt).Take(query.Limit)
            .Join(db.Messages, d => d.MessageId, m => m.Id, (d, m) => new { Delivery = d, m.EventType })
            .ToListAsync(cancellationToken);
        var attempts = await db.WebhookAttempts.AsNoTracking().Where(a => a.EndpointId == query.EndpointId).OrderByDescending(a => a.At).ThenByDescending(a => a.Id).Take(query.Limit).ToListAsync(cancellationToken);
        return new EndpointLogView(
            query.EndpointId,
            page.Select(p => View(p.Delivery, p.EventType)).ToArray(),
            attempts.Select(a => new AttemptView(a.DeliveryId, a.MessageId, a.At, a.StatusCode, a.Error, a.DurationMs)).ToArray());
    }

    private async Task<WebhookEndpoint> EnabledAsync(Guid id, CancellationToken cancellationToken)
    {
        var endpoint = await db.Endpoints.AsNoTracking().SingleOrDefaultAsync(e => e.Id == id, cancellationToken)
            ?? throw ProblemException.NotFound("Webhook endpoint", $"No webhook endpoint {id}.");
        return endpoint.Status == EndpointStatus.Enabled
            ? endpoint
            : throw ProblemException.Conflict("endpoint-disabled", "The endpoint is disabled", $"Endpoint {id} is disabled ({endpoint.DisabledReason}); enable it before replaying.");
    }

    private static DeliveryView View(WebhookDelivery d, string eventType) =>
        new(d.Id, d.EndpointId, d.MessageId, eventType, d.Status.Kebab(), d.Attempts, d.NextAttemptAt, d.LastStatusCode, d.LastError, d.CreatedAt, d.SucceededAt);
}
