using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Testing;
using OmsModular.Tests.Fulfillment;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Infrastructure;
using OmsModular.Tests.Messaging;
using OmsModular.Tests.Orders;
using StandardWebhooks;
using StandardWebhooks.Diagnostics;
using static OmsModular.Tests.Fulfillment.Shipping;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Notifications;

/// <summary>E-mails through a real SMTP server and webhooks to a real receiver, verified with an independent Standard Webhooks implementation.</summary>
[Collection(HostCollection.Name)]
public sealed class NotificationTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task An_order_carried_to_delivered_sends_its_confirmed_shipped_and_delivered_emails_once_rendered_in_the_customers_language()
    {
        var email = $"ada-{Guid.NewGuid():N}@example.com";
        var (order, _) = await ConfirmedAsync(email);
        var (id, number) = (order.GetProperty("id").GetGuid(), order.GetProperty("number").GetString()!);
        var shipment = await ShipEverythingAsync(id);
        await PostAsync(Client, $"/api/v1/fulfillment/shipments/{shipment.GetProperty("id").GetGuid()}/deliver");
        await OrderInStateAsync(Client, id, "delivered");

        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Smtp.To(email).Count >= 3));
        await NotificationsDrainedAsync(Client, host.ConnectionString); // nothing more is to arrive
        var received = host.Smtp.To(email);
        Assert.Equal(
            [$"Ihre Bestellung {number} ist bestätigt", $"Ihre Bestellung {number} ist unterwegs", $"Ihre Bestellung {number} ist angekommen"],
            received.Select(m => m.Subject)); // a DE address: German templates, in the order of the events
        var shipped = received[1];
        var tracking = shipment.GetProperty("trackingNumber").GetString()!;
        Assert.Contains($"Sendungsnummer: {tracking}", shipped.TextBody);
        Assert.Contains($"<a href=\"https://track.example/{tracking}\">verfolgen</a>", shipped.HtmlBody);
        Assert.Contains("Hallo Ada Lovelace", shipped.TextBody);
        Assert.Contains($"2 × ", shipped.TextBody);

        var emails = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications/emails?orderId={id}");
        Assert.All(emails.EnumerateArray(), e =>
        {
            Assert.Equal("sent", e.GetProperty("status").GetString());
            var log = Assert.Single(e.GetProperty("log").EnumerateArray());
            Assert.Equal("sent", log.GetProperty("outcome").GetString());
            Assert.False(string.IsNullOrEmpty(log.GetProperty("response").GetString())); // the server's answer
        });
        Assert.Equal(3, emails.GetArrayLength());
    }

    [Fact]
    public async Task An_email_refused_with_a_5xx_fails_for_good_and_one_answered_4xx_is_sent_on_a_later_attempt()
    {
        var bounce = $"bounce-{Guid.NewGuid():N}@example.com";
        var flaky = $"flaky-{Guid.NewGuid():N}@example.com";
        var (bounced, _) = await ConfirmedAsync(bounce);
        var (retried, _) = await ConfirmedAsync(flaky);

        var failed = await EmailAsync(bounced.GetProperty("id").GetGuid(), "order.confirmed", "failed");
        var attempt = Assert.Single(failed.GetProperty("log").EnumerateArray());
        Assert.Equal("permanent-failure", attempt.GetProperty("outcome").GetString());
        Assert.StartsWith("550", attempt.GetProperty("response").GetString());
        Assert.Empty(host.Smtp.To(bounce));

        var sent = await EmailAsync(retried.GetProperty("id").GetGuid(), "order.confirmed", "sent");
        Assert.Equal(["transient-failure", "transient-failure", "sent"], sent.GetProperty("log").EnumerateArray().Select(a => a.GetProperty("outcome").GetString()));
        Assert.Single(host.Smtp.To(flaky));
    }

    [Fact]
    public async Task An_event_whose_email_commit_fails_once_is_sent_once()
    {
        var email = $"once-{Guid.NewGuid():N}@example.com";
        await using var fault = await Fault.FailCommitAsync(host.ConnectionString, "notifications.emails", $"NEW.recipient = '{email}' AND NEW.status = 'Pending' AND NEW.attempts = 0");
        var (order, _) = await ConfirmedAsync(email);
        await EmailAsync(order.GetProperty("id").GetGuid(), "order.confirmed", "sent");
        Assert.True(await fault.FiredAsync() >= 2);
        await NotificationsDrainedAsync(Client, host.ConnectionString); // nothing more is to arrive
        Assert.Single(host.Smtp.To(email));
    }

    [Fact]
    public async Task Templates_are_managed_validated_and_previewed_against_a_sample_or_a_real_order()
    {
        using (var broken = await Client.PutAsJsonAsync("/api/v1/notifications/templates/order.confirmed/email/fr", new { subject = "Commande {{ order.number }}", html = "<p>{% if %}</p>", text = "ok" }))
        {
            var problem = await Problem.AssertAsync(broken, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
            Assert.True(problem.GetProperty("errors").TryGetProperty("html", out _));
        }

        using (var unknown = await Client.PutAsJsonAsync("/api/v1/notifications/templates/order.exploded/email/fr", new { subject = "x", html = "x", text = "x" }))
        {
            await Problem.AssertAsync(unknown, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        }

        await Catalog.PutAsync(Client, "/api/v1/notifications/templates/order.confirmed/email/fr", new
        {
            subject = "Commande {{ order.number }} confirmée",
            html = "<p>Bonjour {{ customer.name }}, total {{ order.total }} {{ order.currency }}</p>",
            text = "Bonjour {{ customer.name }}",
        });
        var sample = await PostAsync(Client, "/api/v1/notifications/templates/preview", new { eventType = "order.confirmed", locale = "fr-BE" });
        Assert.Equal("fr", sample.GetProperty("locale").GetString()); // fr-BE falls back to fr
        Assert.Equal("Commande OM-000000 confirmée", sample.GetProperty("subject").GetString());
        Assert.Equal("<p>Bonjour Ada Lovelace, total 42.50 EUR</p>", sample.GetProperty("html").GetString()); // money to the currency's minor unit

        var (order, _) = await ConfirmedAsync($"preview-{Guid.NewGuid():N}@example.com", customerName: "<Zoë & Co>");
        var id = order.GetProperty("id").GetGuid();
        await EmailAsync(id, "order.confirmed", "sent");
        var real = await PostAsync(Client, "/api/v1/notifications/templates/preview", new { eventType = "order.confirmed", orderId = id, locale = "fr" });
        Assert.Equal($"Commande {order.GetProperty("number").GetString()} confirmée", real.GetProperty("subject").GetString());
        Assert.Contains("&lt;Zo", real.GetProperty("html").GetString()); // values are HTML-encoded in the HTML part
        Assert.Contains($"total {order.GetProperty("total").GetDecimal().ToString("F2", System.Globalization.CultureInfo.InvariantCulture)} EUR", real.GetProperty("html").GetString());
        Assert.Equal("Bonjour <Zoë & Co>", real.GetProperty("text").GetString());

        var listed = await Client.GetFromJsonAsync<JsonElement>("/api/v1/notifications/templates?eventType=order.confirmed");
        Assert.Contains(listed.EnumerateArray(), t => t.GetProperty("locale").GetString() == "fr" && !t.GetProperty("builtIn").GetBoolean());
        Assert.Contains(listed.EnumerateArray(), t => t.GetProperty("locale").GetString() == "en" && t.GetProperty("builtIn").GetBoolean());
        using var deleted = await Client.DeleteAsync("/api/v1/notifications/templates/order.confirmed/email/fr");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
    }

    [Fact]
    public async Task Webhooks_are_signed_retried_after_500s_at_least_once_with_one_id_and_replayed_on_request()
    {
        var name = Unique("flaky");
        host.Webhooks.Answer(name, attempt => (attempt <= 2 ? 500 : 200, null));
        var endpoint = await SubscribeAsync(name, "order.confirmed", "order.shipped");
        var (order, _) = await ConfirmedAsync($"hooks-{Guid.NewGuid():N}@example.com");
        var id = order.GetProperty("id").GetGuid();

        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Webhooks.ReceivedBy(name).Any(r => r.AnsweredWith == 200)));
        var received = host.Webhooks.ReceivedBy(name).Where(r => Body(r).GetProperty("data").GetProperty("orderId").GetGuid() == id).ToArray();
        Assert.Equal([500, 500, 200], received.Select(r => r.AnsweredWith));
        Assert.Single(received.Select(r => r.Headers["webhook-id"].ToString()).Distinct()); // the receiver's idempotency key
        var secret = endpoint.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret);
        foreach (var request in received)
        {
            new StandardWebhook(secret).Verify(request.Body, request.Headers); // throws when the signature or timestamp is wrong
        }

        Assert.Throws<WebhookVerificationException>(() => new StandardWebhook("whsec_" + Convert.ToBase64String(new byte[32])).Verify(received[0].Body, received[0].Headers));
        var body = Body(received[^1]);
        Assert.Equal("order.confirmed", body.GetProperty("type").GetString());
        Assert.Equal(order.GetProperty("total").GetDecimal(), body.GetProperty("data").GetProperty("total").GetDecimal());

        var endpointId = endpoint.GetProperty("id").GetGuid();
        var log = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications/webhooks/endpoints/{endpointId}/log");
        var messageId = received[0].Headers["webhook-id"].ToString();
        Assert.Equal([200, 500, 500], log.GetProperty("attempts").EnumerateArray().Where(a => a.GetProperty("messageId").GetString() == messageId).Select(a => a.GetProperty("statusCode").GetInt32()));

        var replayed = await PostAsync(Client, $"/api/v1/notifications/webhooks/endpoints/{endpointId}/messages/{messageId}/replay");
        Assert.Equal("pending", replayed.GetProperty("status").GetString());
        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Webhooks.ReceivedBy(name).Count(r => r.Headers["webhook-id"] == messageId) == 4));
        Assert.Equal(200, host.Webhooks.ReceivedBy(name).Last(r => r.Headers["webhook-id"] == messageId).AnsweredWith);
    }

    [Fact]
    public async Task A_410_disables_the_endpoint_and_a_429_is_retried_after_the_time_it_asks()
    {
        var gone = Unique("gone");
        host.Webhooks.Answer(gone, _ => (410, null));
        var busy = Unique("busy");
        host.Webhooks.Answer(busy, attempt => (attempt == 1 ? 429 : 200, attempt == 1 ? "2" : null));
        var goneEndpoint = await SubscribeAsync(gone, "order.confirmed");
        await SubscribeAsync(busy, "order.confirmed");
        await ConfirmedAsync($"gone-{Guid.NewGuid():N}@example.com");

        JsonElement disabled = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            disabled = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications/webhooks/endpoints/{goneEndpoint.GetProperty("id").GetGuid()}");
            return disabled.GetProperty("status").GetString() == "disabled";
        });
        Assert.Contains("410", disabled.GetProperty("disabledReason").GetString());
        Assert.True(host.Webhooks.ReceivedBy(gone).Count == 1, string.Join("\n", host.Webhooks.ReceivedBy(gone).Select(r => $"{r.At:O} {r.Headers["webhook-id"]} {r.Body}")));
        await ConfirmedAsync($"gone-{Guid.NewGuid():N}@example.com");

        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Webhooks.ReceivedBy(busy).Count(r => r.AnsweredWith == 200) >= 2));
        var first = host.Webhooks.ReceivedBy(busy).ToArray();
        Assert.Equal(429, first[0].AnsweredWith);
        var retry = first.First(r => r.Headers["webhook-id"] == first[0].Headers["webhook-id"] && r.AnsweredWith == 200);
        Assert.True(retry.At - first[0].At >= TimeSpan.FromSeconds(1.9), $"retried after {(retry.At - first[0].At).TotalSeconds:0.00} s, asked for 2 s");
        Assert.Single(host.Webhooks.ReceivedBy(gone)); // a disabled endpoint is sent nothing more

        // Fixed and enabled again, a replay of the window brings what it missed while disabled.
        host.Webhooks.Answer(gone, _ => (200, null));
        var goneId = goneEndpoint.GetProperty("id").GetGuid();
        using (var enable = await Client.PutAsJsonAsync($"/api/v1/notifications/webhooks/endpoints/{goneId}", new { url = host.Webhooks.Url(gone), eventTypes = new[] { "order.confirmed" }, enabled = true }))
        {
            enable.EnsureSuccessStatusCode();
        }

        var replay = await PostAsync(Client, $"/api/v1/notifications/webhooks/endpoints/{goneId}/replay", new { since = first[0].At.AddMinutes(-1) });
        Assert.True(replay.GetProperty("replayed").GetInt32() >= 2, replay.ToString()); // the one refused with 410, and the one made while disabled
        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Webhooks.ReceivedBy(gone).Count(r => r.AnsweredWith == 200) >= 2));
    }

    [Fact]
    public async Task During_a_secret_rotation_both_secrets_sign_and_after_the_overlap_only_the_new_one()
    {
        var name = Unique("rotate");
        var endpoint = await SubscribeAsync(name, "order.confirmed");
        var endpointId = endpoint.GetProperty("id").GetGuid();
        var old = endpoint.GetProperty("secret").GetString()!;
        var rotated = await PostAsync(Client, $"/api/v1/notifications/webhooks/endpoints/{endpointId}/rotate-secret", new { overlap = "01:00:00" });
        var fresh = rotated.GetProperty("secret").GetString()!;
        Assert.NotEqual(old, fresh);

        await ConfirmedAsync($"rotate-{Guid.NewGuid():N}@example.com");
        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Webhooks.ReceivedBy(name).Count >= 1));
        var during = host.Webhooks.ReceivedBy(name)[0];
        Assert.True(2 == during.Headers["webhook-signature"].ToString().Split(' ').Length, during.Headers["webhook-signature"].ToString());
        // StandardWebhooks 1.1.2 checks every signature but the last of a header: each is verified on its own.
        var signatures = during.Headers["webhook-signature"].ToString().Split(' ');
        Assert.Single(signatures, s => Verifies(fresh, during, s));
        Assert.Single(signatures, s => Verifies(old, during, s));

        await PostAsync(Client, $"/api/v1/notifications/webhooks/endpoints/{endpointId}/rotate-secret", new { overlap = "00:00:00" });
        var newest = (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications/webhooks/endpoints/{endpointId}/secret")).GetProperty("secret").GetString()!;
        await ConfirmedAsync($"rotate-{Guid.NewGuid():N}@example.com");
        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Webhooks.ReceivedBy(name).Count >= 2));
        var after = host.Webhooks.ReceivedBy(name)[1];
        new StandardWebhook(newest).Verify(after.Body, after.Headers);
        Assert.Throws<WebhookVerificationException>(() => new StandardWebhook(fresh).Verify(after.Body, after.Headers));
    }

    [Fact]
    public async Task Failed_deliveries_in_a_window_are_replayed_and_the_pull_feed_lets_an_integration_catch_up()
    {
        var name = Unique("down");
        host.Webhooks.Answer(name, _ => (503, null));
        var endpoint = await SubscribeAsync(name, "order.confirmed");
        var endpointId = endpoint.GetProperty("id").GetGuid();
        var cursor = (await Client.GetFromJsonAsync<JsonElement>("/api/v1/notifications/events?after=999999999999")).GetProperty("nextCursor").GetInt64();
        var latest = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications/events?after=0&limit=500");
        while (latest.GetProperty("items").GetArrayLength() == 500)
        {
            latest = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications/events?after={latest.GetProperty("nextCursor").GetInt64()}&limit=500");
        }

        cursor = latest.GetProperty("nextCursor").GetInt64();
        var since = DateTimeOffset.UtcNow.AddSeconds(-1);
        var (a, _) = await ConfirmedAsync($"down-{Guid.NewGuid():N}@example.com");
        var (b, _) = await ConfirmedAsync($"down-{Guid.NewGuid():N}@example.com");
        var ids = new[] { a.GetProperty("id").GetGuid(), b.GetProperty("id").GetGuid() };

        // The receiver is down for the whole schedule: both deliveries fail for good.
        await MessagingHarness.WaitUntilAsync(async () =>
            (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications/webhooks/endpoints/{endpointId}/log?status=failed")).GetProperty("deliveries").GetArrayLength() >= 2,
            TimeSpan.FromSeconds(30));

        // It catches up on its own from the feed …
        var feed = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications/events?after={cursor}&type=order.confirmed");
        Assert.Equal(ids.Order(), feed.GetProperty("items").EnumerateArray().Select(e => e.GetProperty("orderId").GetGuid()).Where(ids.Contains).Order());
        var next = feed.GetProperty("nextCursor").GetInt64();
        Assert.Empty((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications/events?after={next}&type=order.confirmed&orderId={ids[0]}")).GetProperty("items").EnumerateArray());

        // … or, back up, asks for the failed window again.
        host.Webhooks.Answer(name, _ => (204, null));
        var replay = await PostAsync(Client, $"/api/v1/notifications/webhooks/endpoints/{endpointId}/replay", new { since });
        Assert.True(replay.GetProperty("replayed").GetInt32() >= 2, replay.ToString()); // the two failed ones (and any other confirmation of the window)
        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(
            ids.All(id => host.Webhooks.ReceivedBy(name).Any(r => r.AnsweredWith == 204 && Body(r).GetProperty("data").GetProperty("orderId").GetGuid() == id))));
    }

    [Fact]
    public async Task While_notifications_fail_orders_still_confirm_ship_and_capture_and_afterwards_every_email_and_webhook_goes_out_once()
    {
        var name = Unique("outage");
        await SubscribeAsync(name, "order.confirmed", "order.shipped");
        var emails = Enumerable.Range(0, 3).Select(i => $"outage{i}-{Guid.NewGuid():N}@example.com").ToArray();
        var orders = new List<Guid>();
        // Notifications' own tables refuse every write (its database is down for it): its consumers fail
        // as an outage and pause; nothing else waits for them.
        await using (await Fault.OutageAsync(host.ConnectionString, "notifications.webhook_messages", "true"))
        {
            foreach (var email in emails)
            {
                var (order, _) = await ConfirmedAsync(email);
                var id = order.GetProperty("id").GetGuid();
                await ShipEverythingAsync(id);
                await OrderInStateAsync(Client, id, "shipped");
                await CapturedAsync(Client, id, order.GetProperty("total").GetDecimal());
                orders.Add(id);
            }

            Assert.All(emails, e => Assert.Empty(host.Smtp.To(e)));
        }

        try
        {
            await MessagingHarness.WaitUntilAsync(() => Task.FromResult(emails.All(e => host.Smtp.To(e).Count == 2)), TimeSpan.FromSeconds(30));
        }
        catch (TimeoutException)
        {
            var backlog = await Client.GetStringAsync("/api/v1/admin/messaging/backlog");
            var dead = await Client.GetStringAsync("/api/v1/admin/messaging/dead-letters?module=Notifications");
            var mails = await Client.GetStringAsync($"/api/v1/notifications/emails?orderId={orders[1]}");
            mails += await Client.GetStringAsync($"/api/v1/notifications/events?orderId={orders[1]}");
            using var preview = await Client.PostAsJsonAsync("/api/v1/notifications/templates/preview", new { eventType = "order.confirmed", orderId = orders[1] });
            mails += await preview.Content.ReadAsStringAsync();
            Assert.Fail($"{string.Join(",", emails.Select(e => host.Smtp.To(e).Count))}\n{backlog}\n{dead}\n{mails}");
        }

        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Webhooks.ReceivedBy(name).Count == 6), TimeSpan.FromSeconds(30));
        await NotificationsDrainedAsync(Client, host.ConnectionString); // nothing more is to arrive
        Assert.All(emails, e => Assert.Equal(2, host.Smtp.To(e).Count));
        Assert.Equal(6, host.Webhooks.ReceivedBy(name).Select(r => r.Headers["webhook-id"].ToString()).Distinct().Count());
        Assert.Equal(6, host.Webhooks.ReceivedBy(name).Count);
        await Invariants.AssertHoldAsync(host.ConnectionString, orders);
    }

    private async Task<JsonElement> SubscribeAsync(string name, params string[] eventTypes)
    {
        using var response = await Client.PostAsJsonAsync("/api/v1/notifications/webhooks/endpoints", new { url = host.Webhooks.Url(name), eventTypes });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static bool Verifies(string secret, TestWebhookReceiver.Received request, string signature)
    {
        var headers = new Microsoft.AspNetCore.Http.HeaderDictionary(request.Headers.ToDictionary(h => h.Key, h => h.Value)) { ["webhook-signature"] = signature };
        try
        {
            new StandardWebhook(secret).Verify(request.Body, headers);
            return true;
        }
        catch (WebhookVerificationException)
        {
            return false;
        }
    }

    private static JsonElement Body(TestWebhookReceiver.Received request) => JsonDocument.Parse(request.Body).RootElement;

    private async Task<JsonElement> EmailAsync(Guid orderId, string eventType, string status)
    {
        JsonElement found = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            var emails = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/notifications/emails?orderId={orderId}");
            found = emails.EnumerateArray().FirstOrDefault(e => e.GetProperty("eventType").GetString() == eventType);
            return found.ValueKind == JsonValueKind.Object && found.GetProperty("status").GetString() == status;
        });
        return found;
    }

    private async Task<JsonElement> ShipEverythingAsync(Guid orderId)
    {
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, orderId, 1)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, fulfilmentId);
        return await ShipAsync(Client, fulfilmentId);
    }

    /// <summary>A confirmed order (two units at a new Berlin node) for a customer with this e-mail address.</summary>
    private async Task<(JsonElement Order, string Sku)> ConfirmedAsync(string email, string customerName = "Ada Lovelace")
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 5, price: 7.77m);
        var placed = OrderCaptureTests.WebOrder("cust-" + Guid.NewGuid().ToString("N")[..8], (sku, 2));
        placed["customer"] = new JsonObject { ["id"] = "cust-" + Guid.NewGuid().ToString("N")[..8], ["email"] = email, ["name"] = customerName };
        var order = await Pipeline.PlaceAndSettleAsync(Client, placed);
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        return (order, sku);
    }
}
