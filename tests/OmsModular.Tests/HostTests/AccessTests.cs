using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Tests.Orders;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.HostTests;

/// <summary>Authentication and scopes on every endpoint, API keys, channel-bound keys, bearer tokens, rate limits.</summary>
[Collection(HostCollection.Name)]
public sealed class AccessTests(HostFixture host)
{
    private static readonly string[] Public = ["/health/live", "/health/ready"];
    private static readonly string[] Docs = ["/openapi/", "/scalar/"];

    private IReadOnlyList<RouteEndpoint> Endpoints() =>
        host.Services.GetServices<EndpointDataSource>().SelectMany(s => s.Endpoints).OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IHttpMethodMetadata>() is not null)
            .ToArray();

    private static string UrlOf(RouteEndpoint endpoint)
    {
        var segments = endpoint.RoutePattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            Microsoft.AspNetCore.Routing.Patterns.RoutePatternLiteralPart literal => literal.Content,
            Microsoft.AspNetCore.Routing.Patterns.RoutePatternParameterPart parameter =>
                parameter.ParameterPolicies.Any(p => p.Content == "guid") ? Guid.NewGuid().ToString() : "X1",
            _ => string.Empty,
        })));
        return "/" + string.Join('/', segments);
    }

    [Fact]
    public async Task Every_endpoint_answers_401_without_a_credential_and_403_without_its_scope()
    {
        using var anonymous = host.CreateAnonymousClient();
        var checkedEndpoints = 0;
        var lacking = new Dictionary<string, HttpClient>();
        foreach (var endpoint in Endpoints())
        {
            var url = UrlOf(endpoint);
            if (Public.Contains(url) || Docs.Any(d => url.StartsWith(d, StringComparison.Ordinal)))
            {
                continue;
            }

            var method = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()!.HttpMethods[0];
            var scope = endpoint.Metadata.GetMetadata<RequiresScope>()?.Scope;
            Assert.True(scope is not null, $"{method} {endpoint.RoutePattern.RawText} names no scope (.RequireScope(Scopes.…))");

            HttpRequestMessage Request() => new(new HttpMethod(method), url)
            {
                Content = method is "POST" or "PUT" or "PATCH" ? new StringContent("{}", System.Text.Encoding.UTF8, "application/json") : null,
            };

            using (var response = await anonymous.SendAsync(Request()))
            {
                await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "urn:oms:problem:unauthenticated");
                Assert.Contains(response.Headers.WwwAuthenticate, h => h.Scheme == "Bearer");
            }

            if (!lacking.TryGetValue(scope!, out var client))
            {
                // Every other scope: none of them may grant this one.
                var others = Scopes.All.Where(s => !Scopes.Grants(new HashSet<string> { s }, scope!)).ToArray();
                lacking[scope!] = client = await host.CreateClientAsync(others, name: $"lacks-{scope!.Replace(':', '-')}");
            }

            using (var response = await client.SendAsync(Request()))
            {
                var problem = await Problem.AssertAsync(response, HttpStatusCode.Forbidden, "urn:oms:problem:forbidden");
                Assert.Equal(scope, problem.GetProperty("requiredScope").GetString());
            }

            checkedEndpoints++;
        }

        foreach (var client in lacking.Values)
        {
            client.Dispose();
        }

        Assert.True(checkedEndpoints >= 30, $"only {checkedEndpoints} endpoints found");
    }

    [Fact]
    public async Task Health_is_public_and_the_documents_need_a_credential_outside_development()
    {
        using var anonymous = host.CreateAnonymousClient();
        foreach (var url in Public)
        {
            using var health = await anonymous.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }

        using var document = await anonymous.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.Unauthorized, document.StatusCode);
        using var unknown = await anonymous.GetAsync("/api/v1/nothing-here");
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode); // nothing about which routes exist

        using var reader = await host.CreateClientAsync([Scopes.OrdersRead]);
        using var readable = await reader.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, readable.StatusCode);
    }

    [Fact]
    public async Task A_key_is_shown_once_stored_hashed_works_beside_its_successor_and_stops_when_revoked()
    {
        var name = Unique("shop");
        using var created = await host.Client.PostAsJsonAsync("/api/v1/admin/api-keys", new { name, scopes = new[] { "orders:read" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var first = await created.Content.ReadFromJsonAsync<JsonElement>();
        var firstSecret = first.GetProperty("secret").GetString()!;
        var firstId = first.GetProperty("key").GetProperty("id").GetGuid();
        Assert.StartsWith("oms_", firstSecret, StringComparison.Ordinal);

        using var second = await host.Client.PostAsJsonAsync("/api/v1/admin/api-keys", new { name, scopes = new[] { "orders:read" } });
        var secondSecret = (await second.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("secret").GetString()!;

        // Listed without secrets; the table holds neither secret.
        var listed = await host.Client.GetStringAsync("/api/v1/admin/api-keys");
        Assert.Contains(name, listed, StringComparison.Ordinal);
        Assert.DoesNotContain(firstSecret, listed, StringComparison.Ordinal);
        Assert.DoesNotContain(firstSecret[20..], listed, StringComparison.Ordinal);
        await using (var connection = new NpgsqlConnection(host.ConnectionString))
        {
            await connection.OpenAsync();
            await using var dump = new NpgsqlCommand("SELECT string_agg(t::text, ' ') FROM access.api_keys t", connection);
            var table = (string)(await dump.ExecuteScalarAsync())!;
            Assert.DoesNotContain(firstSecret[20..], table, StringComparison.Ordinal);
            Assert.DoesNotContain(secondSecret[20..], table, StringComparison.Ordinal);
        }

        using var one = Client(firstSecret);
        using var two = Client(secondSecret);
        Assert.Equal(HttpStatusCode.OK, (await one.GetAsync("/api/v1/orders?limit=1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await two.GetAsync("/api/v1/orders?limit=1")).StatusCode);

        using var revoked = await host.Client.PostAsync($"/api/v1/admin/api-keys/{firstId}/revoke", null);
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        using var refused = await one.GetAsync("/api/v1/orders?limit=1");
        await Problem.AssertAsync(refused, HttpStatusCode.Unauthorized, "urn:oms:problem:unauthenticated");
        Assert.Equal(HttpStatusCode.OK, (await two.GetAsync("/api/v1/orders?limit=1")).StatusCode);

        // A mistyped secret of a valid key id, and garbage, are refused alike.
        using var mistyped = Client(secondSecret[..^2] + (secondSecret[^2..] == "AA" ? "BB" : "AA"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await mistyped.GetAsync("/api/v1/orders?limit=1")).StatusCode);
        using var garbage = Client("oms_nonsense");
        Assert.Equal(HttpStatusCode.Unauthorized, (await garbage.GetAsync("/api/v1/orders?limit=1")).StatusCode);
        using var missing = await host.Client.PostAsync($"/api/v1/admin/api-keys/{Guid.NewGuid()}/revoke", null);
        await Problem.AssertAsync(missing, HttpStatusCode.NotFound, "urn:oms:problem:not-found");
    }

    [Fact]
    public async Task Bad_key_requests_name_the_field()
    {
        using var noScopes = await host.Client.PostAsJsonAsync("/api/v1/admin/api-keys", new { name = "x", scopes = Array.Empty<string>() });
        var problem = await Problem.AssertAsync(noScopes, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("scopes", out _));

        using var unknownScope = await host.Client.PostAsJsonAsync("/api/v1/admin/api-keys", new { name = "x", scopes = new[] { "orders:everything" } });
        problem = await Problem.AssertAsync(unknownScope, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("scopes", out _));

        using var wideChannelKey = await host.Client.PostAsJsonAsync("/api/v1/admin/api-keys", new { name = "x", scopes = new[] { "orders:write", "payments:read" }, channel = "web" });
        problem = await Problem.AssertAsync(wideChannelKey, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.Contains("payments:read", problem.GetProperty("errors").GetProperty("scopes")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_channel_bound_key_places_reads_and_acts_only_on_its_channels_orders()
    {
        var node = await Pipeline.NodeAsync(host.Client);
        var sku = Unique("SKU");
        await Catalog.StockAsync(host.Client, sku, node, 50);

        using var web = await host.CreateClientAsync([Scopes.OrdersWrite], channel: "web", name: "web-shop");
        using var app = await host.CreateClientAsync([Scopes.OrdersWrite], channel: "app", name: "mobile-app");

        var webOrder = OrderCaptureTests.WebOrder(Unique("c"), (sku, 1));
        var webId = await Pipeline.PlaceAsync(web, webOrder);
        var appOrder = OrderCaptureTests.WebOrder(Unique("c"), (sku, 1));
        appOrder["channel"] = "app";
        var appId = await Pipeline.PlaceAsync(app, appOrder);

        // The web key may not place an app order.
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/orders")
        {
            Content = new StringContent(appOrder.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
            Headers = { { "Idempotency-Key", Guid.NewGuid().ToString() } },
        })
        {
            using var refused = await web.SendAsync(request);
            var problem = await Problem.AssertAsync(refused, HttpStatusCode.Forbidden, "urn:oms:problem:channel-not-allowed");
            Assert.True(problem.GetProperty("errors").TryGetProperty("channel", out _));
        }

        // Every lookup by id: the other channel's order does not exist for this key.
        Assert.Equal(HttpStatusCode.OK, (await web.GetAsync($"/api/v1/orders/{webId}")).StatusCode);
        await Problem.AssertAsync(await web.GetAsync($"/api/v1/orders/{appId}"), HttpStatusCode.NotFound, "urn:oms:problem:not-found");
        await Problem.AssertAsync(await web.PostAsJsonAsync($"/api/v1/orders/{appId}/cancel", new { reason = "x" }), HttpStatusCode.NotFound, "urn:oms:problem:not-found");

        // Lists hold only the key's channel, whatever the filter asks for.
        var listed = await web.GetFromJsonAsync<JsonElement>("/api/v1/orders?limit=200&channel=app");
        Assert.Empty(listed.GetProperty("items").EnumerateArray());
        listed = await web.GetFromJsonAsync<JsonElement>("/api/v1/orders?limit=200");
        Assert.All(listed.GetProperty("items").EnumerateArray(), o => Assert.Equal("web", o.GetProperty("channel").GetString()));
        Assert.Contains(listed.GetProperty("items").EnumerateArray(), o => o.GetProperty("id").GetGuid() == webId);

        // Other areas are out of reach for a channel key.
        Assert.Equal(HttpStatusCode.Forbidden, (await web.GetAsync($"/api/v1/payments?orderId={appId}")).StatusCode);

        // The unbound admin key sees both, and the timeline names who placed each order.
        var seen = await host.Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{appId}");
        var placed = seen.GetProperty("timeline").EnumerateArray().First(t => t.GetProperty("event").GetString() == "placed");
        Assert.StartsWith("key:mobile-app/", placed.GetProperty("actor").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Idempotency_keys_are_per_client_and_shared_by_a_clients_keys()
    {
        var node = await Pipeline.NodeAsync(host.Client);
        var sku = Unique("SKU");
        await Catalog.StockAsync(host.Client, sku, node, 10);
        var shopName = Unique("shop");
        using var shop = await host.CreateClientAsync([Scopes.OrdersWrite], name: shopName);
        using var other = await host.CreateClientAsync([Scopes.OrdersWrite], name: Unique("other"));
        var key = Guid.NewGuid().ToString();
        async Task<(HttpStatusCode Status, JsonElement Body)> PlaceAsync(HttpClient client, JsonObject order)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/orders")
            {
                Content = new StringContent(order.ToJsonString(), System.Text.Encoding.UTF8, "application/json"),
                Headers = { { "Idempotency-Key", key } },
            };
            using var response = await client.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
        }

        var firstOrder = OrderCaptureTests.WebOrder(Unique("c"), (sku, 1));
        var first = await PlaceAsync(shop, firstOrder);
        Assert.Equal(HttpStatusCode.Accepted, first.Status);

        // Another client with the same key text: its own order, not the first client's answer nor a 422.
        var theirs = await PlaceAsync(other, OrderCaptureTests.WebOrder(Unique("c"), (sku, 2)));
        Assert.Equal(HttpStatusCode.Accepted, theirs.Status);
        Assert.NotEqual(first.Body.GetProperty("orderId").GetGuid(), theirs.Body.GetProperty("orderId").GetGuid());

        // The same client's second key (a rotation) gets the first key's answer.
        using var rotated = await host.CreateClientAsync([Scopes.OrdersWrite], name: shopName);
        var repeated = await PlaceAsync(rotated, firstOrder);
        Assert.Equal(HttpStatusCode.Accepted, repeated.Status);
        Assert.Equal(first.Body.GetProperty("orderId").GetGuid(), repeated.Body.GetProperty("orderId").GetGuid());
    }

    [Fact]
    public async Task Changes_record_their_actor()
    {
        using var merchandiser = await host.CreateClientAsync([Scopes.CatalogWrite, Scopes.InventoryWrite, Scopes.OrdersWrite], name: "merchandiser");
        using var held = await host.CreateClientAsync([Scopes.OrdersWrite], channel: "web", name: "web-shop");
        Assert.Equal(HttpStatusCode.Forbidden, (await held.PostAsync($"/api/v1/orders/{Guid.NewGuid()}/release", null)).StatusCode); // releasing a hold is a review decision
        var node = await Pipeline.NodeAsync(host.Client);
        var sku = Unique("SKU");
        using (var stock = await merchandiser.PutAsJsonAsync($"/api/v1/inventory/stock/{sku}/{node}", new { onHand = 5 }))
        {
            stock.EnsureSuccessStatusCode();
        }

        using (var price = await merchandiser.PutAsJsonAsync($"/api/v1/pricing/price-lists/{sku}", new { currency = "EUR", pricesIncludeTax = false, prices = new[] { new { sku, minQuantity = 1, unitPrice = 9.5m } } }))
        {
            price.EnsureSuccessStatusCode();
        }

        var changes = await merchandiser.GetFromJsonAsync<JsonElement>($"/api/v1/pricing/changes?kind=price-list&key={sku}");
        var change = Assert.Single(changes.EnumerateArray());
        Assert.StartsWith("key:merchandiser/", change.GetProperty("actor").GetString(), StringComparison.Ordinal);
        Assert.Equal(9.5m, change.GetProperty("body").GetProperty("prices")[0].GetProperty("unitPrice").GetDecimal());

        await using var connection = new NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        await using var movement = new NpgsqlCommand("SELECT actor FROM inventory.stock_movements WHERE sku = $1", connection) { Parameters = { new() { Value = sku } } };
        Assert.StartsWith("key:merchandiser/", (string)(await movement.ExecuteScalarAsync())!, StringComparison.Ordinal);

        var toIceland = OrderCaptureTests.WebOrder(Unique("c"), (sku, 1));
        toIceland["shippingAddress"]!["countryCode"] = "IS"; // held for review (fixture): it waits, so it can be cancelled
        await Catalog.StockAsync(host.Client, sku, node, 5); // with its price and shipping rate
        var onHold = await Pipeline.PlaceAndSettleAsync(merchandiser, toIceland);
        Assert.Equal("on-hold", onHold.GetProperty("status").GetString());
        var id = onHold.GetProperty("id").GetGuid();
        using var cancelled = await merchandiser.PostAsJsonAsync($"/api/v1/orders/{id}/cancel", new { reason = "customer-request" });
        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        var order = await cancelled.Content.ReadFromJsonAsync<JsonElement>();
        var entry = order.GetProperty("timeline").EnumerateArray().Last(t => t.GetProperty("status").GetString() == "cancelled");
        Assert.StartsWith("key:merchandiser/", entry.GetProperty("actor").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bearer_tokens_from_the_openid_provider_carry_their_scopes_and_subject()
    {
        using var client = host.CreateAnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.OpenId.Issue("ops-dashboard", "orders:read fulfillment:read"));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/orders?limit=1")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/fulfillment/nodes")).StatusCode);
        var forbidden = await client.PutAsJsonAsync($"/api/v1/fulfillment/nodes/{Unique("N")}", new { });
        await Problem.AssertAsync(forbidden, HttpStatusCode.Forbidden, "urn:oms:problem:forbidden");

        // Wrong audience, another issuer's signature, expired: all refused.
        using var rsa = System.Security.Cryptography.RSA.Create(2048);
        foreach (var token in new[]
                 {
                     host.OpenId.Issue("x", "orders:read", audience: "someone-else"),
                     host.OpenId.Issue("x", "orders:read", signWith: rsa),
                     host.OpenId.Issue("x", "orders:read", lifetime: TimeSpan.FromMinutes(-10)),
                 })
        {
            using var bad = host.CreateAnonymousClient();
            bad.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var response = await bad.GetAsync("/api/v1/orders?limit=1");
            await Problem.AssertAsync(response, HttpStatusCode.Unauthorized, "urn:oms:problem:unauthenticated");
        }

        // The token's subject is the actor.
        var node = await Pipeline.NodeAsync(host.Client);
        var sku = Unique("SKU");
        await Catalog.StockAsync(host.Client, sku, node, 5);
        using var writer = host.CreateAnonymousClient();
        writer.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", host.OpenId.Issue("checkout-service", "orders:write"));
        var id = await Pipeline.PlaceAsync(writer, OrderCaptureTests.WebOrder(Unique("c"), (sku, 1)));
        var order = await writer.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
        Assert.Equal("token:checkout-service", order.GetProperty("timeline")[0].GetProperty("actor").GetString());
    }

    [Fact]
    public async Task A_client_over_its_rate_limit_gets_429_with_retry_after_and_others_do_not()
    {
        using var limited = await host.CreateClientAsync([Scopes.OrdersRead], name: "rate-limited"); // 1/s, bursts of 3 (fixture)
        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? tooMany = null;
        for (var i = 0; i < 8; i++)
        {
            var response = await limited.GetAsync("/api/v1/orders?limit=1");
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.TooManyRequests)
            {
                tooMany ??= response;
            }
        }

        Assert.True(tooMany is not null, string.Join(", ", statuses));
        Assert.Equal(HttpStatusCode.OK, statuses[0]);
        await Problem.AssertAsync(tooMany!, HttpStatusCode.TooManyRequests, "urn:oms:problem:rate-limited");
        Assert.NotNull(tooMany!.Headers.RetryAfter);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("/api/v1/orders?limit=1")).StatusCode);
    }

    [Fact]
    public async Task The_jobs_dashboard_needs_the_admin_scope()
    {
        using var anonymous = host.CreateAnonymousClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/hangfire")).StatusCode);
        using var reader = await host.CreateClientAsync([Scopes.OrdersRead]);
        Assert.Equal(HttpStatusCode.Forbidden, (await reader.GetAsync("/hangfire")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Client.GetAsync("/hangfire")).StatusCode);
    }

    private HttpClient Client(string key)
    {
        var client = host.CreateAnonymousClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }
}
