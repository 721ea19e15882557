using System.Text.Json;
using OmsModular.Modules.Notifications.Domain;
using OmsModular.Shared.Infrastructure.ReferenceData;

namespace OmsModular.Modules.Notifications.Features;

/// <summary>
/// What templates see: <c>order</c> (id, number, total, currency, channel, status), <c>customer</c>
/// (name, email), <c>shipment</c> (id, carrier, trackingNumber, trackingUrl), <c>refund</c> (id,
/// amount, refundedTotal), <c>lines</c> (sku,
/// quantity), <c>reason</c>, <c>detail</c> and <c>eventType</c>, built from the order's contact and
/// the event's data (the same data a webhook carries).
/// </summary>
internal static class NotificationModel
{
    public static IReadOnlyDictionary<string, object?> Build(OrderContact contact, string eventType, JsonElement data)
    {
        var values = (Dictionary<string, object?>)Plain(data)!;
        var currency = values.GetValueOrDefault("currency") as string ?? contact.Currency;
        return new Dictionary<string, object?>
        {
            ["eventType"] = eventType,
            ["order"] = new Dictionary<string, object?>
            {
                ["id"] = contact.OrderId.ToString(),
                ["number"] = contact.OrderNumber,
                ["total"] = values.GetValueOrDefault("total") is decimal total ? Money(total, currency) : null,
                ["currency"] = currency,
                ["channel"] = contact.Channel,
                ["status"] = values.GetValueOrDefault("orderStatus"),
            },
            ["customer"] = new Dictionary<string, object?> { ["name"] = contact.CustomerName, ["email"] = contact.Email },
            ["shipment"] = values.ContainsKey("shipmentId")
                ? new Dictionary<string, object?>
                {
                    ["id"] = values.GetValueOrDefault("shipmentId"),
                    ["carrier"] = values.GetValueOrDefault("carrier"),
                    ["trackingNumber"] = values.GetValueOrDefault("trackingNumber"),
                    ["trackingUrl"] = values.GetValueOrDefault("trackingUrl"),
                }
                : null,
            ["lines"] = values.GetValueOrDefault("lines") ?? new List<object?>(),
            ["refund"] = values.ContainsKey("refundId")
                ? new Dictionary<string, object?>
                {
                    ["id"] = values.GetValueOrDefault("refundId"),
                    ["amount"] = values.GetValueOrDefault("amount") is decimal amount ? Money(amount, currency) : null,
                    ["refundedTotal"] = values.GetValueOrDefault("refundedTotal") is decimal refunded ? Money(refunded, currency) : null,
                }
                : null,
            ["change"] = values.GetValueOrDefault("previousTotal") is decimal previous
                ? new Dictionary<string, object?> { ["id"] = values.GetValueOrDefault("changeId"), ["previousTotal"] = Money(previous, currency) }
                : null,
            ["delivery"] = values.GetValueOrDefault("delivery"),
            ["reason"] = values.GetValueOrDefault("reason"),
            ["detail"] = values.GetValueOrDefault("detail"),
        };
    }

    /// <summary>An amount to the currency's minor unit, invariant: <c>42.50</c>.</summary>
    private static string Money(decimal amount, string currency) =>
        Math.Round(amount, Currencies.IsKnown(currency) ? Currencies.MinorUnits(currency) : 2, MidpointRounding.AwayFromZero)
            .ToString($"F{(Currencies.IsKnown(currency) ? Currencies.MinorUnits(currency) : 2)}", System.Globalization.CultureInfo.InvariantCulture);

    public static OrderContact SampleContact(string locale) => new()
    {
        OrderId = Guid.Empty,
        OrderNumber = "OM-000000",
        CustomerName = "Ada Lovelace",
        Email = "ada@example.com",
        Locale = locale,
        Channel = "web",
        Currency = "EUR",
    };

    public static JsonElement SampleData(string eventType) => JsonSerializer.SerializeToElement(eventType switch
    {
        EventTypes.Confirmed => (object)new { orderNumber = "OM-000000", total = 42.50m, currency = "EUR" },
        EventTypes.Shipped => new { orderNumber = "OM-000000", shipmentId = Guid.Empty, carrier = "dhl", trackingNumber = "00340434161094042557", trackingUrl = "https://track.example/00340434161094042557", orderStatus = "shipped", lines = new[] { new { sku = "SKU-1", quantity = 2 } } },
        EventTypes.Delivered => new { orderNumber = "OM-000000", shipmentId = Guid.Empty, orderStatus = "delivered", lines = new[] { new { sku = "SKU-1", quantity = 2 } } },
        EventTypes.Refunded => new { refundId = Guid.Empty, amount = 9.99m, refundedTotal = 9.99m, currency = "EUR", reason = "goodwill" },
        _ => new { orderNumber = "OM-000000", reason = "customer-request", detail = "cancelled on request" },
    });

    /// <summary>A JSON value as dictionaries, lists, strings, decimals and booleans (what Fluid reads).</summary>
    private static object? Plain(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => element.EnumerateObject().ToDictionary(p => p.Name, p => Plain(p.Value)),
        JsonValueKind.Array => element.EnumerateArray().Select(Plain).ToList(),
        JsonValueKind.String => element.GetString(),
        JsonValueKind.Number => element.GetDecimal(),
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => null,
    };
}
