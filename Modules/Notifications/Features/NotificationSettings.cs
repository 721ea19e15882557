using Microsoft.Extensions.Configuration;

namespace OmsModular.Modules.Notifications.Features;

/// <summary>
/// <c>Oms:Notifications</c>: locales, the SMTP server and sender, retry schedules and poll
/// intervals of e-mail and webhook delivery.
/// </summary>
internal sealed class NotificationSettings(IConfiguration configuration)
{
    public const string Section = "Oms:Notifications";

    /// <summary>The locale of customers whose country has none configured, and the last fallback of every template.</summary>
    public string DefaultLocale { get; } = configuration[$"{Section}:DefaultLocale"] ?? "en";

    /// <summary>A customer's locale by shipping country (<c>Oms:Notifications:Locales:AT = de-AT</c>); German-speaking countries default to <c>de</c>.</summary>
    public string LocaleOf(string countryCode) =>
        configuration[$"{Section}:Locales:{countryCode}"]
        ?? (countryCode is "DE" or "AT" or "CH" or "LI" ? "de" : DefaultLocale);

    public string From { get; } = configuration[$"{Section}:Email:From"] ?? "OmsModular <orders@oms.invalid>";

    /// <summary>The SMTP server; when none is set, e-mails are written as .eml files into <see cref="PickupDirectory"/>.</summary>
    public string? SmtpHost { get; } = configuration[$"{Section}:Smtp:Host"] is { Length: > 0 } host ? host : null;

    public int SmtpPort { get; } = configuration.GetValue($"{Section}:Smtp:Port", 587);

    /// <summary><c>None</c>, <c>StartTls</c>, <c>StartTlsWhenAvailable</c> (the default) or <c>SslOnConnect</c>.</summary>
    public string SmtpSecurity { get; } = configuration[$"{Section}:Smtp:Security"] ?? "StartTlsWhenAvailable";

    public string? SmtpUser { get; } = configuration[$"{Section}:Smtp:User"];

    public string? SmtpPassword { get; } = configuration[$"{Section}:Smtp:Password"];

    public string PickupDirectory { get; } = Path.GetFullPath(configuration[$"{Section}:Email:PickupDirectory"] ?? Path.Combine(".oms", "mail"));

    /// <summary>The pauses before the 2nd, 3rd, … attempt of an e-mail; after the last one it fails for good.</summary>
    public IReadOnlyList<TimeSpan> EmailRetryDelays { get; } = Delays(configuration, $"{Section}:Email:RetryDelays",
        [TimeSpan.FromSeconds(30), TimeSpan.FromMinutes(2), TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2), TimeSpan.FromHours(6)]);

    /// <summary>Svix's schedule: the pauses after the 1st, 2nd, … attempt of a webhook (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h).</summary>
    public IReadOnlyList<TimeSpan> WebhookRetryDelays { get; } = Delays(configuration, $"{Section}:Webhooks:RetryDelays",
        [TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2), TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10)]);

    public TimeSpan WebhookTimeout { get; } = configuration.GetValue($"{Section}:Webhooks:Timeout", TimeSpan.FromSeconds(15));

    /// <summary>An endpoint whose deliveries all failed for this long is disabled (and operations told in the log).</summary>
    public TimeSpan DisableEndpointAfter { get; } = configuration.GetValue($"{Section}:Webhooks:DisableAfter", TimeSpan.FromDays(5));

    /// <summary>The longest a 429's Retry-After is honoured for; longer asks wait this long.</summary>
    public TimeSpan MaxRetryAfter { get; } = configuration.GetValue($"{Section}:Webhooks:MaxRetryAfter", TimeSpan.FromHours(10));

    /// <summary>How often the senders look for due work when nothing woke them.</summary>
    public TimeSpan PollInterval { get; } = configuration.GetValue($"{Section}:PollInterval", TimeSpan.FromSeconds(1));

    private static IReadOnlyList<TimeSpan> Delays(IConfiguration configuration, string key, TimeSpan[] defaults) =>
        configuration[key] is { Length: > 0 } list
            ? list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(d => TimeSpan.Parse(d, System.Globalization.CultureInfo.InvariantCulture)).ToArray()
            : defaults;
}
