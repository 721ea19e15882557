using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Notifications.Persistence;

namespace OmsModular.Modules.Notifications.Features.Templates;

/// <summary>The template source chosen for an event, channel and locale, and the locale it was found for.</summary>
internal sealed record TemplateSource(string Subject, string Html, string Text, string Locale, bool Stored);

/// <summary>
/// Finds the template for an event type, channel and locale: a stored one for the locale, its
/// language (<c>de</c> for <c>de-AT</c>) or the default locale, else the built-in one in that order.
/// </summary>
internal static class TemplateBook
{
    public static IReadOnlyList<string> Fallbacks(string locale, string defaultLocale)
    {
        var chain = new List<string> { locale };
        if (locale.IndexOf('-') is > 0 and var dash)
        {
            chain.Add(locale[..dash]);
        }

        chain.Add(defaultLocale);
        return chain.Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
    }

    public static async Task<TemplateSource?> FindAsync(NotificationsDbContext db, string eventType, string channel, string locale, string defaultLocale, CancellationToken cancellationToken)
    {
        var chain = Fallbacks(locale, defaultLocale);
        var stored = await db.Templates.AsNoTracking().Where(t => t.EventType == eventType && t.Channel == channel && chain.Contains(t.Locale)).ToListAsync(cancellationToken);
        foreach (var candidate in chain)
        {
            if (stored.FirstOrDefault(t => string.Equals(t.Locale, candidate, StringComparison.OrdinalIgnoreCase)) is { } template)
            {
                return new TemplateSource(template.Subject, template.Html, template.Text, template.Locale, Stored: true);
            }
        }

        foreach (var candidate in chain)
        {
            if (channel == "email" && BuiltInTemplates.Find(eventType, candidate) is { } builtIn)
            {
                return new TemplateSource(builtIn.Subject, builtIn.Html, builtIn.Text, candidate, Stored: false);
            }
        }

        return null;
    }
}
