using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using OmsModular.Tests.Messaging;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Orders;

/// <summary>Placing orders through the Host and waiting for the pipeline to settle.</summary>
internal static class Pipeline
{
    public static async Task<string> NodeAsync(HttpClient client)
    {
        var code = Unique("WH-BERLIN");
        using var response = await client.PutAsJsonAsync($"/api/v1/fulfillment/nodes/{code}", new
        {
            name = code, kind = "warehouse", countryCode = "DE", latitude = 52.45, longitude = 13.40, canShip = true, canPickup = false, dailyCapacity = 0, priority = 1,
        });
        response.EnsureSuccessStatusCode();
        return code;
    }

    public static async Task<Guid> PlaceAsync(HttpClient client, JsonObject order)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/orders")
        {
            Content = new StringContent(order.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
            Headers = { { "Idempotency-Key", Guid.NewGuid().ToString() } },
        };
        using var accepted = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        return (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("orderId").GetGuid();
    }

    /// <summary>
    /// Places the order and waits until the pipeline has left Pending and its steps have settled.
    /// A step may stay pending on an order that ended (rejected, cancelled) before the step got to
    /// it: Pricing then never prices it, and a late reservation is ignored (and released by Inventory).
    /// </summary>
    public static async Task<JsonElement> PlaceAndSettleAsync(HttpClient client, JsonObject order, TimeSpan? timeout = null)
    {
        var id = await PlaceAsync(client, order);
        JsonElement current = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            current = await client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
            var steps = current.GetProperty("steps");
            var status = current.GetProperty("status").GetString();
            var ended = status is "rejected" or "cancelled";
            return status != "pending"
                   && (steps.GetProperty("reservation").GetString() != "pending" || ended)
                   && (steps.GetProperty("pricing").GetString() != "pending" || ended);
        }, timeout);
        return current;
    }
}
