using OmsModular.Modules.Notifications.Domain;

namespace OmsModular.Modules.Notifications.Features.Templates;

/// <summary>
/// The e-mail templates the module ships with, per event type in English and German: used when no
/// stored template fits, and stored by the demo seed (where they can be changed through the API).
/// </summary>
internal static class BuiltInTemplates
{
    private const string Lines = "{% for line in lines %}{{ line.quantity }} × {{ line.sku }}\n{% endfor %}";
    private const string ChangedLines = "{% for line in lines %}{{ line.quantity }} × {{ line.sku }} (+{{ line.added }})\n{% endfor %}";
    private const string HtmlChangedLines = "<ul>{% for line in lines %}<li>{{ line.quantity }} × {{ line.sku }} (+{{ line.added }})</li>{% endfor %}</ul>";
    private const string HtmlLines = "<ul>{% for line in lines %}<li>{{ line.quantity }} × {{ line.sku }}</li>{% endfor %}</ul>";

    public static IReadOnlyList<(string EventType, string Locale, string Subject, string Html, string Text)> All { get; } =
    [
        (EventTypes.Confirmed, "en", "Your order {{ order.number }} is confirmed",
            "<p>Hello {{ customer.name }},</p><p>thank you: your order <strong>{{ order.number }}</strong> over {{ order.total }} {{ order.currency }} is confirmed. We will tell you when it ships.</p>",
            "Hello {{ customer.name }},\n\nthank you: your order {{ order.number }} over {{ order.total }} {{ order.currency }} is confirmed. We will tell you when it ships.\n"),
        (EventTypes.Shipped, "en", "Your order {{ order.number }} is on its way",
            "<p>Hello {{ customer.name }},</p><p>a parcel of your order <strong>{{ order.number }}</strong> left with {{ shipment.carrier }}:</p>" + HtmlLines + "<p>Tracking number: {{ shipment.trackingNumber }}{% if shipment.trackingUrl %} (<a href=\"{{ shipment.trackingUrl }}\">track it</a>){% endif %}</p>",
            "Hello {{ customer.name }},\n\na parcel of your order {{ order.number }} left with {{ shipment.carrier }}:\n" + Lines + "\nTracking number: {{ shipment.trackingNumber }}{% if shipment.trackingUrl %} ({{ shipment.trackingUrl }}){% endif %}\n"),
        (EventTypes.Delivered, "en", "Your order {{ order.number }} has arrived",
            "<p>Hello {{ customer.name }},</p><p>a parcel of your order <strong>{{ order.number }}</strong> was delivered:</p>" + HtmlLines,
            "Hello {{ customer.name }},\n\na parcel of your order {{ order.number }} was delivered:\n" + Lines),
        (EventTypes.Cancelled, "en", "Your order {{ order.number }} is cancelled",
            "<p>Hello {{ customer.name }},</p><p>your order <strong>{{ order.number }}</strong> is cancelled ({{ reason }}). Nothing will be charged.</p>",
            "Hello {{ customer.name }},\n\nyour order {{ order.number }} is cancelled ({{ reason }}). Nothing will be charged.\n"),
        (EventTypes.Rejected, "en", "We could not accept your order {{ order.number }}",
            "<p>Hello {{ customer.name }},</p><p>we are sorry: we could not accept your order <strong>{{ order.number }}</strong> ({{ reason }}). Nothing will be charged.</p>",
            "Hello {{ customer.name }},\n\nwe are sorry: we could not accept your order {{ order.number }} ({{ reason }}). Nothing will be charged.\n"),
        (EventTypes.Refunded, "en", "A refund for your order {{ order.number }}",
            "<p>Hello {{ customer.name }},</p><p>we refunded <strong>{{ refund.amount }} {{ order.currency }}</strong> for your order <strong>{{ order.number }}</strong> ({{ reason }}). It reaches you the way you paid.</p>",
            "Hello {{ customer.name }},\n\nwe refunded {{ refund.amount }} {{ order.currency }} for your order {{ order.number }} ({{ reason }}). It reaches you the way you paid.\n"),
        (EventTypes.LinesCancelled, "en", "Part of your order {{ order.number }} is cancelled",
            "<p>Hello {{ customer.name }},</p><p>these items of your order <strong>{{ order.number }}</strong> are cancelled ({{ reason }}):</p>" + HtmlLines + "<p>Your order's total is now {{ order.total }} {{ order.currency }}; nothing is charged for them.</p>",
            "Hello {{ customer.name }},\n\nthese items of your order {{ order.number }} are cancelled ({{ reason }}):\n" + Lines + "\nYour order's total is now {{ order.total }} {{ order.currency }}; nothing is charged for them.\n"),
        (EventTypes.Changed, "en", "Your order {{ order.number }} is changed",
            "<p>Hello {{ customer.name }},</p><p>your order <strong>{{ order.number }}</strong> is changed as you asked.</p>{% if lines.size > 0 %}" + HtmlChangedLines + "{% endif %}{% if delivery %}<p>It goes to {{ delivery.name }}, {{ delivery.postalCode }} {{ delivery.city }} ({{ delivery.serviceLevel }}).</p>{% endif %}<p>Your order's total is now {{ order.total }} {{ order.currency }} (it was {{ change.previousTotal }} {{ order.currency }}).</p>",
            "Hello {{ customer.name }},\n\nyour order {{ order.number }} is changed as you asked.\n{% if lines.size > 0 %}" + ChangedLines + "{% endif %}{% if delivery %}It goes to {{ delivery.name }}, {{ delivery.postalCode }} {{ delivery.city }} ({{ delivery.serviceLevel }}).\n{% endif %}\nYour order's total is now {{ order.total }} {{ order.currency }} (it was {{ change.previousTotal }} {{ order.currency }}).\n"),
        (EventTypes.ChangeRefused, "en", "We could not change your order {{ order.number }}",
            "<p>Hello {{ customer.name }},</p><p>we are sorry: the change you asked for could not be made ({{ reason }}). Your order <strong>{{ order.number }}</strong> stays as it was, at {{ order.total }} {{ order.currency }}.</p>",
            "Hello {{ customer.name }},\n\nwe are sorry: the change you asked for could not be made ({{ reason }}). Your order {{ order.number }} stays as it was, at {{ order.total }} {{ order.currency }}.\n"),
        (EventTypes.Confirmed, "de", "Ihre Bestellung {{ order.number }} ist bestätigt",
            "<p>Hallo {{ customer.name }},</p><p>vielen Dank: Ihre Bestellung <strong>{{ order.number }}</strong> über {{ order.total }} {{ order.currency }} ist bestätigt. Wir melden uns, sobald sie versandt wird.</p>",
            "Hallo {{ customer.name }},\n\nvielen Dank: Ihre Bestellung {{ order.number }} über {{ order.total }} {{ order.currency }} ist bestätigt. Wir melden uns, sobald sie versandt wird.\n"),
        (EventTypes.Shipped, "de", "Ihre Bestellung {{ order.number }} ist unterwegs",
            "<p>Hallo {{ customer.name }},</p><p>ein Paket Ihrer Bestellung <strong>{{ order.number }}</strong> ist mit {{ shipment.carrier }} unterwegs:</p>" + HtmlLines + "<p>Sendungsnummer: {{ shipment.trackingNumber }}{% if shipment.trackingUrl %} (<a href=\"{{ shipment.trackingUrl }}\">verfolgen</a>){% endif %}</p>",
            "Hallo {{ customer.name }},\n\nein Paket Ihrer Bestellung {{ order.number }} ist mit {{ shipment.carrier }} unterwegs:\n" + Lines + "\nSendungsnummer: {{ shipment.trackingNumber }}{% if shipment.trackingUrl %} ({{ shipment.trackingUrl }}){% endif %}\n"),
        (EventTypes.Delivered, "de", "Ihre Bestellung {{ order.number }} ist angekommen",
            "<p>Hallo {{ customer.name }},</p><p>ein Paket Ihrer Bestellung <strong>{{ order.number }}</strong> wurde zugestellt:</p>" + HtmlLines,
            "Hallo {{ customer.name }},\n\nein Paket Ihrer Bestellung {{ order.number }} wurde zugestellt:\n" + Lines),
        (EventTypes.Cancelled, "de", "Ihre Bestellung {{ order.number }} ist storniert",
            "<p>Hallo {{ customer.name }},</p><p>Ihre Bestellung <strong>{{ order.number }}</strong> ist storniert ({{ reason }}). Es wird nichts berechnet.</p>",
            "Hallo {{ customer.name }},\n\nIhre Bestellung {{ order.number }} ist storniert ({{ reason }}). Es wird nichts berechnet.\n"),
        (EventTypes.Rejected, "de", "Wir konnten Ihre Bestellung {{ order.number }} nicht annehmen",
            "<p>Hallo {{ customer.name }},</p><p>leider konnten wir Ihre Bestellung <strong>{{ order.number }}</strong> nicht annehmen ({{ reason }}). Es wird nichts berechnet.</p>",
            "Hallo {{ customer.name }},\n\nleider konnten wir Ihre Bestellung {{ order.number }} nicht annehmen ({{ reason }}). Es wird nichts berechnet.\n"),
        (EventTypes.Refunded, "de", "Eine Erstattung zu Ihrer Bestellung {{ order.number }}",
            "<p>Hallo {{ customer.name }},</p><p>wir haben Ihnen <strong>{{ refund.amount }} {{ order.currency }}</strong> zu Ihrer Bestellung <strong>{{ order.number }}</strong> erstattet ({{ reason }}). Der Betrag geht auf dem Weg zurück, auf dem Sie bezahlt haben.</p>",
            "Hallo {{ customer.name }},\n\nwir haben Ihnen {{ refund.amount }} {{ order.currency }} zu Ihrer Bestellung {{ order.number }} erstattet ({{ reason }}). Der Betrag geht auf dem Weg zurück, auf dem Sie bezahlt haben.\n"),
        (EventTypes.LinesCancelled, "de", "Ein Teil Ihrer Bestellung {{ order.number }} ist storniert",
            "<p>Hallo {{ customer.name }},</p><p>diese Artikel Ihrer Bestellung <strong>{{ order.number }}</strong> sind storniert ({{ reason }}):</p>" + HtmlLines + "<p>Der Gesamtbetrag Ihrer Bestellung ist jetzt {{ order.total }} {{ order.currency }}; für sie wird nichts berechnet.</p>",
            "Hallo {{ customer.name }},\n\ndiese Artikel Ihrer Bestellung {{ order.number }} sind storniert ({{ reason }}):\n" + Lines + "\nDer Gesamtbetrag Ihrer Bestellung ist jetzt {{ order.total }} {{ order.currency }}; für sie wird nichts berechnet.\n"),
        (EventTypes.Changed, "de", "Ihre Bestellung {{ order.number }} ist geändert",
            "<p>Hallo {{ customer.name }},</p><p>Ihre Bestellung <strong>{{ order.number }}</strong> ist wie gewünscht geändert.</p>{% if lines.size > 0 %}" + HtmlChangedLines + "{% endif %}{% if delivery %}<p>Sie geht an {{ delivery.name }}, {{ delivery.postalCode }} {{ delivery.city }} ({{ delivery.serviceLevel }}).</p>{% endif %}<p>Der Gesamtbetrag Ihrer Bestellung ist jetzt {{ order.total }} {{ order.currency }} (vorher {{ change.previousTotal }} {{ order.currency }}).</p>",
            "Hallo {{ customer.name }},\n\nIhre Bestellung {{ order.number }} ist wie gewünscht geändert.\n{% if lines.size > 0 %}" + ChangedLines + "{% endif %}{% if delivery %}Sie geht an {{ delivery.name }}, {{ delivery.postalCode }} {{ delivery.city }} ({{ delivery.serviceLevel }}).\n{% endif %}\nDer Gesamtbetrag Ihrer Bestellung ist jetzt {{ order.total }} {{ order.currency }} (vorher {{ change.previousTotal }} {{ order.currency }}).\n"),
        (EventTypes.ChangeRefused, "de", "Wir konnten Ihre Bestellung {{ order.number }} nicht ändern",
            "<p>Hallo {{ customer.name }},</p><p>leider konnten wir die gewünschte Änderung nicht vornehmen ({{ reason }}). Ihre Bestellung <strong>{{ order.number }}</strong> bleibt, wie sie war, bei {{ order.total }} {{ order.currency }}.</p>",
            "Hallo {{ customer.name }},\n\nleider konnten wir die gewünschte Änderung nicht vornehmen ({{ reason }}). Ihre Bestellung {{ order.number }} bleibt, wie sie war, bei {{ order.total }} {{ order.currency }}.\n"),
    ];

    public static (string Subject, string Html, string Text)? Find(string eventType, string locale) =>
        All.Where(t => t.EventType == eventType && t.Locale == locale).Select(t => ((string, string, string)?)(t.Subject, t.Html, t.Text)).FirstOrDefault();
}
