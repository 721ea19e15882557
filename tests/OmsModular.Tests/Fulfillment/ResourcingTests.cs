using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using OmsModular.Testing;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Infrastructure;
using OmsModular.Tests.Messaging;
using OmsModular.Tests.Orders;
using OmsModular.Tests.Payments;
using static OmsModular.Tests.Fulfillment.Shipping;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Fulfillment;

/// <summary>
/// After confirmation, a node gives up units (a short pick, a rejection): they are re-sourced at
/// another node, or cancelled when no node has them; stock, reservations, payment and the customer follow.
/// </summary>
[Collection(HostCollection.Name)]
public sealed class ResourcingTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task A_cancellation_waits_while_its_units_are_re_sourced_and_takes_them_off_at_their_new_node()
    {
        var (first, second, sku) = (await Pipeline.NodeAsync(Client), await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, first, 5, price: 7.77m);
        await Catalog.StockAsync(Client, sku, second, 5, price: 7.77m);
        var order = await Pipeline.PlaceAndSettleAsync(Client, OrderCaptureTests.WebOrder("cust-short-cancel", (sku, 3)));
        var id = order.GetProperty("id").GetGuid();
        var pickingId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();

        // The re-sourcing of the short units cannot commit for a while (until it is a dead letter).
        var stuck = await Fault.FailCommitAsync(host.ConnectionString, "fulfillment.routing_decisions", $"NEW.order_id = '{id}' AND NEW.strategy LIKE 're-source:%'", times: 1000);
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{pickingId}/start-picking");
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{pickingId}/picks", new { lines = new[] { new { sku, picked = 1 } } });
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{pickingId}/pack", new { parcels = 1 });
        var resourcing = await DeadLetterAsync(Client, id, "Fulfillment", "fulfillment.ResourceShortage");

        // The customer cancels the two units meanwhile: the cancellation waits for them to be re-sourced
        // (here until its attempts run out) instead of finding them nowhere and refusing them.
        await CancelLinesAsync(Client, id, (sku, 2));
        var cancellation = await DeadLetterAsync(Client, id, "Fulfillment", "fulfillment.TakeOffCancelledUnits");
        await stuck.DisposeAsync();
        await ReplayAsync(Client, resourcing);
        await ReplayAsync(Client, cancellation);

        var after = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
        Assert.Equal(2, after.GetProperty("lines")[0].GetProperty("quantities").GetProperty("cancelled").GetInt32());
        Assert.DoesNotContain(after.GetProperty("timeline").EnumerateArray(), t => t.GetProperty("event").GetString() == "line cancellation refused");
        var resourced = (await FulfilmentOrdersAsync(Client, id, 2)).Single(f => f.GetProperty("id").GetGuid() != pickingId);
        Assert.Equal("cancelled", resourced.GetProperty("status").GetString()); // taken off at the node they were re-sourced to
        await ShipAsync(Client, pickingId);
        var shipped = await OrderInStateAsync(Client, id, "shipped");
        await CapturedAsync(Client, id, shipped.GetProperty("total").GetDecimal());
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_short_pick_is_re_sourced_at_another_node_the_count_is_corrected_and_everything_ships_and_captures_exactly()
    {
        var (first, second, sku) = (await Pipeline.NodeAsync(Client), await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, first, 5, price: 7.77m);
        await Catalog.StockAsync(Client, sku, second, 5, price: 7.77m);
        var order = await Pipeline.PlaceAndSettleAsync(Client, OrderCaptureTests.WebOrder("cust-short", (sku, 3)));
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var picking = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1));
        var (shortNode, otherNode) = picking.GetProperty("node").GetString() == first ? (first, second) : (second, first);
        var pickingId = picking.GetProperty("id").GetGuid();

        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{pickingId}/start-picking");
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{pickingId}/picks", new { lines = new[] { new { sku, picked = 1 } } });
        var packed = await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{pickingId}/pack", new { parcels = 1 });
        Assert.Equal("packed", packed.GetProperty("status").GetString());
        var line = Assert.Single(packed.GetProperty("lines").EnumerateArray());
        Assert.Equal((3, 1, 2), (line.GetProperty("quantity").GetInt32(), line.GetProperty("picked").GetInt32(), line.GetProperty("short").GetInt32()));
        var repeated = await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{pickingId}/pack", new { parcels = 1 }); // a repeat gives up nothing more
        Assert.Equal(2, Assert.Single(repeated.GetProperty("lines").EnumerateArray()).GetProperty("short").GetInt32());

        var orders = (await FulfilmentOrdersAsync(Client, id, 2)).ToDictionary(f => f.GetProperty("node").GetString()!);
        var resourced = orders[otherNode];
        Assert.Equal("ready-to-pick", resourced.GetProperty("status").GetString());
        Assert.Equal((sku, 2), (resourced.GetProperty("lines")[0].GetProperty("sku").GetString(), resourced.GetProperty("lines")[0].GetProperty("quantity").GetInt32()));
        // The node that could not find two units: they are off its count and off its reservation; the other holds them.
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, sku, shortNode)) == (3, 1) && (await StockAsync(Client, sku, otherNode)) == (5, 2));
        var decisions = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/fulfillment/routing-decisions?orderId={id}");
        var resourcing = decisions.EnumerateArray().Single(d => d.GetProperty("strategy").GetString()!.StartsWith("re-source:", StringComparison.Ordinal));
        Assert.True(resourcing.GetProperty("success").GetBoolean());
        Assert.Contains(resourcing.GetProperty("explanation").GetProperty("candidates").EnumerateArray(),
            c => c.GetProperty("node").GetString() == shortNode && c.GetProperty("ruledOut").GetString() is not null);
        JsonElement timeline = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            timeline = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
            return timeline.GetProperty("timeline").EnumerateArray().Any(t => t.GetProperty("event").GetString() == "re-sourced");
        });
        Assert.Equal(total, timeline.GetProperty("total").GetDecimal()); // nothing was cancelled

        await ShipAsync(Client, pickingId);
        await PickAndPackAsync(Client, resourced.GetProperty("id").GetGuid());
        await ShipAsync(Client, resourced.GetProperty("id").GetGuid());
        await OrderInStateAsync(Client, id, "shipped");
        await CapturedAsync(Client, id, total);
        Assert.Equal(total, Sandbox.CapturedFor(host.Services, id));
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, sku, shortNode)) == (2, 0) && (await StockAsync(Client, sku, otherNode)) == (3, 0));
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_rejection_re_sources_what_another_node_has_and_cancels_what_none_has_lowering_the_authorisation_and_telling_the_customer()
    {
        var (rejecting, other) = (await Pipeline.NodeAsync(Client), await Pipeline.NodeAsync(Client));
        var (a, b) = (Unique("SKU"), Unique("SKU"));
        await Catalog.StockAsync(Client, a, rejecting, 5, price: 4.00m);
        await Catalog.StockAsync(Client, a, other, 5, price: 4.00m);
        await Catalog.StockAsync(Client, b, rejecting, 1, price: 9.50m); // nowhere else
        var email = $"reject-{Guid.NewGuid():N}@example.com";
        var placed = OrderCaptureTests.WebOrder("cust-reject", (a, 2), (b, 1));
        placed["customer"]!["email"] = email;
        var order = await Pipeline.PlaceAndSettleAsync(Client, placed);
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var grossB = order.GetProperty("lines").EnumerateArray().Single(l => l.GetProperty("sku").GetString() == b).GetProperty("gross").GetDecimal();
        var fulfilment = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1));
        Assert.Equal(rejecting, fulfilment.GetProperty("node").GetString()); // the only node with both

        var rejected = await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilment.GetProperty("id").GetGuid()}/reject", new { reason = "damaged-stock", detail = "water damage" });
        Assert.Equal("rejected", rejected.GetProperty("status").GetString());
        Assert.Equal("damaged-stock", rejected.GetProperty("rejectionReason").GetString());

        var newTotal = total - grossB;
        var changed = await OrderTotalAsync(id, newTotal);
        Assert.Equal(1, changed.GetProperty("lines").EnumerateArray().Single(l => l.GetProperty("sku").GetString() == b).GetProperty("quantities").GetProperty("cancelled").GetInt32());
        Assert.Equal("confirmed", changed.GetProperty("status").GetString());
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("amount").GetDecimal() == newTotal);
        Assert.Equal(newTotal, Sandbox.AuthorizedFor(host.Services, id)); // a partial void at the provider
        Assert.Equal(1, Sandbox.ReductionsFor(host.Services, id));
        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Smtp.To(email).Any(m => m.Subject?.StartsWith("Ein Teil Ihrer Bestellung", StringComparison.Ordinal) == true && m.TextBody?.Contains(b, StringComparison.Ordinal) == true)));
        // Damaged: written off at the rejecting node, and nothing is reserved there any more.
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, a, rejecting)) == (3, 0) && (await StockAsync(Client, b, rejecting)) == (0, 0) && (await StockAsync(Client, a, other)) == (5, 2));

        var resourced = (await FulfilmentOrdersAsync(Client, id, 2)).Single(f => f.GetProperty("node").GetString() == other);
        await PickAndPackAsync(Client, resourced.GetProperty("id").GetGuid());
        await ShipAsync(Client, resourced.GetProperty("id").GetGuid());
        await OrderInStateAsync(Client, id, "shipped");
        await CapturedAsync(Client, id, newTotal);
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_rejection_when_no_node_has_anything_of_the_order_cancels_it_and_voids_the_payment_without_writing_stock_off_for_a_closed_node()
    {
        var (node, sku) = (await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, node, 4, price: 12.00m);
        var order = await Pipeline.PlaceAndSettleAsync(Client, OrderCaptureTests.WebOrder("cust-closed", (sku, 2)));
        var id = order.GetProperty("id").GetGuid();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/start-picking");

        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/reject", new { reason = "node-closed" });
        var cancelled = await OrderInStateAsync(Client, id, "cancelled");
        Assert.Contains(cancelled.GetProperty("timeline").EnumerateArray(), t => t.GetProperty("event").GetString() == "out of stock");
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("status").GetString() == "voided");
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, sku, node)) == (4, 0)); // closed, not short: the count stands
        Assert.Single(await FulfilmentOrdersAsync(Client, id, 1));
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_re_sourcing_whose_commit_fails_after_the_other_node_reserved_reserves_there_once()
    {
        var (first, second, sku) = (await Pipeline.NodeAsync(Client), await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, first, 6, price: 3.10m);
        await Catalog.StockAsync(Client, sku, second, 6, price: 3.10m);
        var order = await Pipeline.PlaceAndSettleAsync(Client, OrderCaptureTests.WebOrder("cust-short-fault", (sku, 2)));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var fulfilment = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1));
        var (rejecting, other) = fulfilment.GetProperty("node").GetString() == first ? (first, second) : (second, first);
        // Fulfillment's commit of the new fulfilment order fails twice, each time after Inventory committed the reservation at the other node.
        await using var fault = await Fault.FailCommitAsync(host.ConnectionString, "fulfillment.fulfilment_orders", $"NEW.order_id = '{id}' AND NEW.node_code = '{other}'", times: 2);

        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilment.GetProperty("id").GetGuid()}/reject", new { reason = "node-closed" });
        var resourced = (await FulfilmentOrdersAsync(Client, id, 2)).Single(f => f.GetProperty("node").GetString() == other);
        Assert.True(await fault.FiredAsync() >= 3);
        await SettledAsync(Client);
        Assert.Equal((6, 2), await StockAsync(Client, sku, other)); // reserved once, not once per attempt
        var reservations = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/inventory/reservations?orderId={id}");
        Assert.Single(reservations.EnumerateArray(), r => r.GetProperty("location").GetString() == other && r.GetProperty("status").GetString() == "confirmed");
        Assert.Equal((6, 0), await StockAsync(Client, sku, rejecting));

        await PickAndPackAsync(Client, resourced.GetProperty("id").GetGuid());
        await ShipAsync(Client, resourced.GetProperty("id").GetGuid());
        await CapturedAsync(Client, id, total);
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task Cancelling_units_no_node_has_is_done_once_when_the_orders_commit_fails_after_the_authorisation_was_lowered()
    {
        var (node, a, b) = (await Pipeline.NodeAsync(Client), Unique("SKU"), Unique("SKU"));
        await Catalog.StockAsync(Client, a, node, 3, price: 5.00m);
        await Catalog.StockAsync(Client, b, node, 3, price: 8.00m);
        var order = await Pipeline.PlaceAndSettleAsync(Client, OrderCaptureTests.WebOrder("cust-short-orders-fault", (a, 1), (b, 2)));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var grossB = order.GetProperty("lines").EnumerateArray().Single(l => l.GetProperty("sku").GetString() == b).GetProperty("gross").GetDecimal();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await using var ordersFault = await Fault.FailCommitAsync(host.ConnectionString, "orders.order_line_cancellations", $"NEW.order_id = '{id}'");
        await using var stockFault = await Fault.FailCommitAsync(host.ConnectionString, "inventory.stock_movements", $"NEW.reference LIKE 'short:%' AND NEW.sku = '{b}'");

        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/start-picking");
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/picks", new { lines = new[] { new { sku = a, picked = 1 }, new { sku = b, picked = 0 } } });
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/pack");

        var newTotal = total - grossB;
        await OrderTotalAsync(id, newTotal);
        await SettledAsync(Client);
        Assert.True(await ordersFault.FiredAsync() >= 2 && await stockFault.FiredAsync() >= 2); // each failed its first commit, then went through
        Assert.Equal(newTotal, Sandbox.AuthorizedFor(host.Services, id));
        Assert.Equal(1, Sandbox.ReductionsFor(host.Services, id));
        Assert.Equal((3, 1), await StockAsync(Client, a, node));
        Assert.Equal((1, 0), await StockAsync(Client, b, node)); // two not found: written off once, released once
        await ShipAsync(Client, fulfilmentId);
        await OrderInStateAsync(Client, id, "shipped");
        await CapturedAsync(Client, id, newTotal);
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task Concurrent_rejections_give_the_units_up_once_and_bad_rejections_are_clear_problems()
    {
        var (first, second, sku) = (await Pipeline.NodeAsync(Client), await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, first, 5, price: 2.00m);
        await Catalog.StockAsync(Client, sku, second, 5, price: 2.00m);
        var order = await Pipeline.PlaceAndSettleAsync(Client, OrderCaptureTests.WebOrder("cust-reject-race", (sku, 2)));
        var id = order.GetProperty("id").GetGuid();
        var fulfilment = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1));
        var fulfilmentId = fulfilment.GetProperty("id").GetGuid();
        var other = fulfilment.GetProperty("node").GetString() == first ? second : first;

        using (var unknownReason = await Client.PostAsJsonAsync($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/reject", new { reason = "bored" }))
        {
            var problem = await Problem.AssertAsync(unknownReason, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
            Assert.True(problem.GetProperty("errors").TryGetProperty("reason", out _), problem.ToString());
        }

        using (var noReason = await Client.PostAsJsonAsync($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/reject", new { detail = "?" }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, noReason.StatusCode);
        }

        using (var unknown = await Client.PostAsJsonAsync($"/api/v1/fulfillment/fulfilment-orders/{Guid.NewGuid()}/reject", new { reason = "other" }))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        }

        var attempts = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Client.PostAsJsonAsync($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/reject", new { reason = "other" })));
        Assert.All(attempts, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode)); // one gave the units up; the others found it rejected
        var resourced = (await FulfilmentOrdersAsync(Client, id, 2)).Single(f => f.GetProperty("node").GetString() == other);
        await SettledAsync(Client);
        Assert.Equal(2, (await FulfilmentOrdersAsync(Client, id, 2)).Length);
        Assert.Equal((5, 2), await StockAsync(Client, sku, other)); // re-sourced once (a racer's rolled-back attempt published nothing)

        await PickAndPackAsync(Client, resourced.GetProperty("id").GetGuid());
        await ShipAsync(Client, resourced.GetProperty("id").GetGuid());
        using (var afterShipping = await Client.PostAsJsonAsync($"/api/v1/fulfillment/fulfilment-orders/{resourced.GetProperty("id").GetGuid()}/reject", new { reason = "other" }))
        {
            await Problem.AssertAsync(afterShipping, HttpStatusCode.Conflict, "urn:oms:problem:illegal-transition");
        }

        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task Units_re_sourced_to_a_node_that_already_ships_part_of_the_order_become_a_second_fulfilment_order_there()
    {
        var (first, second) = (await Pipeline.NodeAsync(Client), await Pipeline.NodeAsync(Client));
        var (a, b) = (Unique("SKU"), Unique("SKU"));
        await Catalog.StockAsync(Client, a, first, 4, price: 2.20m); // a only at the first node …
        await Catalog.StockAsync(Client, b, second, 4, price: 3.30m); // … b only at the second: a split
        var order = await Pipeline.PlaceAndSettleAsync(Client, OrderCaptureTests.WebOrder("cust-resource-split", (a, 2), (b, 1)));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var split = (await FulfilmentOrdersAsync(Client, id, 2)).ToDictionary(f => f.GetProperty("node").GetString()!);
        await Catalog.StockAsync(Client, a, second, 3, price: 2.20m); // now the second node has a too

        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{split[first].GetProperty("id").GetGuid()}/reject", new { reason = "node-closed" });
        var orders = await FulfilmentOrdersAsync(Client, id, 3);
        var atSecond = orders.Where(f => f.GetProperty("node").GetString() == second).ToArray();
        Assert.Equal(2, atSecond.Length);
        var resourced = atSecond.Single(f => f.GetProperty("id").GetGuid() != split[second].GetProperty("id").GetGuid());
        Assert.Equal((a, 2), (resourced.GetProperty("lines")[0].GetProperty("sku").GetString(), resourced.GetProperty("lines")[0].GetProperty("quantity").GetInt32()));
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, a, second)) == (3, 2) && (await StockAsync(Client, a, first)) == (4, 0));

        foreach (var fulfilment in atSecond)
        {
            await PickAndPackAsync(Client, fulfilment.GetProperty("id").GetGuid());
            await ShipAsync(Client, fulfilment.GetProperty("id").GetGuid());
        }

        await OrderInStateAsync(Client, id, "shipped");
        await CapturedAsync(Client, id, total);
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, a, second)) == (1, 0) && (await StockAsync(Client, b, second)) == (3, 0));
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_count_below_what_is_reserved_re_sources_the_latest_confirmed_orders_units_at_another_node()
    {
        var (counted, other, sku) = (await Pipeline.NodeAsync(Client), await Pipeline.NodeAsync(Client), Unique("SKU"));
        await Catalog.StockAsync(Client, sku, counted, 3, price: 6.00m);
        var placed = new List<(Guid Id, decimal Total)>();
        foreach (var customer in new[] { "cust-count-1", "cust-count-2", "cust-count-3" })
        {
            var order = await Pipeline.PlaceAndSettleAsync(Client, OrderCaptureTests.WebOrder(customer, (sku, 1)));
            Assert.Equal("confirmed", order.GetProperty("status").GetString());
            placed.Add((order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal()));
            Assert.Equal(counted, Assert.Single(await FulfilmentOrdersAsync(Client, placed[^1].Id, 1)).GetProperty("node").GetString());
        }

        await Catalog.StockAsync(Client, sku, other, 5, price: 6.00m);
        await Catalog.StockAsync(Client, sku, counted, 1, price: 6.00m); // the count: one on hand, three reserved

        // The two latest orders lose their unit at the counted node and are re-sourced at the other; the first keeps its unit.
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, sku, counted)) == (1, 1) && (await StockAsync(Client, sku, other)) == (5, 2));
        foreach (var (id, _) in placed.Skip(1))
        {
            var orders = await FulfilmentOrdersAsync(Client, id, 2);
            Assert.Equal("rejected", orders.Single(f => f.GetProperty("node").GetString() == counted).GetProperty("status").GetString());
            Assert.Equal("stock-count", orders.Single(f => f.GetProperty("node").GetString() == counted).GetProperty("rejectionReason").GetString());
            await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("timeline").EnumerateArray()
                .Any(t => t.GetProperty("event").GetString() == "re-sourced" && t.GetProperty("cause").GetString()!.StartsWith("stock-count", StringComparison.Ordinal)));
        }

        Assert.Single(await FulfilmentOrdersAsync(Client, placed[0].Id, 1));
        await Catalog.StockAsync(Client, sku, counted, 1, price: 6.00m); // the same count again changes nothing
        await SettledAsync(Client);
        Assert.Equal((1, 1), await StockAsync(Client, sku, counted));
        Assert.Equal((5, 2), await StockAsync(Client, sku, other));

        foreach (var (id, total) in placed)
        {
            var open = (await FulfilmentOrdersAsync(Client, id, id == placed[0].Id ? 1 : 2)).Single(f => f.GetProperty("status").GetString() == "ready-to-pick");
            await PickAndPackAsync(Client, open.GetProperty("id").GetGuid());
            await ShipAsync(Client, open.GetProperty("id").GetGuid());
            await CapturedAsync(Client, id, total);
        }

        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, sku, counted)) == (0, 0) && (await StockAsync(Client, sku, other)) == (3, 0));
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, placed.Select(p => p.Id).ToArray());
    }

    private async Task<JsonElement> OrderTotalAsync(Guid id, decimal total)
    {
        JsonElement order = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            order = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
            return order.GetProperty("total").GetDecimal() == total;
        });
        return order;
    }
}
