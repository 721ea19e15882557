using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Testing;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Infrastructure;
using OmsModular.Tests.Messaging;
using OmsModular.Tests.Payments;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Orders;

/// <summary>
/// Failure is a test input: for each cross-module effect of the pipeline, cancel, release and
/// time-out paths, the caller's own commit fails once right after the effect committed, and the
/// order must end exactly as it would have without the fault (one authorisation, the reservations
/// it needs and no others, no void, nothing released that is still needed). Also: an outage of a
/// module the pipeline depends on, repeated requests racing each other, and customers cancelling
/// while the pipeline is busy.
/// </summary>
[Collection(HostCollection.Name)]
public sealed class FailureInjectionTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task The_confirmation_commit_failing_after_authorise_and_confirm_succeeded_still_confirms_the_order()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 5);
        var customer = Unique("fault-confirm");
        await using var fault = await Fault.FailCommitAsync(host.ConnectionString, "orders.orders", $"NEW.status = 'Confirmed' AND NEW.customer_id = '{customer}'");
        var authorizations = Sandbox.Authorizations(host.Services);

        var order = await Pipeline.PlaceAndSettleAsync(Client, OrderCaptureTests.WebOrder(customer, (sku, 2)));

        Assert.True(await fault.FiredAsync() >= 1, "the fault never fired");
        await AssertConfirmedCleanlyAsync(order, node, sku, 2);
        Assert.Equal(authorizations + 1, Sandbox.Authorizations(host.Services));
    }

    [Fact]
    public async Task One_failing_order_in_a_batch_leaves_its_neighbours_and_itself_as_without_the_fault()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 50);
        var customer = Unique("fault-batch");
        Guid[] ids;
        Fault fault;
        await using (var stall = await StallRoutingAsync())
        {
            // Routing waits, so the ten orders reach Orders' inbox as one batch of OrderRouted.
            ids = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Pipeline.PlaceAsync(Client, OrderCaptureTests.WebOrder(customer, (sku, 1)))));
            fault = await Fault.FailCommitAsync(host.ConnectionString, "orders.orders", $"NEW.status = 'Confirmed' AND NEW.id = '{ids[4]}'");
        }

        await using (fault)
        {
            var orders = await SettleAsync(ids);
            Assert.True(await fault.FiredAsync() >= 1, "the fault never fired");
            Assert.All(orders, o => Assert.Equal("confirmed", o.GetProperty("status").GetString()));
            Assert.Equal(10, await Catalog.ReservedAsync(Client, sku, node));
            foreach (var order in orders)
            {
                await AssertConfirmedCleanlyAsync(order, node, sku, 1, checkStock: false);
            }
        }
    }

    [Fact]
    public async Task Routing_whose_commit_fails_after_the_reservation_committed_leaves_one_reservation_set()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 5);
        Guid id;
        Fault fault;
        await using (var stall = await StallRoutingAsync())
        {
            id = await Pipeline.PlaceAsync(Client, OrderCaptureTests.WebOrder(Unique("fault-route"), (sku, 3)));
            fault = await Fault.FailCommitAsync(host.ConnectionString, "fulfillment.routing_decisions", $"NEW.order_id = '{id}'");
        }

        await using (fault)
        {
            var order = (await SettleAsync([id]))[0];
            Assert.True(await fault.FiredAsync() >= 1, "the fault never fired");
            await AssertConfirmedCleanlyAsync(order, node, sku, 3);
        }
    }

    [Fact]
    public async Task A_cancel_whose_commit_fails_leaves_the_order_holding_its_stock_and_a_retry_cancels_it()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 4);
        var held = await PlaceOnHoldAsync(sku, 2);
        var id = held.GetProperty("id").GetGuid();

        await using (var fault = await Fault.FailCommitAsync(host.ConnectionString, "orders.orders", $"NEW.status = 'Cancelled' AND NEW.id = '{id}'"))
        using (var failed = await Client.PostAsJsonAsync($"/api/v1/orders/{id}/cancel", new { reason = "customer-request" }))
        {
            Assert.False(failed.IsSuccessStatusCode, $"the cancel answered {(int)failed.StatusCode} although its commit failed");
            Assert.Equal(1, await fault.FiredAsync());
        }

        // Nothing was compensated for a decision that never committed: the order is live and holds its stock.
        await DrainedAsync();
        Assert.Equal("on-hold", (await OrderAsync(id)).GetProperty("status").GetString());
        Assert.Equal(2, await Catalog.ReservedAsync(Client, sku, node));
        Assert.Equal(["active"], await ReservationStatesAsync(id));

        using (var retried = await Client.PostAsJsonAsync($"/api/v1/orders/{id}/cancel", new { reason = "customer-request" }))
        {
            retried.EnsureSuccessStatusCode();
        }

        await MessagingHarness.WaitUntilAsync(async () => await Catalog.ReservedAsync(Client, sku, node) == 0);
        await DrainedAsync();
        Assert.Equal("cancelled", (await OrderAsync(id)).GetProperty("status").GetString());
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_release_from_hold_whose_commit_fails_confirms_on_the_retry_with_one_authorisation_and_no_void()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 4);
        var held = await PlaceOnHoldAsync(sku, 1);
        var id = held.GetProperty("id").GetGuid();

        await using (var fault = await Fault.FailCommitAsync(host.ConnectionString, "orders.orders", $"NEW.status = 'Confirmed' AND NEW.id = '{id}'"))
        using (var failed = await Client.PostAsync($"/api/v1/orders/{id}/release", null))
        {
            Assert.False(failed.IsSuccessStatusCode, $"the release answered {(int)failed.StatusCode} although its commit failed");
            Assert.Equal(1, await fault.FiredAsync());
        }

        Assert.Equal("on-hold", (await OrderAsync(id)).GetProperty("status").GetString());
        using var retried = await Client.PostAsync($"/api/v1/orders/{id}/release", null);
        retried.EnsureSuccessStatusCode();
        var order = await retried.Content.ReadFromJsonAsync<JsonElement>();
        await AssertConfirmedCleanlyAsync(order, node, sku, 1);
    }

    [Fact]
    public async Task A_time_out_whose_commit_fails_releases_nothing_until_the_rejection_commits()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 2);
        var placed = OrderCaptureTests.WebOrder(Unique("fault-timeout"), (sku, 1));
        placed["payment"]!["token"] = "sandbox-unavailable"; // the payment step never completes
        var id = await Pipeline.PlaceAsync(Client, placed);
        await MessagingHarness.WaitUntilAsync(async () => await Catalog.ReservedAsync(Client, sku, node) == 1);
        await ExecuteAsync($"UPDATE orders.orders SET placed_at = placed_at - interval '1 hour' WHERE id = '{id}'"); // overdue now

        var jobs = new Hangfire.RecurringJobManager(host.Services.GetRequiredService<Hangfire.JobStorage>());
        // Every commit of the rejection fails while the fault is in place (the minutely sweep may run meanwhile too).
        await using (var fault = await Fault.FailCommitAsync(host.ConnectionString, "orders.orders", $"NEW.status = 'Rejected' AND NEW.id = '{id}'", times: 1_000))
        {
            jobs.Trigger("orders-time-out-pending");
            await MessagingHarness.WaitUntilAsync(async () => await fault.FiredAsync() >= 1, TimeSpan.FromSeconds(20));
            await DrainedAsync();
            Assert.Equal("pending", (await OrderAsync(id)).GetProperty("status").GetString());
            Assert.Equal(1, await Catalog.ReservedAsync(Client, sku, node)); // still held for the live order
        }

        jobs.Trigger("orders-time-out-pending");
        await MessagingHarness.WaitUntilAsync(async () => (await OrderAsync(id)).GetProperty("status").GetString() == "rejected", TimeSpan.FromSeconds(20));
        await MessagingHarness.WaitUntilAsync(async () => await Catalog.ReservedAsync(Client, sku, node) == 0);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_write_while_the_database_refuses_answers_503_with_retry_after_and_writes_nothing()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 5);
        await using (var outage = await Fault.OutageAsync(host.ConnectionString, "inventory.stock_levels", $"NEW.sku = '{sku}'"))
        using (var refused = await Client.PutAsJsonAsync($"/api/v1/inventory/stock/{sku}/{node}", new { onHand = 9 }))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.NotNull(refused.Headers.RetryAfter);
            var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal("urn:oms:problem:unavailable", problem.GetProperty("type").GetString());
            Assert.Contains("safe", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        var level = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/availability/{sku}");
        Assert.Equal(5, level.GetProperty("onHand").GetInt32());
    }

    [Fact]
    public async Task An_authorisation_whose_answer_was_lost_is_voided_at_the_provider_when_the_order_ends()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 2);
        var placed = OrderCaptureTests.WebOrder(Unique("lost-answer"), (sku, 1));
        placed["payment"]!["token"] = "sandbox-lost-answer"; // the provider authorises, every answer times out
        var id = await Pipeline.PlaceAsync(Client, placed);

        // Payments keeps the payment as unknown (it was asked and did not answer), the order waits.
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("status").GetString() == "unknown");
        Assert.True(Sandbox.Holds(host.Services, id), "the sandbox should hold the authorisation whose answer was lost");
        Assert.Equal("pending", (await OrderAsync(id)).GetProperty("status").GetString());

        using (var cancel = await Client.PostAsJsonAsync($"/api/v1/orders/{id}/cancel", new { reason = "customer-request" }))
        {
            cancel.EnsureSuccessStatusCode();
        }

        // The end resolves the unknown outcome with the same key and voids what the provider holds.
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("status").GetString() == "voided");
        Assert.False(Sandbox.Holds(host.Services, id));
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal(["authorize", "void"], ledger.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("kind").GetString()!));
        await MessagingHarness.WaitUntilAsync(async () => await Catalog.ReservedAsync(Client, sku, node) == 0);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task The_same_requests_handled_twice_at_once_have_one_effect_and_the_same_answer()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 10);
        var orderId = Guid.CreateVersion7();
        var authorizations = Sandbox.Authorizations(host.Services);

        var reservations = await TwiceAtOnceAsync(m => m.SendAsync(new ReserveStockBatch([new ReserveStock(orderId, node, [new ReservationLine(sku, 3)])])));
        Assert.Single(reservations.SelectMany(r => r).Select(r => (r.State, r.ReservationId)).Distinct());
        var confirmations = await TwiceAtOnceAsync(m => m.SendAsync(new ConfirmReservationsBatch([new ConfirmReservations(orderId, [node])])));
        Assert.All(confirmations.SelectMany(c => c), c => Assert.Equal(ReservationState.Confirmed, c.State));
        var sealedToken = await Payments.Sandbox.SealAsync(host.Services, "sandbox-approve", orderId);
        var payments = await TwiceAtOnceAsync(m => m.SendAsync(new AuthorizePaymentBatch([new AuthorizePayment(orderId, 30m, "EUR", "card", sealedToken)])));
        Assert.Single(payments.SelectMany(p => p).Select(p => (p.State, p.PaymentId)).Distinct());

        Assert.Equal(3, await Catalog.ReservedAsync(Client, sku, node));
        Assert.Equal(authorizations + 1, Sandbox.Authorizations(host.Services));
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={orderId}");
        Assert.Single(ledger.GetProperty("entries").EnumerateArray());
    }

    [Fact]
    public async Task Customers_cancelling_while_the_pipeline_is_busy_reject_none_of_the_other_orders()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 1_000);
        var customer = Unique("busy");

        // Inventory is slow to confirm (as under load), so the pipeline's batch is in flight when customers cancel.
        await using var slow = await Fault.SlowAsync(host.ConnectionString, "inventory.reservations", $"NEW.location = '{node}' AND NEW.status = 'Confirmed'", TimeSpan.FromMilliseconds(20));
        var placed = new List<(Guid Id, bool Cancel)>();
        var cancels = new List<Task<HttpStatusCode>>();
        for (var round = 0; round < 3; round++)
        {
            // Twenty orders are priced while routing waits, then routed together: Orders advances them as one
            // batch (authorise, confirm) while two of their customers cancel.
            Guid[] ids;
            await using (var stall = await StallRoutingAsync())
            {
                ids = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Pipeline.PlaceAsync(Client, OrderCaptureTests.WebOrder(customer, (sku, 1)))));
                await MessagingHarness.WaitUntilAsync(async () => (await Task.WhenAll(ids.Select(OrderAsync))).All(o => o.GetProperty("steps").GetProperty("pricing").GetString() == "done"));
            }

            placed.AddRange(ids.Select((id, i) => (id, i is 3 or 11)));
            cancels.Add(CancelAsync(ids[3], TimeSpan.FromMilliseconds(100 + (round * 60))));
            cancels.Add(CancelAsync(ids[11], TimeSpan.FromMilliseconds(250 + (round * 60))));
        }

        var answers = await Task.WhenAll(cancels);
        Assert.All(answers, a => Assert.True(a is HttpStatusCode.OK or HttpStatusCode.Conflict, $"cancel answered {(int)a}"));

        var orders = await SettleAsync(placed.Select(p => p.Id).ToArray());
        var byId = orders.ToDictionary(o => o.GetProperty("id").GetGuid());
        var wronglyEnded = placed.Where(p => !p.Cancel && byId[p.Id].GetProperty("status").GetString() != "confirmed")
            .Select(p => $"{p.Id}: {byId[p.Id].GetProperty("status").GetString()} ({byId[p.Id].GetProperty("statusReason")})")
            .ToArray();
        Assert.True(wronglyEnded.Length == 0, $"{wronglyEnded.Length} orders nobody cancelled did not confirm: {string.Join("; ", wronglyEnded.Take(5))}");
        Assert.All(placed.Where(p => p.Cancel), p => Assert.Contains(byId[p.Id].GetProperty("status").GetString(), new[] { "cancelled", "confirmed" }));
        await Invariants.AssertHoldAsync(host.ConnectionString, placed.Select(p => p.Id).ToArray());

        async Task<HttpStatusCode> CancelAsync(Guid id, TimeSpan thinkTime)
        {
            await Task.Delay(thinkTime); // the customer's own delay, spreading the cancels over the pipeline's steps
            using var response = await Client.PostAsJsonAsync($"/api/v1/orders/{id}/cancel", new { reason = "customer-request" });
            return response.StatusCode;
        }
    }

    [Fact]
    public async Task An_outage_of_inventory_pauses_its_callers_spends_no_attempts_and_everything_settles_once_it_is_back()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 50);
        var customer = Unique("outage");
        Guid[] ids;
        await using (var outage = await Fault.OutageAsync(host.ConnectionString, "inventory.reservation_lines", $"NEW.sku = '{sku}'"))
        {
            ids = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Pipeline.PlaceAsync(Client, OrderCaptureTests.WebOrder(customer, (sku, 1)))));

            // Far longer than the fixture's three attempts with 10-50 ms between them would last, and probed several times.
            var started = System.Diagnostics.Stopwatch.StartNew();
            await MessagingHarness.WaitUntilAsync(async () => await outage.FiredAsync() >= 6 && started.Elapsed > TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(30));
            var meanwhile = await Task.WhenAll(ids.Select(OrderAsync));
            Assert.All(meanwhile, o => Assert.Equal("pending", o.GetProperty("steps").GetProperty("reservation").GetString()));
            Assert.Empty(await DeadLettersAsync(ids));
            var fulfillment = (await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/backlog")).EnumerateArray().Single(m => m.GetProperty("module").GetString() == "Fulfillment");
            Assert.Contains("fulfillment.RouteOrder", fulfillment.GetProperty("pausedConsumers").EnumerateArray().Select(p => p.GetProperty("consumer").GetString()));
        }

        // Back: no replay, no person; every order goes on.
        var orders = await SettleAsync(ids);
        Assert.All(orders, o => Assert.Equal("confirmed", o.GetProperty("status").GetString()));
        Assert.Empty(await DeadLettersAsync(ids));
        await Invariants.AssertHoldAsync(host.ConnectionString, ids);
    }

    private async Task AssertConfirmedCleanlyAsync(JsonElement order, string node, string sku, int quantity, bool checkStock = true)
    {
        var id = order.GetProperty("id").GetGuid();
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        var events = order.GetProperty("timeline").EnumerateArray().Select(t => t.GetProperty("event").GetString()!).ToArray();
        Assert.DoesNotContain(events, e => e.Contains("rejected", StringComparison.Ordinal) || e.Contains("voided", StringComparison.Ordinal));
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal("authorized", ledger.GetProperty("status").GetString());
        Assert.Equal(["authorize"], ledger.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("kind").GetString()!));
        Assert.Equal(["confirmed"], (await ReservationStatesAsync(id)).Where(s => s != "released"));
        if (checkStock)
        {
            Assert.Equal(quantity, await Catalog.ReservedAsync(Client, sku, node));
        }

        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    private async Task<JsonElement> PlaceOnHoldAsync(string sku, int quantity)
    {
        var placed = OrderCaptureTests.WebOrder(Unique("fault-hold"), (sku, quantity));
        placed["shippingAddress"]!["countryCode"] = "IS"; // a review country: reserved and priced, then on hold
        var held = await Pipeline.PlaceAndSettleAsync(Client, placed);
        Assert.Equal("on-hold", held.GetProperty("status").GetString());
        return held;
    }

    private async Task<JsonElement[]> SettleAsync(Guid[] ids)
    {
        JsonElement[] orders = [];
        await MessagingHarness.WaitUntilAsync(
            async () =>
            {
                orders = await Task.WhenAll(ids.Select(OrderAsync));
                return orders.All(o => o.GetProperty("status").GetString() != "pending");
            },
            TimeSpan.FromSeconds(60));
        await DrainedAsync();
        return await Task.WhenAll(ids.Select(OrderAsync));
    }

    private Task DrainedAsync() =>
        MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/backlog")).EnumerateArray()
            .All(m => m.GetProperty("outboxPending").GetInt64() == 0 && m.GetProperty("inboxPending").GetInt64() == 0), TimeSpan.FromSeconds(60));

    private async Task<JsonElement> OrderAsync(Guid id) => await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");

    private async Task<string[]> ReservationStatesAsync(Guid id) =>
        (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/reservations?orderId={id}")).EnumerateArray().Select(r => r.GetProperty("status").GetString()!).ToArray();

    private async Task<JsonElement[]> DeadLettersAsync(Guid[] ids) =>
        (await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/dead-letters?limit=500")).EnumerateArray()
            .Where(l => l.GetProperty("partitionKey").GetString() is { } key && ids.Contains(Guid.Parse(key)))
            .ToArray();

    private async Task<T[]> TwiceAtOnceAsync<T>(Func<IModuleClient, Task<T>> call)
    {
        using var first = host.Services.CreateScope();
        using var second = host.Services.CreateScope();
        var a = first.ServiceProvider.GetRequiredService<IModuleClient>();
        var b = second.ServiceProvider.GetRequiredService<IModuleClient>();
        return await Task.WhenAll(Task.Run(() => call(a)), Task.Run(() => call(b)));
    }

    /// <summary>Holds Fulfillment's routing (a lock on its nodes table) until disposed.</summary>
    private async Task<IAsyncDisposable> StallRoutingAsync()
    {
        var connection = new NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var lockNodes = new NpgsqlCommand("LOCK TABLE fulfillment.nodes IN ACCESS EXCLUSIVE MODE", connection, transaction))
        {
            await lockNodes.ExecuteNonQueryAsync();
        }

        return new Stall(connection, transaction);
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private sealed class Stall(NpgsqlConnection connection, NpgsqlTransaction transaction) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await transaction.RollbackAsync();
            await transaction.DisposeAsync();
            await connection.DisposeAsync();
        }
    }
}
