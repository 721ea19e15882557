using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Testing;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Messaging;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Orders;

/// <summary>The order pipeline end to end through the Host: capture → route and reserve ‖ price → authorise → confirm or compensate.</summary>
[Collection(HostCollection.Name)]
public sealed class OrderPipelineTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task A_web_order_is_reserved_priced_authorised_and_confirmed()
    {
        var (node, a, b) = (await NodeAsync(), Unique("SKU"), Unique("SKU"));
        await Catalog.StockAsync(Client, a, node, 5, price: 10.00m);
        await Catalog.StockAsync(Client, b, node, 5, price: 2.50m);

        var order = await PlaceAndSettleAsync(OrderCaptureTests.WebOrder("cust-1", (a, 2), (b, 1)));
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        Assert.Equal(23.80m + 2.98m + 5.83m, order.GetProperty("total").GetDecimal()); // lines 20.00 and 2.50 at 19 % tax, shipping 4.90 at 19 %, per line to the cent
        var steps = order.GetProperty("steps");
        Assert.Equal(["done", "done", "done"], new[] { "reservation", "pricing", "payment" }.Select(s => steps.GetProperty(s).GetString()));
        var timeline = order.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("event").GetString()).ToArray();
        Assert.Equal("placed", timeline[0]);
        Assert.Contains("reserved", timeline);
        Assert.Contains("priced", timeline);
        Assert.Contains("payment authorized", timeline);
        Assert.Equal("pending -> confirmed", timeline[^1]);

        var id = order.GetProperty("id").GetGuid();
        var shipsFrom = Assert.Single(order.GetProperty("fulfilment").EnumerateArray());
        Assert.Equal(node, shipsFrom.GetProperty("node").GetString());
        Assert.Equal(3, shipsFrom.GetProperty("lines").EnumerateArray().Sum(l => l.GetProperty("quantity").GetInt32()));
        var decisions = await Client.GetFromJsonAsync<JsonElement>(order.GetProperty("routingDecisionUrl").GetString());
        Assert.Contains(order.GetProperty("routingDecisionId").GetGuid(), decisions.EnumerateArray().Select(d => d.GetProperty("id").GetGuid()));
        var reservations = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/reservations?orderId={id}");
        Assert.Equal("confirmed", reservations[0].GetProperty("status").GetString());
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal(order.GetProperty("total").GetDecimal(), ledger.GetProperty("amount").GetDecimal());

        JsonElement fulfilment = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            fulfilment = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/orders?orderId={id}");
            return fulfilment.GetArrayLength() > 0;
        });
        var only = Assert.Single(fulfilment.EnumerateArray());
        Assert.Equal(node, only.GetProperty("node").GetString());
        Assert.Equal("ready-to-pick", only.GetProperty("status").GetString());
        Assert.Equal([(a, 2), (b, 1)], only.GetProperty("lines").EnumerateArray().Select(l => (l.GetProperty("sku").GetString()!, l.GetProperty("quantity").GetInt32())));
    }

    [Fact]
    public async Task A_hold_rule_stops_the_order_before_payment_and_a_release_confirms_it()
    {
        var (node, sku) = (await NodeAsync(), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 2);
        var placed = OrderCaptureTests.WebOrder("cust-hold", (sku, 1));
        placed["shippingAddress"]!["countryCode"] = "IS";

        var held = await PlaceAndSettleAsync(placed);
        Assert.Equal("on-hold", held.GetProperty("status").GetString());
        Assert.Equal("country-under-review", held.GetProperty("statusReason").GetString());
        Assert.Equal("pending", held.GetProperty("steps").GetProperty("payment").GetString());

        using var release = await Client.PostAsync($"/api/v1/orders/{held.GetProperty("id").GetGuid()}/release", null);
        Assert.Equal(HttpStatusCode.OK, release.StatusCode);
        var released = await release.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("confirmed", released.GetProperty("status").GetString());
        var events = released.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("event").GetString()).ToArray();
        Assert.Equal(["pending -> on-hold", "on-hold -> pending"], events.Where(e => e!.Contains("on-hold", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_hundred_concurrent_orders_for_ten_units_confirm_exactly_ten()
    {
        var (node, sku) = (await NodeAsync(), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 10);
        var customer = Unique("storm");
        var ids = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => PlaceAsync(OrderCaptureTests.WebOrder(customer, (sku, 1)))));

        // One waiter for the whole storm: every outbox and inbox drained, no order of the storm pending.
        await MessagingHarness.WaitUntilAsync(
            async () =>
            {
                var backlog = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/backlog");
                var pending = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders?customerId={customer}&status=pending&limit=1");
                return backlog.EnumerateArray().All(m => m.GetProperty("outboxPending").GetInt64() == 0 && m.GetProperty("inboxPending").GetInt64() == 0)
                       && pending.GetProperty("items").GetArrayLength() == 0;
            },
            TimeSpan.FromSeconds(60));
        var orders = await Task.WhenAll(ids.Select(id => Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")));
        var statuses = orders.Select(o => o.GetProperty("status").GetString()).ToArray();
        Assert.Equal(10, statuses.Count(s => s == "confirmed"));
        Assert.Equal(90, statuses.Count(s => s == "rejected"));
        Assert.All(orders.Where(o => o.GetProperty("status").GetString() == "rejected"), o => Assert.Equal("out-of-stock", o.GetProperty("statusReason").GetString()));
        var level = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{sku}");
        Assert.Equal(10, level.GetProperty("onHand").GetInt32());
        Assert.Equal(10, level.GetProperty("reserved").GetInt32());
        await Invariants.AssertHoldAsync(host.ConnectionString, ids);
    }

    [Fact]
    public async Task Orders_captured_while_fulfillment_is_stalled_all_confirm_once_it_recovers()
    {
        var (node, sku) = (await NodeAsync(), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 50);
        var customer = Unique("stall");
        List<Guid> ids;
        await using (var connection = new Npgsql.NpgsqlConnection(host.ConnectionString))
        {
            await connection.OpenAsync();
            await using var stall = await connection.BeginTransactionAsync();
            await using (var lockNodes = new Npgsql.NpgsqlCommand("LOCK TABLE fulfillment.nodes IN ACCESS EXCLUSIVE MODE", connection, stall))
            {
                await lockNodes.ExecuteNonQueryAsync(); // Fulfillment cannot route while this is held
            }

            ids = (await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => PlaceAsync(OrderCaptureTests.WebOrder(customer, (sku, 1)))))).ToList();
            var meanwhile = await Task.WhenAll(ids.Select(id => Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")));
            Assert.All(meanwhile, o => Assert.Equal("pending", o.GetProperty("steps").GetProperty("reservation").GetString()));
            await stall.RollbackAsync();
        }

        await MessagingHarness.WaitUntilAsync(
            async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders?customerId={customer}&status=confirmed&limit=50")).GetProperty("items").GetArrayLength() == ids.Count,
            TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Orders_captured_while_inventory_fails_all_confirm_after_it_recovers_none_lost()
    {
        var (node, sku) = (await NodeAsync(), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 50);
        var customer = Unique("outage");
        await using var connection = new Npgsql.NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        var trigger = $"outage_{sku.Replace('-', '_').ToLowerInvariant()}";

        // Inventory fails every reservation of this SKU (as when its database or its service is down).
        await using (var outage = new Npgsql.NpgsqlCommand($"""
            CREATE FUNCTION inventory.{trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'inventory outage (test)'; END $$;
            CREATE TRIGGER {trigger} BEFORE INSERT ON inventory.reservation_lines
            FOR EACH ROW WHEN (NEW.sku = '{sku}') EXECUTE FUNCTION inventory.{trigger}();
            """, connection))
        {
            await outage.ExecuteNonQueryAsync();
        }

        var ids = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => PlaceAsync(OrderCaptureTests.WebOrder(customer, (sku, 1)))));

        // Capture went on; routing keeps failing until its attempts are spent and the deliveries are dead letters.
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            var letters = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/dead-letters?module=Fulfillment&limit=500");
            return letters.EnumerateArray().Count(l => ids.Contains(Guid.Parse(l.GetProperty("partitionKey").GetString()!))) == ids.Length;
        });
        var meanwhile = await Task.WhenAll(ids.Select(id => Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")));
        Assert.All(meanwhile, o =>
        {
            Assert.Equal("pending", o.GetProperty("status").GetString());
            Assert.Equal("pending", o.GetProperty("steps").GetProperty("reservation").GetString());
        });

        // Inventory recovers; the operator replays the dead letters; every order goes on to confirmation.
        await using (var recover = new Npgsql.NpgsqlCommand($"DROP TRIGGER {trigger} ON inventory.reservation_lines; DROP FUNCTION inventory.{trigger}();", connection))
        {
            await recover.ExecuteNonQueryAsync();
        }

        using var replay = await Client.PostAsync("/api/v1/admin/messaging/dead-letters/replay?module=Fulfillment", null);
        replay.EnsureSuccessStatusCode();
        await MessagingHarness.WaitUntilAsync(
            async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders?customerId={customer}&status=confirmed&limit=50")).GetProperty("items").GetArrayLength() == ids.Length,
            TimeSpan.FromSeconds(60));
        Assert.Equal(ids.Length, await Catalog.ReservedAsync(Client, sku, node));
    }

    [Fact]
    public async Task A_declined_payment_cancels_the_order_and_releases_the_stock()
    {
        var (node, sku) = (await NodeAsync(), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 3);
        var placed = OrderCaptureTests.WebOrder("cust-2", (sku, 2));
        placed["payment"]!["token"] = "sandbox-decline";

        var order = await PlaceAndSettleAsync(placed);
        Assert.Equal("cancelled", order.GetProperty("status").GetString());
        Assert.Equal("payment-declined", order.GetProperty("statusReason").GetString());
        Assert.Equal("failed", order.GetProperty("steps").GetProperty("payment").GetString());
        await MessagingHarness.WaitUntilAsync(async () => await Catalog.ReservedAsync(Client, sku, node) == 0); // released on the committed cancellation
        var availability = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{sku}");
        Assert.Equal(3, availability.GetProperty("available").GetInt32());
        await Invariants.AssertHoldAsync(host.ConnectionString, [order.GetProperty("id").GetGuid()]);
    }

    [Fact]
    public async Task A_reservation_that_expired_during_a_hold_is_reserved_again_on_release_and_the_order_confirms()
    {
        var (node, sku, id) = await OnHoldWithoutItsReservationAsync(onHand: 2);

        using var resume = await Client.PostAsync($"/api/v1/orders/{id}/release", null);
        var order = await resume.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        var reservations = (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/reservations?orderId={id}")).EnumerateArray().Select(r => r.GetProperty("status").GetString()).ToArray();
        Assert.Equal("released,confirmed", string.Join(",", reservations));
        Assert.Equal(1, await Catalog.ReservedAsync(Client, sku, node));
        Assert.Equal("authorized", (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("status").GetString());
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_reservation_lost_where_no_stock_is_left_anywhere_is_routed_again_then_rejected_and_its_authorisation_voided()
    {
        var (node, sku, id) = await OnHoldWithoutItsReservationAsync(onHand: 1);

        // … and the stock is gone meanwhile (sold elsewhere, counted out).
        using (var stock = await Client.PutAsJsonAsync($"/api/v1/inventory/stock/{sku}/{node}", new { onHand = 0 }))
        {
            stock.EnsureSuccessStatusCode();
        }

        using (var resume = await Client.PostAsync($"/api/v1/orders/{id}/release", null))
        {
            Assert.Equal("pending", (await resume.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString()); // routing again
        }

        JsonElement final = default;
        await MessagingHarness.WaitUntilAsync(async () => (final = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}"))
            .GetProperty("timeline").EnumerateArray().Any(t => t.GetProperty("event").GetString() == "payment voided"));
        Assert.Equal("rejected", final.GetProperty("status").GetString());
        Assert.Equal("out-of-stock", final.GetProperty("statusReason").GetString());
        var events = final.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("event").GetString()).ToArray();
        Assert.Equal(["payment authorized", "re-routing", "pending -> rejected", "payment voided"], events.Where(e => e!.StartsWith("payment", StringComparison.Ordinal) || e == "re-routing" || e!.EndsWith("rejected", StringComparison.Ordinal)));
        Assert.Equal("voided", (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("status").GetString());
        Assert.Equal(0, await Catalog.ReservedAsync(Client, sku, node));
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_reservation_lost_at_its_node_is_routed_to_another_node_on_release_and_the_order_confirms()
    {
        var (near, sku, id) = await OnHoldWithoutItsReservationAsync(onHand: 1);
        var far = Unique("WH-HAMBURG");
        using (var put = await Client.PutAsJsonAsync($"/api/v1/fulfillment/nodes/{far}", new
        {
            name = far, kind = "warehouse", countryCode = "DE", latitude = 53.55, longitude = 10.00, canShip = true, canPickup = false, dailyCapacity = 0, priority = 1,
        }))
        {
            put.EnsureSuccessStatusCode();
        }

        await Catalog.StockAsync(Client, sku, far, 3);
        using (var gone = await Client.PutAsJsonAsync($"/api/v1/inventory/stock/{sku}/{near}", new { onHand = 0 }))
        {
            gone.EnsureSuccessStatusCode();
        }

        using (var resume = await Client.PostAsync($"/api/v1/orders/{id}/release", null))
        {
            resume.EnsureSuccessStatusCode();
        }

        JsonElement order = default;
        await MessagingHarness.WaitUntilAsync(async () => (order = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("status").GetString() != "pending");
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        Assert.Equal(far, Assert.Single(order.GetProperty("fulfilment").EnumerateArray()).GetProperty("node").GetString());
        Assert.Contains("re-routing", order.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("event").GetString()));
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal(["authorize"], ledger.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("kind").GetString()!)); // the one authorisation, kept
        Assert.Equal(1, await Catalog.ReservedAsync(Client, sku, far));
        Assert.Equal(0, await Catalog.ReservedAsync(Client, sku, near));
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task An_order_whose_payment_never_answers_times_out_and_releases_its_stock()
    {
        var (node, sku) = (await NodeAsync(), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 2);
        var placed = OrderCaptureTests.WebOrder("cust-timeout", (sku, 1));
        placed["payment"]!["token"] = "sandbox-unavailable"; // the provider is down: the step never completes

        var id = await PlaceAsync(placed);
        JsonElement order = default;
        await MessagingHarness.WaitUntilAsync(
            async () => (order = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("status").GetString() != "pending",
            TimeSpan.FromSeconds(90));
        Assert.Equal("rejected", order.GetProperty("status").GetString());
        Assert.Equal("timeout", order.GetProperty("statusReason").GetString());
        Assert.Equal("pending", order.GetProperty("steps").GetProperty("payment").GetString());
        await MessagingHarness.WaitUntilAsync(async () => await Catalog.ReservedAsync(Client, sku, node) == 0); // released on the committed rejection
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task The_minutely_sweep_times_out_an_overdue_order_whose_own_job_never_ran()
    {
        var (node, sku) = (await NodeAsync(), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 2);
        var placed = OrderCaptureTests.WebOrder("cust-sweep", (sku, 1));
        placed["payment"]!["token"] = "sandbox-unavailable"; // the step never completes
        var started = DateTime.UtcNow;
        var id = await PlaceAsync(placed);

        // As if the order had been placed an hour ago by a process that died before scheduling its
        // time-out job (its own job is due only 30 s from now): the recurring sweep must find it.
        await using (var connection = new Npgsql.NpgsqlConnection(host.ConnectionString))
        {
            await connection.OpenAsync();
            await using var backdate = new Npgsql.NpgsqlCommand("UPDATE orders.orders SET placed_at = placed_at - interval '1 hour', updated_at = updated_at - interval '1 hour' WHERE id = $1", connection)
            {
                Parameters = { new Npgsql.NpgsqlParameter<Guid> { TypedValue = id } },
            };
            Assert.Equal(1, await backdate.ExecuteNonQueryAsync());
        }

        using (var jobs = host.Services.GetRequiredService<Hangfire.JobStorage>().GetConnection())
        {
            Assert.Contains(Hangfire.Storage.StorageConnectionExtensions.GetRecurringJobs(jobs), j => j.Id == "orders-time-out-pending");
        }

        // Triggered again every few seconds (as the minutely schedule would): a sweep that meets the
        // order while its step is retrying the provider leaves it to the next sweep.
        var sweeps = new Hangfire.RecurringJobManager(host.Services.GetRequiredService<Hangfire.JobStorage>());
        var lastSweep = DateTime.MinValue;
        JsonElement order = default;
        await MessagingHarness.WaitUntilAsync(
            async () =>
            {
                if (DateTime.UtcNow - lastSweep > TimeSpan.FromSeconds(3))
                {
                    sweeps.Trigger("orders-time-out-pending");
                    lastSweep = DateTime.UtcNow;
                }

                return (order = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("status").GetString() != "pending";
            },
            TimeSpan.FromSeconds(20));
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(29), "the sweep, not the order's own window job, timed it out");
        Assert.Equal("rejected", order.GetProperty("status").GetString());
        Assert.Equal("timeout", order.GetProperty("statusReason").GetString());
        await MessagingHarness.WaitUntilAsync(async () => await Catalog.ReservedAsync(Client, sku, node) == 0);
    }

    [Fact]
    public async Task An_order_without_stock_is_rejected_out_of_stock()
    {
        var (node, sku) = (await NodeAsync(), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 1);
        var order = await PlaceAndSettleAsync(OrderCaptureTests.WebOrder("cust-3", (sku, 2)));
        Assert.Equal("rejected", order.GetProperty("status").GetString());
        Assert.Equal("out-of-stock", order.GetProperty("statusReason").GetString());
    }

    [Fact]
    public async Task An_order_for_an_unknown_sku_is_rejected()
    {
        await NodeAsync(); // a node that could ship: what is under test is the SKU (without any node the reason is no-node)
        var order = await PlaceAndSettleAsync(OrderCaptureTests.WebOrder("cust-4", (Unique("UNKNOWN"), 1)));
        Assert.Equal("rejected", order.GetProperty("status").GetString());
        var reason = order.GetProperty("statusReason").GetString();
        Assert.True(reason is "out-of-stock" or "pricing-failed", $"rejected with {reason}: {order}");
    }

    [Fact]
    public async Task Pricing_failure_rejects_the_order_and_releases_its_reservation()
    {
        var (node, sku) = (await NodeAsync(), Unique("SKU"));
        using (var stock = await Client.PutAsJsonAsync($"/api/v1/inventory/stock/{sku}/{node}", new { onHand = 4 }))
        {
            stock.EnsureSuccessStatusCode(); // stock, but no price
        }

        var order = await PlaceAndSettleAsync(OrderCaptureTests.WebOrder("cust-5", (sku, 1)));
        Assert.Equal("rejected", order.GetProperty("status").GetString());
        Assert.Equal("pricing-failed", order.GetProperty("statusReason").GetString());
        await MessagingHarness.WaitUntilAsync(async () =>
            (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{sku}")).GetProperty("reserved").GetInt32() == 0);
    }

    [Fact]
    public async Task A_cancel_racing_the_pipeline_either_wins_cleanly_or_is_refused_never_overwritten()
    {
        var (node, sku) = (await NodeAsync(), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 1_000);
        var customer = Unique("race");
        var ids = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => PlaceAsync(OrderCaptureTests.WebOrder(customer, (sku, 1)))));

        // Each order is cancelled at some point while the pipeline works on it (the delays spread the
        // cancels over the steps: before routing, between reservation and payment, after confirmation).
        var answers = await Task.WhenAll(ids.Select(async (id, i) =>
        {
            await Task.Delay(i * 7 % 120);
            using var cancel = await Client.PostAsJsonAsync($"/api/v1/orders/{id}/cancel", new { reason = "customer-request" });
            var problem = cancel.IsSuccessStatusCode ? null : (await cancel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString();
            return (Id: id, cancel.StatusCode, Problem: problem);
        }));
        Assert.All(answers, a => Assert.True(
            a.StatusCode == HttpStatusCode.OK || (a.StatusCode == HttpStatusCode.Conflict && a.Problem is "urn:oms:problem:illegal-transition" or "urn:oms:problem:concurrent-change"),
            $"cancel of {a.Id}: {(int)a.StatusCode} {a.Problem}"));
        await MessagingHarness.WaitUntilAsync(
            async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders?customerId={customer}&status=pending&limit=1")).GetProperty("items").GetArrayLength() == 0
                        && (await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/backlog")).EnumerateArray()
                            .All(m => m.GetProperty("outboxPending").GetInt64() == 0 && m.GetProperty("inboxPending").GetInt64() == 0),
            TimeSpan.FromSeconds(60));

        var confirmed = 0;
        foreach (var (id, status, _) in answers)
        {
            var order = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
            var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
            var reservations = (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/reservations?orderId={id}")).EnumerateArray().Select(r => r.GetProperty("status").GetString()).ToArray();
            if (status == HttpStatusCode.OK)
            {
                // The cancel won: it stays cancelled (no later step overwrote it), nothing is held or authorised.
                Assert.Equal("cancelled", order.GetProperty("status").GetString());
                Assert.Equal("customer-request", order.GetProperty("statusReason").GetString());
                Assert.NotEqual("authorized", ledger.GetProperty("status").GetString());
                Assert.All(reservations, r => Assert.Equal("released", r));
            }
            else
            {
                // Refused: the order went on to its end (here: confirmed, everything held for it).
                confirmed++;
                Assert.Equal("confirmed", order.GetProperty("status").GetString());
                Assert.Equal("authorized", ledger.GetProperty("status").GetString());
                Assert.Equal("confirmed", Assert.Single(reservations));
            }
        }

        Assert.Equal(confirmed, await Catalog.ReservedAsync(Client, sku, node));
        await Invariants.AssertHoldAsync(host.ConnectionString, ids);
    }

    /// <summary>An order of one unit waiting on hold (reserved and priced) whose reservation then stopped holding, as when it expires during a long hold.</summary>
    private async Task<(string Node, string Sku, Guid Id)> OnHoldWithoutItsReservationAsync(int onHand)
    {
        var (node, sku) = (await NodeAsync(), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, onHand);
        var placed = OrderCaptureTests.WebOrder(Unique("cust-hold"), (sku, 1));
        placed["shippingAddress"]!["countryCode"] = "IS"; // waits on hold, reserved and priced
        var held = await PlaceAndSettleAsync(placed);
        Assert.Equal("on-hold", held.GetProperty("status").GetString());
        var id = held.GetProperty("id").GetGuid();
        using (var release = await Client.PostAsJsonAsync($"/api/v1/inventory/reservations/{id}/release", new { reason = "expired" }))
        {
            release.EnsureSuccessStatusCode();
        }

        return (node, sku, id);
    }

    private Task<string> NodeAsync() => Pipeline.NodeAsync(Client);

    private Task<Guid> PlaceAsync(JsonObject order) => Pipeline.PlaceAsync(Client, order);

    private Task<JsonElement> PlaceAndSettleAsync(JsonObject order, TimeSpan? timeout = null) => Pipeline.PlaceAndSettleAsync(Client, order, timeout);
}
