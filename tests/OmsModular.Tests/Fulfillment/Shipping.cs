using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OmsModular.Tests.Messaging;

namespace OmsModular.Tests.Fulfillment;

/// <summary>Driving fulfilment orders through the warehouse API, and waiting for what follows.</summary>
internal static class Shipping
{
    /// <summary>Waits until the order has this many fulfilment orders, and returns them (by node).</summary>
    public static async Task<JsonElement[]> FulfilmentOrdersAsync(HttpClient client, Guid orderId, int count)
    {
        JsonElement[] orders = [];
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            orders = (await client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/orders?orderId={orderId}")).EnumerateArray().ToArray();
            return orders.Length >= count;
        });
        Assert.Equal(count, orders.Length);
        return orders;
    }

    public static async Task<JsonElement> PostAsync(HttpClient client, string url, object? body = null)
    {
        using var response = await client.PostAsJsonAsync(url, body ?? new { });
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{url}: {response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement;
    }

    /// <summary>Start picking and pack (every line picked in full).</summary>
    public static async Task PickAndPackAsync(HttpClient client, Guid fulfilmentOrderId)
    {
        await PostAsync(client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentOrderId}/start-picking");
        await PostAsync(client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentOrderId}/pack", new { parcels = 1, weightKg = 1.2m });
    }

    public static async Task<HttpResponseMessage> ShipRequestAsync(HttpClient client, Guid fulfilmentOrderId, string? key, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentOrderId}/shipments")
        {
            Content = JsonContent.Create(body),
        };
        if (key is not null)
        {
            request.Headers.Add("Idempotency-Key", key);
        }

        return await client.SendAsync(request);
    }

    /// <summary>Ships (the given lines, or everything packed) and returns the shipment.</summary>
    public static async Task<JsonElement> ShipAsync(HttpClient client, Guid fulfilmentOrderId, params (string Sku, int Quantity)[] lines)
    {
        var tracking = "TRK" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();
        object body = lines.Length == 0
            ? new { carrier = "dhl", service = "parcel", trackingNumber = tracking, trackingUrl = $"https://track.example/{tracking}" }
            : new { carrier = "dhl", service = "parcel", trackingNumber = tracking, trackingUrl = $"https://track.example/{tracking}", lines = lines.Select(l => new { sku = l.Sku, quantity = l.Quantity }) };
        using var response = await ShipRequestAsync(client, fulfilmentOrderId, Guid.NewGuid().ToString(), body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"{response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement;
    }

    /// <summary>Asks to cancel units of a confirmed order (a fresh Idempotency-Key); the request must be accepted.</summary>
    public static async Task CancelLinesAsync(HttpClient client, Guid orderId, params (string Sku, int Quantity)[] lines)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/orders/{orderId}/cancel-lines")
        {
            Content = JsonContent.Create(new { lines = lines.Select(l => new { sku = l.Sku, quantity = l.Quantity }) }),
            Headers = { { "Idempotency-Key", Guid.NewGuid().ToString() } },
        };
        using var response = await client.SendAsync(request);
        Assert.True(response.IsSuccessStatusCode, $"{response.StatusCode} {await response.Content.ReadAsStringAsync()}");
    }

    /// <summary>Waits until the order is in this state and returns it.</summary>
    public static async Task<JsonElement> OrderInStateAsync(HttpClient client, Guid orderId, string status)
    {
        JsonElement order = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            order = await client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{orderId}");
            return order.GetProperty("status").GetString() == status;
        });
        return order;
    }

    /// <summary>Waits until Payments has captured this much of the order, and returns its ledger.</summary>
    public static async Task<JsonElement> CapturedAsync(HttpClient client, Guid orderId, decimal captured)
    {
        JsonElement ledger = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            ledger = await client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={orderId}");
            return ledger.GetProperty("captured").GetDecimal() >= captured;
        });
        Assert.Equal(captured, ledger.GetProperty("captured").GetDecimal());
        return ledger;
    }

    public static async Task<(int OnHand, int Reserved)> StockAsync(HttpClient client, string sku, string node)
    {
        var availability = await client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{sku}");
        var at = availability.GetProperty("locations").EnumerateArray().Single(l => l.GetProperty("location").GetString() == node);
        return (at.GetProperty("onHand").GetInt32(), at.GetProperty("reserved").GetInt32());
    }

    /// <summary>Waits until every module's outbox and inbox are drained (the cascade settled): then the invariants can be judged.</summary>
    public static async Task SettledAsync(HttpClient client) =>
        await MessagingHarness.WaitUntilAsync(async () =>
            (await client.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/backlog")).EnumerateArray()
            .All(m => m.GetProperty("outboxPending").GetInt64() == 0 && m.GetProperty("inboxPending").GetInt64() == 0));

    /// <summary>Waits until a delivery of the order's messages to the consumer is a dead letter, and returns it.</summary>
    public static async Task<JsonElement> DeadLetterAsync(HttpClient client, Guid orderId, string module, string consumer)
    {
        JsonElement deadLetter = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            var letters = await client.GetFromJsonAsync<JsonElement>($"/api/v1/admin/messaging/dead-letters?module={module}&consumer={consumer}");
            deadLetter = letters.EnumerateArray().FirstOrDefault(d => d.GetProperty("partitionKey").GetString() == orderId.ToString());
            return deadLetter.ValueKind == JsonValueKind.Object;
        });
        return deadLetter;
    }

    /// <summary>Replays a dead letter (as an operator does) and waits until the cascade settled again.</summary>
    public static async Task ReplayAsync(HttpClient client, JsonElement deadLetter)
    {
        using var replay = await client.PostAsync($"/api/v1/admin/messaging/dead-letters/{deadLetter.GetProperty("module").GetString()}/{deadLetter.GetProperty("id").GetGuid()}/replay", null);
        Assert.True(replay.IsSuccessStatusCode, await replay.Content.ReadAsStringAsync());
        await SettledAsync(client);
    }

    /// <summary>Waits until the cascade settled and the e-mail and webhook senders have nothing left to send (what was to arrive has arrived).</summary>
    public static async Task NotificationsDrainedAsync(HttpClient client, string connectionString)
    {
        await SettledAsync(client);
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            await using var connection = new Npgsql.NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand(
                "SELECT (SELECT count(*) FROM notifications.emails WHERE status = 'Pending') + (SELECT count(*) FROM notifications.webhook_deliveries WHERE status = 'Pending')",
                connection);
            return (long)(await command.ExecuteScalarAsync())! == 0;
        });
    }
}
