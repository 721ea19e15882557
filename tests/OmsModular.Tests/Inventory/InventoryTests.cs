using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Messaging;

using OmsModular.Tests.Orders;

namespace OmsModular.Tests.Inventory;

/// <summary>The Inventory module through the Host: HTTP for users, the module API for other modules.</summary>
[Collection(HostCollection.Name)]
public sealed class InventoryTests(HostFixture host)
{
    /// <summary>The API's JSON: enums as kebab-case strings.</summary>
    private static readonly System.Text.Json.JsonSerializerOptions ApiJson = new(System.Text.Json.JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.KebabCaseLower) },
    };

    private HttpClient Client => host.Client;

    private static string NewSku() => "SKU-" + Guid.NewGuid().ToString("N")[..12].ToUpperInvariant();

    [Fact]
    public async Task Stock_sync_sets_on_hand_and_availability_is_per_location_and_across_the_network()
    {
        var sku = NewSku();
        await SetStockAsync(sku, "WH-A", 10, safety: 2);
        var level = await SetStockAsync(sku, "STORE-B", 5);
        Assert.Equal(5, level.GetProperty("available").GetInt32());

        var availability = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{sku}");
        Assert.Equal(8 + 5, availability.GetProperty("available").GetInt32());
        Assert.Equal(15, availability.GetProperty("onHand").GetInt32());
        Assert.Equal(["STORE-B", "WH-A"], availability.GetProperty("locations").EnumerateArray().Select(l => l.GetProperty("location").GetString()));

        // a second sync overwrites on-hand and keeps the safety stock
        await SetStockAsync(sku, "WH-A", 4);
        var other = NewSku();
        var set = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability?sku={sku}&sku={other}");
        var skus = set.GetProperty("skus").EnumerateArray().ToArray();
        Assert.Equal(2 + 5, skus[0].GetProperty("available").GetInt32());
        Assert.Equal(0, skus[1].GetProperty("available").GetInt32());
        Assert.Equal(2, await EventCountAsync("inventory.stock-level-changed.v1", sku, "WH-A"));
    }

    [Fact]
    public async Task Adjustments_change_on_hand_with_a_reason_and_never_below_zero()
    {
        var sku = NewSku();
        await SetStockAsync(sku, "WH-A", 3);
        using var receipt = await Client.PostAsJsonAsync($"/api/v1/inventory/stock/{sku}/WH-A/adjustments", new { delta = 5, reason = "receipt", reference = "PO-1" });
        Assert.Equal(8, (await receipt.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("onHand").GetInt32());
        using var damage = await Client.PostAsJsonAsync($"/api/v1/inventory/stock/{sku}/WH-A/adjustments", new { delta = -2, reason = "damage" });
        Assert.Equal(6, (await damage.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("onHand").GetInt32());

        using var negative = await Client.PostAsJsonAsync($"/api/v1/inventory/stock/{sku}/WH-A/adjustments", new { delta = -7, reason = "count" });
        var problem = await Problem.AssertAsync(negative, HttpStatusCode.Conflict, "urn:oms:problem:stock-would-go-negative");
        Assert.True(problem.GetProperty("errors").TryGetProperty("delta", out _));

        using var unknown = await Client.PostAsJsonAsync($"/api/v1/inventory/stock/{NewSku()}/WH-A/adjustments", new { delta = 1, reason = "receipt" });
        await Problem.AssertAsync(unknown, HttpStatusCode.NotFound, "urn:oms:problem:not-found");

        using var badReason = await Client.PostAsJsonAsync($"/api/v1/inventory/stock/{sku}/WH-A/adjustments", new { delta = 1, reason = "found-in-car-park" });
        problem = await Problem.AssertAsync(badReason, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("reason", out _));
        Assert.Equal(6, (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{sku}")).GetProperty("onHand").GetInt32());
    }

    [Fact]
    public async Task A_batch_of_ten_thousand_rows_loads_in_one_request_and_a_bad_batch_changes_nothing()
    {
        var prefix = NewSku();
        await NodesAsync();
        var items = Enumerable.Range(0, 10_000).Select(i => new { sku = $"{prefix}-{i / 4}", location = $"LOC-{i % 4}", onHand = i % 50, safetyStock = 1 }).ToArray();
        using var loaded = await Client.PostAsJsonAsync("/api/v1/inventory/stock/batch", new { items });
        Assert.Equal(HttpStatusCode.OK, loaded.StatusCode);
        Assert.Equal(10_000, (await loaded.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("updated").GetInt32());
        var sample = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{prefix}-7");
        Assert.Equal(items.Where(i => i.sku == $"{prefix}-7").Sum(i => Math.Max(0, i.onHand - 1)), sample.GetProperty("available").GetInt32());

        var duplicate = new[] { new { sku = $"{prefix}-X", location = "LOC-0", onHand = 1 }, new { sku = $"{prefix}-X", location = "LOC-0", onHand = 2 } };
        using var refused = await Client.PostAsJsonAsync("/api/v1/inventory/stock/batch", new { items = duplicate });
        await Problem.AssertAsync(refused, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        var invalidRow = new[] { new { sku = $"{prefix}-Y", location = "LOC-0", onHand = 1 }, new { sku = $"{prefix}-Z", location = "LOC-0", onHand = -1 } };
        using var invalid = await Client.PostAsJsonAsync("/api/v1/inventory/stock/batch", new { items = invalidRow });
        var problem = await Problem.AssertAsync(invalid, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("items[1].onHand", out _));
        Assert.Equal(0, (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{prefix}-Y")).GetProperty("onHand").GetInt32());
    }

    [Fact]
    public async Task A_reservation_is_all_or_nothing_and_reports_the_shortfall_per_line()
    {
        var (a, b) = (NewSku(), NewSku());
        await SetStockAsync(a, "WH-A", 5);
        await SetStockAsync(b, "WH-A", 1);
        var orderId = Guid.CreateVersion7();
        using var response = await ReserveAsync(orderId, "WH-A", (a, 2), (b, 3));
        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        var outcome = await response.Content.ReadFromJsonAsync<ReservationOutcome>(ApiJson);
        Assert.Equal(ReservationState.Short, outcome!.State);
        Assert.Equal([new Shortfall(b, 3, 1)], outcome.Shortfalls);
        Assert.Equal(0, await ReservedAsync(a, "WH-A"));
        Assert.Equal(1, await EventCountAsync("inventory.stock-reservation-failed.v1", orderId.ToString()));
    }

    [Fact]
    public async Task Repeating_a_reservation_for_the_same_order_has_no_second_effect()
    {
        var sku = NewSku();
        await SetStockAsync(sku, "WH-A", 5);
        var orderId = Guid.CreateVersion7();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 5).Select(async _ =>
        {
            using var response = await ReserveAsync(orderId, "WH-A", (sku, 2));
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            return (await response.Content.ReadFromJsonAsync<ReservationOutcome>(ApiJson))!;
        }));
        Assert.Single(outcomes.Select(o => o.ReservationId).Distinct());
        Assert.Equal(2, await ReservedAsync(sku, "WH-A"));
        Assert.Equal(1, await EventCountAsync("inventory.stock-reserved.v1", orderId.ToString()));
    }

    [Fact]
    public async Task Never_oversells_when_a_hundred_orders_race_for_ten_units()
    {
        var sku = NewSku();
        await SetStockAsync(sku, "WH-A", 10);
        var responses = await Task.WhenAll(Enumerable.Range(0, 100).Select(async _ =>
        {
            using var response = await ReserveAsync(Guid.CreateVersion7(), "WH-A", (sku, 1));
            return response.StatusCode;
        }));
        Assert.Equal(10, responses.Count(s => s == HttpStatusCode.Created));
        Assert.Equal(90, responses.Count(s => s == HttpStatusCode.Conflict));
        var level = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{sku}");
        Assert.Equal(10, level.GetProperty("reserved").GetInt32());
        Assert.Equal(10, level.GetProperty("onHand").GetInt32());
        Assert.Equal(0, level.GetProperty("available").GetInt32());
    }

    [Fact]
    public async Task Releasing_returns_the_stock_and_publishes_released()
    {
        var sku = NewSku();
        await SetStockAsync(sku, "WH-A", 4);
        var orderId = Guid.CreateVersion7();
        using (var reserved = await ReserveAsync(orderId, "WH-A", (sku, 3)))
        {
            Assert.Equal(HttpStatusCode.Created, reserved.StatusCode);
        }

        using var release = await Client.PostAsJsonAsync($"/api/v1/inventory/reservations/{orderId}/release", new { reason = "payment-declined" });
        Assert.Equal("released", (await release.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());
        using var again = await Client.PostAsJsonAsync($"/api/v1/inventory/reservations/{orderId}/release", new { reason = "payment-declined" });
        Assert.Equal("released", (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString()); // the same state, no second effect
        Assert.Equal(0, await ReservedAsync(sku, "WH-A"));
        var reservations = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/reservations?orderId={orderId}");
        Assert.Equal("released", reservations[0].GetProperty("status").GetString());
        Assert.Equal("payment-declined", reservations[0].GetProperty("endReason").GetString());
        Assert.Equal(1, await EventCountAsync("inventory.stock-released.v1", orderId.ToString()));
    }

    [Fact]
    public async Task An_unconfirmed_reservation_expires_and_a_confirmed_one_does_not()
    {
        var sku = NewSku();
        await SetStockAsync(sku, "WH-A", 10);
        var (expiring, confirmed) = (Guid.CreateVersion7(), Guid.CreateVersion7());
        using (var first = await ReserveAsync(confirmed, "WH-A", [(sku, 3)], holdSeconds: 1))
        using (var second = await ReserveAsync(expiring, "WH-A", [(sku, 4)], holdSeconds: 1))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
            Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        }

        using (var confirm = await Client.PostAsync($"/api/v1/inventory/reservations/{confirmed}/confirm", null))
        {
            Assert.Equal("confirmed", (await confirm.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());
        }

        await MessagingHarness.WaitUntilAsync(async () => await StatusAsync(expiring) == "expired", TimeSpan.FromSeconds(30));
        Assert.Equal("confirmed", await StatusAsync(confirmed));
        Assert.Equal(3, await ReservedAsync(sku, "WH-A"));

        async Task<string?> StatusAsync(Guid orderId) =>
            (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/reservations?orderId={orderId}"))[0].GetProperty("status").GetString();
    }

    [Fact]
    public async Task Other_modules_reserve_and_query_through_the_module_api()
    {
        var sku = NewSku();
        await SetStockAsync(sku, "WH-A", 6);
        await SetStockAsync(sku, "WH-B", 1);
        using var scope = host.Services.CreateScope();
        var modules = scope.ServiceProvider.GetRequiredService<IModuleClient>();
        var availability = await modules.SendAsync(new GetAvailability([sku]));
        Assert.Equal([("WH-A", 6), ("WH-B", 1)], availability.Locations.Select(l => (l.Location, l.Available)));

        var orderId = Guid.CreateVersion7();
        var outcome = await modules.SendAsync(new ReserveStock(orderId, "WH-A", [new ReservationLine(sku, 4)]));
        Assert.Equal(ReservationState.Held, outcome.State);
        Assert.Equal(ReservationState.Released, (await modules.SendAsync(new ReleaseReservations(orderId, "cancelled"))).State);
        Assert.Equal(ReservationState.Released, (await modules.SendAsync(new ReleaseReservations(orderId, "cancelled"))).State); // the same state again
        Assert.Equal(0, await ReservedAsync(sku, "WH-A"));
    }

    [Fact]
    public async Task A_batch_of_reservations_is_decided_in_order_each_all_or_nothing_and_a_repeat_has_no_second_effect()
    {
        var (first, second) = (NewSku(), NewSku());
        await SetStockAsync(first, "WH-A", 5);
        await SetStockAsync(second, "WH-A", 2);
        using var scope = host.Services.CreateScope();
        var modules = scope.ServiceProvider.GetRequiredService<IModuleClient>();
        var (a, b, c, d) = (Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.CreateVersion7());
        var outcomes = await modules.SendAsync(new ReserveStockBatch(
        [
            new ReserveStock(a, "WH-A", [new ReservationLine(first, 3), new ReservationLine(second, 1)]),
            new ReserveStock(b, "WH-A", [new ReservationLine(first, 3)]),                                // 2 left after a: refused
            new ReserveStock(c, "WH-A", [new ReservationLine(first, 2), new ReservationLine(second, 2)]), // second short: nothing of it held
            new ReserveStock(d, "WH-A", [new ReservationLine(first, 2), new ReservationLine(second, 1)]), // takes what c could not
        ]));

        Assert.Equal([a, b, c, d], outcomes.Select(o => o.OrderId));
        Assert.Equal([ReservationState.Held, ReservationState.Short, ReservationState.Short, ReservationState.Held], outcomes.Select(o => o.State));
        Assert.Equal([new Shortfall(first, 3, 2)], outcomes[1].Shortfalls);
        Assert.Equal([new Shortfall(second, 2, 1)], outcomes[2].Shortfalls);
        Assert.Equal(5, await ReservedAsync(first, "WH-A"));
        Assert.Equal(2, await ReservedAsync(second, "WH-A"));

        // The same requests again: the held ones answer with their reservation, nothing is taken twice.
        var again = await modules.SendAsync(new ReserveStockBatch([new ReserveStock(a, "WH-A", [new ReservationLine(first, 3), new ReservationLine(second, 1)]), new ReserveStock(d, "WH-A", [new ReservationLine(first, 2), new ReservationLine(second, 1)])]));
        Assert.Equal([outcomes[0].ReservationId, outcomes[3].ReservationId], again.Select(o => o.ReservationId));
        Assert.Equal(5, await ReservedAsync(first, "WH-A"));

        // Confirmation answers a state keyed by order: a repeat is confirmed again, an order holding nothing is lost.
        var confirmations = await modules.SendAsync(new ConfirmReservationsBatch([new ConfirmReservations(a, ["WH-A"]), new ConfirmReservations(b, ["WH-A"])]));
        Assert.Equal([(a, ReservationState.Confirmed), (b, ReservationState.Lost)], confirmations.Select(x => (x.OrderId, x.State)));
        var repeated = await modules.SendAsync(new ConfirmReservationsBatch([new ConfirmReservations(a, ["WH-A"])]));
        Assert.Equal(ReservationState.Confirmed, Assert.Single(repeated).State);
        var releases = await modules.SendAsync(new ReleaseReservationsBatch([new ReleaseReservations(b, "x"), new ReleaseReservations(d, "cancelled"), new ReleaseReservations(d, "cancelled")]));
        Assert.All(releases, r => Assert.Equal(ReservationState.Released, r.State));
        Assert.Equal(3, await ReservedAsync(first, "WH-A"));
        Assert.Equal(1, await ReservedAsync(second, "WH-A"));
    }

    [Fact]
    public async Task Bad_reservations_get_field_errors()
    {
        using var response = await Client.PostAsJsonAsync("/api/v1/inventory/reservations", new
        {
            orderId = Guid.Empty,
            location = "no spaces allowed",
            lines = new[] { new { sku = "A", quantity = 0 }, new { sku = "A", quantity = 1 } },
        });
        var problem = await Problem.AssertAsync(response, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        var errors = problem.GetProperty("errors");
        foreach (var field in new[] { "orderId", "location", "lines", "lines[0].quantity" })
        {
            Assert.True(errors.TryGetProperty(field, out _), $"no error for {field}: {errors}");
        }
    }

    private static readonly string[] Locations = ["WH-A", "WH-B", "STORE-B", "LOC-0", "LOC-1", "LOC-2", "LOC-3"];

    /// <summary>The nodes these tests keep stock at (inactive: never a routing candidate).</summary>
    private async Task NodesAsync()
    {
        foreach (var code in Locations)
        {
            using var put = await Client.PutAsJsonAsync($"/api/v1/fulfillment/nodes/{code}", new
            {
                name = code, kind = code.StartsWith("STORE", StringComparison.Ordinal) ? "store" : "warehouse", countryCode = "DE",
                latitude = 47.0, longitude = 6.0, canShip = true, canPickup = false, active = false,
            });
            put.EnsureSuccessStatusCode();
        }
    }

    [Fact]
    public async Task Stock_at_a_location_that_is_not_a_node_is_refused()
    {
        using var single = await Client.PutAsJsonAsync($"/api/v1/inventory/stock/{NewSku()}/NOWHERE-{Guid.NewGuid():N}", new { onHand = 5 });
        var problem = await Problem.AssertAsync(single, (HttpStatusCode)422, "urn:oms:problem:unknown-location");
        Assert.True(problem.GetProperty("errors").TryGetProperty("location", out _));

        await NodesAsync();
        var sku = NewSku();
        using var batch = await Client.PostAsJsonAsync("/api/v1/inventory/stock/batch", new { items = new[] { new { sku, location = "WH-A", onHand = 1 }, new { sku, location = "NOWHERE", onHand = 1 } } });
        problem = await Problem.AssertAsync(batch, (HttpStatusCode)422, "urn:oms:problem:unknown-location");
        Assert.True(problem.GetProperty("errors").TryGetProperty("items[1].location", out _));
        Assert.Equal(0, (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{sku}")).GetProperty("onHand").GetInt32());
    }

    private async Task<JsonElement> SetStockAsync(string sku, string location, int onHand, int? safety = null)
    {
        await NodesAsync();
        using var response = await Client.PutAsJsonAsync($"/api/v1/inventory/stock/{sku}/{location}", new { onHand, safetyStock = safety });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private Task<HttpResponseMessage> ReserveAsync(Guid orderId, string location, params (string Sku, int Quantity)[] lines) =>
        ReserveAsync(orderId, location, lines, holdSeconds: null);

    private Task<HttpResponseMessage> ReserveAsync(Guid orderId, string location, (string Sku, int Quantity)[] lines, int? holdSeconds) =>
        Client.PostAsJsonAsync("/api/v1/inventory/reservations", new
        {
            orderId,
            location,
            lines = lines.Select(l => new { sku = l.Sku, quantity = l.Quantity }),
            holdSeconds,
        });

    private Task<int> ReservedAsync(string sku, string location) => Catalog.ReservedAsync(Client, sku, location);

    /// <summary>Events in Inventory's outbox with this type, matched by partition key or payload fields.</summary>
    private async Task<long> EventCountAsync(string type, string partitionOrSku, string? location = null)
    {
        await using var connection = new NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            """
            SELECT count(*) FROM inventory.outbox_messages
            WHERE message_type = $1 AND (partition_key = $2 OR payload->>'sku' = $2) AND ($3::text IS NULL OR payload->>'location' = $3)
            """,
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = type });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = partitionOrSku });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)location ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
