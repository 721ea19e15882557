using System.Text.Json;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Notifications.Domain;
using OmsModular.Modules.Notifications.Persistence;

namespace OmsModular.Modules.Notifications.Features;

/// <summary>
/// The pull feed: every customer-visible event after the cursor, oldest first, so an integration
/// that was down catches up on its own (the same messages and ids the webhooks carry).
/// </summary>
internal sealed record GetEventFeed(long After, int Limit, string? EventType, Guid? OrderId) : IQuery<EventPage>;

internal sealed record FeedEvent(string Id, long Cursor, string Type, Guid OrderId, DateTimeOffset CreatedAt, JsonElement Data);

/// <summary>A page of the feed; pass <see cref="NextCursor"/> as <c>after</c> for the next one (the same cursor again when nothing is new).</summary>
internal sealed record EventPage(IReadOnlyList<FeedEvent> Items, long NextCursor);

/// <summary>The e-mails of an order, each with its delivery log.</summary>
internal sealed record GetEmails(Guid OrderId) : IQuery<IReadOnlyList<EmailView>>;

internal sealed record EmailView(Guid Id, string EventType, string Recipient, string Locale, string Subject, string Html, string Text, string Status, int Attempts, string? LastError, DateTimeOffset CreatedAt, DateTimeOffset? SentAt, IReadOnlyList<EmailAttemptView> Log);

internal sealed record EmailAttemptView(DateTimeOffset At, string Outcome, string? Response, string? Error);

internal sealed class FeedHandlers(NotificationsDbContext db) : IQueryHandler<GetEventFeed, EventPage>, IQueryHandler<GetEmails, IReadOnlyList<EmailView>>
{
    public async ValueTask<EventPage> Handle(GetEventFeed query, CancellationToken cancellationToken)
    {
        var messages = db.Messages.AsNoTracking().Where(m => m.Sequence > query.After);
        if (query.EventType is { } type)
        {
            messages = messages.Where(m => m.EventType == type);
        }

        if (query.OrderId is { } orderId)
        {
            messages = messages.Where(m => m.OrderId == orderId);
        }

        var page = await messages.OrderBy(m => m.Sequence).Take(query.Limit).ToListAsync(cancellationToken);
        return new EventPage(
            page.Select(m => new FeedEvent(m.Id, m.Sequence, m.EventType, m.OrderId, m.CreatedAt, JsonDocument.Parse(m.Payload).RootElement.GetProperty("data").Clone())).ToArray(),
            page.Count == 0 ? query.After : page[^1].Sequence);
    }

    public async ValueTask<IReadOnlyList<EmailView>> Handle(GetEmails query, CancellationToken cancellationToken)
    {
        var emails = await db.Emails.AsNoTracking().Where(e => e.OrderId == query.OrderId).OrderBy(e => e.CreatedAt).ToListAsync(cancellationToken);
        var ids = emails.Select(e => e.Id).ToArray();
        var log = (await db.EmailAttempts.AsNoTracking().Where(a => ids.Contains(a.NotificationId)).OrderBy(a => a.Id).ToListAsync(cancellationToken)).ToLookup(a => a.NotificationId);
        return emails.Select(e => new EmailView(
            e.Id, e.EventType, e.Recipient, e.Locale, e.Subject, e.Html, e.Text, e.Status.ToString().ToLowerInvariant(), e.Attempts, e.LastError, e.CreatedAt, e.SentAt,
            log[e.Id].Select(a => new EmailAttemptView(a.At, a.Outcome, a.Response, a.Error)).ToArray())).ToArray();
    }
}
