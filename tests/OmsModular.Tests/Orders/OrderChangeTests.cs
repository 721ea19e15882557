using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using OmsModular.Testing;
using OmsModular.Tests.Fulfillment;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Infrastructure;
using OmsModular.Tests.Messaging;
using OmsModular.Tests.Payments;
using static OmsModular.Tests.Fulfillment.Shipping;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Orders;

/// <summary>
/// Changing a confirmed order before it ships (more units, a new line, the address, the service
/// level): priced again, reserved, authorised, and applied whole or refused whole, through the Host.
/// </summary>
[Collection(HostCollection.Name)]
public sealed class OrderChangeTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task More_units_and_a_new_line_are_reserved_authorised_by_the_difference_and_ship_and_capture_the_new_total()
    {
        var email = $"change-{Guid.NewGuid():N}@example.com";
        var (order, node, a, b) = await ConfirmedAsync(email, ("a", 1));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var key = Guid.NewGuid().ToString();

        using var response = await ChangeAsync(id, key, new { lines = new[] { new { sku = a, quantity = 3 }, new { sku = b, quantity = 1 } } });
        var requested = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, requested.ToString());
        var change = Assert.Single(requested.GetProperty("changes").EnumerateArray());
        var newTotal = change.GetProperty("newTotal").GetDecimal();
        Assert.Equal("requested", change.GetProperty("status").GetString());
        Assert.Equal(await QuoteAsync("standard", (a, 3), (b, 1)), newTotal); // what Pricing asks for the order as changed
        Assert.True(newTotal > total);
        using (var repeat = await ChangeAsync(id, key, new { lines = new[] { new { sku = a, quantity = 3 }, new { sku = b, quantity = 1 } } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, repeat.StatusCode); // the same change: answered, asked once (one change below)
        }

        var changed = await DecidedAsync(id, "applied");
        Assert.Equal(newTotal, changed.GetProperty("total").GetDecimal());
        Assert.Equal(3, Line(changed, a).GetProperty("quantity").GetInt32());
        Assert.Equal(1, Line(changed, b).GetProperty("quantity").GetInt32());
        Assert.Equal(newTotal, changed.GetProperty("lines").EnumerateArray().Sum(l => l.GetProperty("gross").GetDecimal()) + changed.GetProperty("shippingGross").GetDecimal());
        var entry = Assert.Single(changed.GetProperty("timeline").EnumerateArray(), t => t.GetProperty("event").GetString() == "changed");
        Assert.False(string.IsNullOrEmpty(entry.GetProperty("actor").GetString())); // the key that asked
        Assert.Single(changed.GetProperty("changes").EnumerateArray());

        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal(newTotal, ledger.GetProperty("amount").GetDecimal());
        Assert.Equal(newTotal - total, Assert.Single(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "increase").GetProperty("amount").GetDecimal());
        Assert.Equal(newTotal, Sandbox.LiveAuthorizedFor(host.Services, id));
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, a, node)).Reserved == 3 && (await StockAsync(Client, b, node)).Reserved == 1);

        var fulfilment = await FulfilmentOrdersAsync(Client, id, 2); // the first one, and one for the added units
        foreach (var fo in fulfilment)
        {
            await PickAndPackAsync(Client, fo.GetProperty("id").GetGuid());
            await ShipAsync(Client, fo.GetProperty("id").GetGuid());
        }

        await OrderInStateAsync(Client, id, "shipped");
        await CapturedAsync(Client, id, newTotal);
        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Smtp.To(email).Any(m => m.Subject?.StartsWith("Ihre Bestellung", StringComparison.Ordinal) == true && m.Subject.EndsWith("ist geändert", StringComparison.Ordinal))));
        var mail = host.Smtp.To(email).First(m => m.Subject!.EndsWith("ist geändert", StringComparison.Ordinal));
        Assert.Contains($"3 × {a} (+2)", mail.TextBody, StringComparison.Ordinal);
        Assert.Contains(newTotal.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture), mail.TextBody, StringComparison.Ordinal);
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_cheaper_service_level_and_a_new_address_lower_the_authorisation_and_a_packed_order_refuses_a_new_address()
    {
        await Catalog.PutAsync(Client, "/api/v1/pricing/shipping-rates/express/EUR", new { amount = 9.90m });
        var (order, _, a, _) = await ConfirmedAsync($"change-{Guid.NewGuid():N}@example.com", o => o["delivery"]!["serviceLevel"] = "express", ("a", 1));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();

        // Orders cannot decide the change for a while (its commit fails until the message is a dead letter):
        // the node may pick, but packs nothing for the old delivery meanwhile.
        var stuck = await Fault.FailCommitAsync(host.ConnectionString, "orders.order_changes", $"NEW.order_id = '{id}' AND NEW.status = 'Applied'", times: 1000);
        using (var response = await ChangeAsync(id, Guid.NewGuid().ToString(), new { serviceLevel = "standard", shippingAddress = Address("Hamburg", "20095") }))
        {
            Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        }

        var deadLetter = await DeadLetterAsync(id);
        await stuck.DisposeAsync();
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/start-picking");
        using (var pack = await Client.PostAsJsonAsync($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/pack", new { parcels = 1 }))
        {
            await Problem.AssertAsync(pack, HttpStatusCode.Conflict, "urn:oms:problem:order-change-pending");
        }

        await ReplayAsync(Client, deadLetter);

        var changed = await DecidedAsync(id, "applied");
        var newTotal = changed.GetProperty("total").GetDecimal();
        Assert.Equal(await QuoteAsync("standard", (a, 1)), newTotal);
        Assert.Equal(total - Math.Round((9.90m - 4.90m) * 1.19m, 2), newTotal); // the shipping charge and its tax
        Assert.Equal("Hamburg", changed.GetProperty("shippingAddress").GetProperty("city").GetString());
        Assert.Equal("standard", changed.GetProperty("delivery").GetProperty("serviceLevel").GetString());
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("amount").GetDecimal() == newTotal);
        Assert.Equal(newTotal, Sandbox.LiveAuthorizedFor(host.Services, id));

        // Packed for the delivery as it is now: a new address is refused, and the order stays as it was.
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            using var pack = await Client.PostAsJsonAsync($"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/pack", new { parcels = 1 });
            return pack.IsSuccessStatusCode; // once Fulfillment has carried out the change, nothing holds it
        });
        using (var response = await ChangeAsync(id, Guid.NewGuid().ToString(), new { shippingAddress = Address("Köln", "50667") }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var refused = await DecidedAsync(id, "refused");
        Assert.Equal("packed", refused.GetProperty("changes")[1].GetProperty("refusalReason").GetString());
        Assert.Equal("Hamburg", refused.GetProperty("shippingAddress").GetProperty("city").GetString());
        Assert.Equal(newTotal, refused.GetProperty("total").GetDecimal());
        await ShipAsync(Client, fulfilmentId); // nothing held it
        await CapturedAsync(Client, id, newTotal);
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task An_order_captured_at_confirmation_authorises_and_captures_what_a_change_adds_and_ships_without_capturing_again()
    {
        var (order, _, a, _) = await ConfirmedAsync($"change-{Guid.NewGuid():N}@example.com", o => o["channel"] = "store", ("a", 1));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        await CapturedAsync(Client, id, total);
        using (var response = await ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = a, quantity = 2 } } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var changed = await DecidedAsync(id, "applied");
        var newTotal = changed.GetProperty("total").GetDecimal();
        Assert.True(newTotal > total);
        var ledger = await CapturedAsync(Client, id, newTotal); // what the change adds is captured too
        Assert.Equal(newTotal, Sandbox.CapturedFor(host.Services, id));
        Assert.Equal(1, Sandbox.ReauthorizationsFor(host.Services, id)); // captured in full: the addition is a new authorisation
        Assert.Equal(2, ledger.GetProperty("entries").EnumerateArray().Count(e => e.GetProperty("kind").GetString() == "capture"));
        foreach (var fo in await FulfilmentOrdersAsync(Client, id, 2))
        {
            await PickAndPackAsync(Client, fo.GetProperty("id").GetGuid());
            await ShipAsync(Client, fo.GetProperty("id").GetGuid());
        }

        var shipped = await OrderInStateAsync(Client, id, "shipped");
        Assert.All(shipped.GetProperty("shipments").EnumerateArray(), s => Assert.Equal(0m, s.GetProperty("captureAmount").GetDecimal()));
        await SettledAsync(Client);
        Assert.Equal(newTotal, Sandbox.CapturedFor(host.Services, id));
        Assert.True((await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("reconciles").GetBoolean());
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_coupon_whose_last_use_the_order_holds_keeps_discounting_a_change_and_no_second_use_is_counted()
    {
        var promotion = Unique("PROMO");
        await Catalog.PutAsync(Client, $"/api/v1/pricing/promotions/{promotion}", new { name = "5 % off", kind = "order-percentage", value = 5m, requiresCoupon = true });
        var coupon = Unique("COUPON");
        await Catalog.PutAsync(Client, $"/api/v1/pricing/coupons/{coupon}", new { promotion, usageLimit = 1 });
        var (order, _, a, _) = await ConfirmedAsync($"change-{Guid.NewGuid():N}@example.com", o => o["couponCodes"] = new JsonArray(coupon), ("a", 1));
        var id = order.GetProperty("id").GetGuid();
        Assert.Equal("applied", order.GetProperty("coupons")[0].GetProperty("status").GetString()); // its only use

        using (var response = await ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = a, quantity = 2 } } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var changed = await DecidedAsync(id, "applied");
        Assert.Equal("applied", changed.GetProperty("coupons")[0].GetProperty("status").GetString());
        var discount = Assert.Single(changed.GetProperty("discounts").EnumerateArray());
        Assert.Equal(coupon, discount.GetProperty("couponCode").GetString());
        Assert.Equal(Math.Round(2 * 6.66m * 0.05m, 2), discount.GetProperty("amount").GetDecimal()); // 5 % of both units now
        Assert.Equal(1, (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/pricing/coupons/{coupon}")).GetProperty("timesUsed").GetInt32());
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_declined_raise_refuses_the_change_releases_what_was_reserved_for_it_and_tells_the_customer()
    {
        var email = $"change-{Guid.NewGuid():N}@example.com";
        var (order, node, a, _) = await ConfirmedAsync(email, o => o["payment"]!["token"] = "sandbox-increase-decline", ("a", 1));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var load = await DailyLoadAsync(node);
        using (var response = await ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = a, quantity = 4 } } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var refused = await DecidedAsync(id, "refused");
        Assert.Equal("payment-declined", refused.GetProperty("changes")[0].GetProperty("refusalReason").GetString());
        Assert.Equal(total, refused.GetProperty("total").GetDecimal());
        Assert.Equal(1, Line(refused, a).GetProperty("quantity").GetInt32());
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, a, node)) == (5, 1)); // the three reserved for it are released
        await SettledAsync(Client);
        Assert.Equal(load, await DailyLoadAsync(node)); // and the node's daily load counts the refused change no more
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal(total, ledger.GetProperty("amount").GetDecimal());
        Assert.Single(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "increase-declined");
        Assert.Equal(total, Sandbox.LiveAuthorizedFor(host.Services, id));
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();
        await MessagingHarness.WaitUntilAsync(() => Task.FromResult(host.Smtp.To(email).Any(m => m.Subject?.StartsWith("Wir konnten Ihre Bestellung", StringComparison.Ordinal) == true)));
        await PickAndPackAsync(Client, fulfilmentId);
        await ShipAsync(Client, fulfilmentId);
        await CapturedAsync(Client, id, total);
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task Units_no_node_has_refuse_the_change_and_nothing_is_held_for_it()
    {
        var (order, node, a, _) = await ConfirmedAsync($"change-{Guid.NewGuid():N}@example.com", ("a", 4));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        using (var response = await ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = a, quantity = 7 } } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode); // 5 on hand, 4 reserved: one more is all there is
        }

        var refused = await DecidedAsync(id, "refused");
        Assert.Equal("out-of-stock", refused.GetProperty("changes")[0].GetProperty("refusalReason").GetString());
        Assert.Equal(total, refused.GetProperty("total").GetDecimal());
        await SettledAsync(Client);
        Assert.Equal((5, 4), await StockAsync(Client, a, node));
        Assert.Equal(total, (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("amount").GetDecimal());
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task Changes_are_refused_with_a_clear_problem_for_shipped_lines_bad_input_and_a_change_in_flight()
    {
        var (order, _, a, b) = await ConfirmedAsync($"change-{Guid.NewGuid():N}@example.com", ("a", 1), ("b", 2));
        var id = order.GetProperty("id").GetGuid();

        using (var keyless = await Client.PostAsJsonAsync($"/api/v1/orders/{id}/changes", new { lines = new[] { new { sku = a, quantity = 2 } } }))
        {
            await Problem.AssertAsync(keyless, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error", "Idempotency-Key");
        }

        foreach (var (body, field) in new (object Body, string Field)[]
                 {
                     (new { }, "lines"),
                     (new { lines = new[] { new { sku = a, quantity = -1 } } }, "lines[0].quantity"),
                     (new { lines = new[] { new { sku = "bad sku", quantity = 1 } } }, "lines[0].sku"),
                     (new { shippingAddress = new { name = "X", lines = new[] { "Street 1" }, city = "Berlin", postalCode = "10117", countryCode = "XX" } }, "shippingAddress.countryCode"),
                 })
        {
            using var bad = await ChangeAsync(id, Guid.NewGuid().ToString(), body);
            await Problem.AssertAsync(bad, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error", field);
        }

        using (var unpriced = await ChangeAsync(id, Guid.NewGuid().ToString(), new { serviceLevel = "teleport" }))
        {
            await Problem.AssertAsync(unpriced, HttpStatusCode.UnprocessableEntity, "urn:oms:problem:no-shipping-rate", "serviceLevel");
        }

        using (var unknownSku = await ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = Unique("NOPRICE"), quantity = 1 } } }))
        {
            await Problem.AssertAsync(unknownSku, HttpStatusCode.UnprocessableEntity, "urn:oms:problem:no-price", "lines");
        }

        using (var mixed = await ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = a, quantity = 2 }, new { sku = b, quantity = 1 } } }))
        {
            await Problem.AssertAsync(mixed, HttpStatusCode.BadRequest, "urn:oms:problem:mixed-change", "lines");
        }

        using (var nothing = await ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = a, quantity = 1 } } }))
        {
            await Problem.AssertAsync(nothing, HttpStatusCode.BadRequest, "urn:oms:problem:no-change", "lines");
        }

        // Concurrent changes of one order: one is taken, the others are refused (the version check or the
        // change in flight; one that reads the order after the first was applied finds nothing to change).
        var racers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = a, quantity = 2 } } })));
        Assert.Equal(1, racers.Count(r => r.StatusCode == HttpStatusCode.Accepted));
        Assert.All(racers.Where(r => r.StatusCode != HttpStatusCode.Accepted), r => Assert.True(r.StatusCode is HttpStatusCode.Conflict or HttpStatusCode.BadRequest, r.StatusCode.ToString()));
        foreach (var racer in racers)
        {
            racer.Dispose();
        }

        var changed = await DecidedAsync(id, "applied");
        Assert.Equal(2, Line(changed, a).GetProperty("quantity").GetInt32());

        // Lower quantities alone cancel those units (as cancel-lines does).
        var lowerKey = Guid.NewGuid().ToString();
        using (var lower = await ChangeAsync(id, lowerKey, new { lines = new[] { new { sku = b, quantity = 1 } } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, lower.StatusCode);
        }

        using (var again = await ChangeAsync(id, lowerKey, new { lines = new[] { new { sku = b, quantity = 1 } } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, again.StatusCode); // the same change: answered as it is
        }

        using (var reused = await ChangeAsync(id, lowerKey, new { lines = new[] { new { sku = b, quantity = 0 } } }))
        {
            await Problem.AssertAsync(reused, (HttpStatusCode)422, "urn:oms:problem:idempotency-key-reused", "Idempotency-Key");
        }

        await MessagingHarness.WaitUntilAsync(async () => Line(await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}"), b).GetProperty("quantities").GetProperty("cancelled").GetInt32() == 1);

        // Once B has shipped in full, more of it is refused; once everything has shipped, any change is.
        var fulfilment = await FulfilmentOrdersAsync(Client, id, 2);
        var first = fulfilment.Single(f => f.GetProperty("lines").EnumerateArray().Any(l => l.GetProperty("sku").GetString() == b)).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, first);
        await ShipAsync(Client, first);
        await OrderInStateAsync(Client, id, "partially-shipped");
        using (var shippedLine = await ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = b, quantity = 2 } } }))
        {
            await Problem.AssertAsync(shippedLine, HttpStatusCode.Conflict, "urn:oms:problem:line-shipped", "lines");
        }

        using (var serviceLevel = await ChangeAsync(id, Guid.NewGuid().ToString(), new { serviceLevel = "express" }))
        {
            await Problem.AssertAsync(serviceLevel, HttpStatusCode.Conflict, "urn:oms:problem:partially-shipped", "serviceLevel"); // its charge went with the first shipment
        }

        using (var abroad = await ChangeAsync(id, Guid.NewGuid().ToString(), new { shippingAddress = new { name = "Ada", lines = new[] { "Rue 1" }, city = "Paris", postalCode = "75001", countryCode = "FR" } }))
        {
            await Problem.AssertAsync(abroad, HttpStatusCode.Conflict, "urn:oms:problem:partially-shipped", "shippingAddress.countryCode");
        }

        var second = fulfilment.Single(f => f.GetProperty("id").GetGuid() != first).GetProperty("id").GetGuid();
        await PickAndPackAsync(Client, second);
        await ShipAsync(Client, second);
        var shipped = await OrderInStateAsync(Client, id, "shipped");
        using (var late = await ChangeAsync(id, Guid.NewGuid().ToString(), new { serviceLevel = "standard", shippingAddress = Address("Bonn", "53111") }))
        {
            await Problem.AssertAsync(late, HttpStatusCode.Conflict, "urn:oms:problem:illegal-transition");
        }

        await CapturedAsync(Client, id, shipped.GetProperty("total").GetDecimal());
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task Failed_commits_after_each_effect_of_a_change_leave_it_made_once()
    {
        var (order, node, a, _) = await ConfirmedAsync($"change-{Guid.NewGuid():N}@example.com", ("a", 1));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        // Fulfillment's commit fails after Inventory reserved the added units; Payments' after the provider
        // raised the authorisation; Orders' after Payments committed the raise; Fulfillment's again after
        // the change was applied (the fulfilment order for the added units).
        await using var prepare = await Fault.FailCommitAsync(host.ConnectionString, "fulfillment.routing_decisions", $"NEW.order_id = '{id}' AND NEW.strategy LIKE 'change:%'");
        await using var raise = await Fault.FailCommitAsync(host.ConnectionString, "payments.authorization_increases", $"NEW.order_id = '{id}'");
        await using var apply = await Fault.FailCommitAsync(host.ConnectionString, "orders.order_changes", $"NEW.order_id = '{id}' AND NEW.status = 'Applied'");
        await using var create = await Fault.FailCommitAsync(host.ConnectionString, "fulfillment.fulfilment_orders", $"NEW.order_id = '{id}'");
        var key = Guid.NewGuid().ToString();
        using (var response = await ChangeAsync(id, key, new { lines = new[] { new { sku = a, quantity = 3 } } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        var changed = await DecidedAsync(id, "applied");
        var newTotal = changed.GetProperty("total").GetDecimal();
        Assert.Equal(await QuoteAsync("standard", (a, 3)), newTotal);
        await FulfilmentOrdersAsync(Client, id, 2);
        await SettledAsync(Client);
        Assert.True(await prepare.FiredAsync() >= 1 && await raise.FiredAsync() >= 1 && await apply.FiredAsync() >= 1 && await create.FiredAsync() >= 1);
        Assert.Equal((5, 3), await StockAsync(Client, a, node)); // reserved once
        Assert.Equal(newTotal, Sandbox.LiveAuthorizedFor(host.Services, id)); // raised once, by the difference
        var changeId = changed.GetProperty("changes")[0].GetProperty("changeId").GetGuid();
        Assert.Equal(2, Sandbox.CallsFor(host.Services, $"increase-{changeId}")); // asked again after Payments' failed commit, with the same key
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal(newTotal, ledger.GetProperty("amount").GetDecimal());
        Assert.Single(ledger.GetProperty("entries").EnumerateArray(), e => e.GetProperty("kind").GetString() == "increase");
        Assert.Single(changed.GetProperty("timeline").EnumerateArray(), t => t.GetProperty("event").GetString() == "changed");
        var fulfilment = await FulfilmentOrdersAsync(Client, id, 2);
        Assert.Equal(3, fulfilment.Sum(f => f.GetProperty("lines").EnumerateArray().Sum(l => l.GetProperty("quantity").GetInt32())));
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    /// <summary>What Pricing's quote asks for these lines shipped to Berlin (the web order's address).</summary>
    private async Task<decimal> QuoteAsync(string serviceLevel, params (string Sku, int Quantity)[] lines)
    {
        using var response = await Client.PostAsJsonAsync("/api/v1/pricing/quote", new
        {
            channel = "web", currency = "EUR", countryCode = "DE", deliveryMethod = "ship", serviceLevel,
            lines = lines.Select(l => new { sku = l.Sku, quantity = l.Quantity }),
        });
        var quote = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(response.IsSuccessStatusCode, quote.ToString());
        return quote.GetProperty("total").GetDecimal();
    }

    [Fact]
    public async Task A_change_refused_after_its_raise_was_authorised_gives_the_raise_back_and_releases_its_units()
    {
        var (order, node, a, b) = await ConfirmedAsync($"change-{Guid.NewGuid():N}@example.com", ("a", 1), ("b", 1));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        var grossB = Line(order, b).GetProperty("gross").GetDecimal();
        var fulfilmentId = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();

        // Orders cannot commit the applied change (after Payments raised): the message becomes a dead letter.
        var apply = await Fault.FailCommitAsync(host.ConnectionString, "orders.order_changes", $"NEW.order_id = '{id}' AND NEW.status = 'Applied'", times: 1000);
        decimal newTotal;
        using (var response = await ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = a, quantity = 3 } } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            newTotal = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("changes")[0].GetProperty("newTotal").GetDecimal();
        }

        var deadLetter = await DeadLetterAsync(id);
        await apply.DisposeAsync();
        Assert.Equal(newTotal, Sandbox.LiveAuthorizedFor(host.Services, id)); // raised, not applied

        // Meanwhile the node finds no B, and no other node has it: B is cancelled, the total goes down.
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/start-picking");
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/picks", new { lines = new[] { new { sku = a, picked = 1 }, new { sku = b, picked = 0 } } });
        await PostAsync(Client, $"/api/v1/fulfillment/fulfilment-orders/{fulfilmentId}/pack", new { parcels = 1 });
        await MessagingHarness.WaitUntilAsync(async () => Line(await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}"), b).GetProperty("quantities").GetProperty("cancelled").GetInt32() == 1);

        // The change, replayed now, no longer fits the order it was priced on: refused, the raise given back.
        await ReplayAsync(Client, deadLetter);

        var refused = await DecidedAsync(id, "refused");
        Assert.Equal("order-changed", refused.GetProperty("changes")[0].GetProperty("refusalReason").GetString());
        Assert.Equal(1, Line(refused, a).GetProperty("quantity").GetInt32());
        Assert.Equal(total - grossB, refused.GetProperty("total").GetDecimal());
        await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("amount").GetDecimal() == total - grossB);
        Assert.Equal(total - grossB, Sandbox.LiveAuthorizedFor(host.Services, id));
        await MessagingHarness.WaitUntilAsync(async () => (await StockAsync(Client, a, node)) == (5, 1)); // the two reserved for the change are released
        await ShipAsync(Client, fulfilmentId);
        await CapturedAsync(Client, id, total - grossB);
        await SettledAsync(Client);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    /// <summary>Waits until Orders' apply of a change of the order is a dead letter, and returns it.</summary>
    private Task<JsonElement> DeadLetterAsync(Guid orderId) => Shipping.DeadLetterAsync(Client, orderId, "Orders", "orders.ApplyOrderChange");

    [Fact]
    public async Task A_cancellation_that_overtakes_the_capture_of_what_a_change_added_to_an_order_captured_at_confirmation_leaves_it_captured_exactly()
    {
        var (order, _, a, _) = await ConfirmedAsync($"change-{Guid.NewGuid():N}@example.com", o => o["channel"] = "store", ("a", 1));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        await CapturedAsync(Client, id, total);
        Sandbox.CapturesUnavailable(host.Services, true); // the change's capture waits; the cancellation goes first
        decimal newTotal;
        try
        {
            using (var response = await ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = a, quantity = 3 } } }))
            {
                Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            }

            await DecidedAsync(id, "applied");
            await FulfilmentOrdersAsync(Client, id, 2);
            await CancelLinesAsync(Client, id, (a, 1));
            await MessagingHarness.WaitUntilAsync(async () => Line(await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}"), a).GetProperty("quantities").GetProperty("cancelled").GetInt32() == 1);
            newTotal = (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}")).GetProperty("total").GetDecimal();
            await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("amount").GetDecimal() == newTotal);
        }
        finally
        {
            Sandbox.CapturesUnavailable(host.Services, false);
        }

        var ledger = await CapturedAsync(Client, id, newTotal); // the change's capture takes what the order costs now
        Assert.Equal(0m, ledger.GetProperty("refunded").GetDecimal());
        await SettledAsync(Client);
        Assert.Equal(newTotal, Sandbox.CapturedFor(host.Services, id));
        Assert.Empty(await Client.GetFromJsonAsync<JsonElement[]>($"/api/v1/admin/messaging/dead-letters?module=Payments&consumer=payments.CaptureOnRequest") is { } letters
            ? letters.Where(l => l.GetProperty("partitionKey").GetString() == id.ToString())
            : []);
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_cancellations_refund_that_runs_after_a_later_change_raised_the_authorisation_leaves_the_order_paid_exactly()
    {
        var (order, _, a, _) = await ConfirmedAsync($"change-{Guid.NewGuid():N}@example.com", o => o["channel"] = "store", ("a", 2));
        var (id, total) = (order.GetProperty("id").GetGuid(), order.GetProperty("total").GetDecimal());
        await CapturedAsync(Client, id, total);
        Sandbox.CapturesUnavailable(host.Services, true); // the change's capture comes last
        decimal finalTotal;
        try
        {
            // The cancellation's refund cannot be written for a while: Payments carries it out after the change's raise.
            await using (await Fault.OutageAsync(host.ConnectionString, "payments.ledger_entries", $"NEW.order_id = '{id}' AND NEW.kind = 'refund'"))
            {
                await CancelLinesAsync(Client, id, (a, 1));
                await MessagingHarness.WaitUntilAsync(async () => Line(await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}"), a).GetProperty("quantities").GetProperty("cancelled").GetInt32() == 1);
                using (var response = await ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = a, quantity = 2 } } }))
                {
                    Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
                }

                finalTotal = (await DecidedAsync(id, "applied")).GetProperty("total").GetDecimal();
                Assert.Equal(0m, (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("refunded").GetDecimal());
            }

            await MessagingHarness.WaitUntilAsync(async () => (await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}")).GetProperty("refunded").GetDecimal() > 0);
        }
        finally
        {
            Sandbox.CapturesUnavailable(host.Services, false);
        }

        await SettledAsync(Client);
        var ledger = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/payments?orderId={id}");
        Assert.Equal(finalTotal, ledger.GetProperty("paid").GetDecimal()); // captured − refunded: what the order costs now
        Assert.True(ledger.GetProperty("reconciles").GetBoolean());
        Assert.Equal(finalTotal, Sandbox.CapturedFor(host.Services, id) - Sandbox.RefundedFor(host.Services, id));
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    [Fact]
    public async Task A_cancellation_of_units_a_change_added_waits_until_Fulfillment_has_made_their_fulfilment_order()
    {
        var (order, _, a, _) = await ConfirmedAsync($"change-{Guid.NewGuid():N}@example.com", ("a", 1));
        var id = order.GetProperty("id").GetGuid();
        var first = Assert.Single(await FulfilmentOrdersAsync(Client, id, 1)).GetProperty("id").GetGuid();

        // Orders applies the change, but Fulfillment cannot make the added units' fulfilment order yet
        // (the first one can still be written: a cancellation may take units off it).
        var stuck = await Fault.FailCommitAsync(host.ConnectionString, "fulfillment.fulfilment_orders", $"NEW.order_id = '{id}' AND NEW.id <> '{first}'", times: 1000);
        using (var response = await ChangeAsync(id, Guid.NewGuid().ToString(), new { lines = new[] { new { sku = a, quantity = 3 } } }))
        {
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        await DecidedAsync(id, "applied");
        var apply = await Shipping.DeadLetterAsync(Client, id, "Fulfillment", "fulfillment.ApplyOrderChange");

        // Two of the three units are cancelled meanwhile: Fulfillment waits for the change rather than
        // refusing the units it has no fulfilment order for (here until its attempts run out).
        await CancelLinesAsync(Client, id, (a, 2));
        var cancellation = await Shipping.DeadLetterAsync(Client, id, "Fulfillment", "fulfillment.TakeOffCancelledUnits");
        await stuck.DisposeAsync();
        await ReplayAsync(Client, apply);
        await ReplayAsync(Client, cancellation);

        var after = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{id}");
        Assert.Equal(2, Line(after, a).GetProperty("quantities").GetProperty("cancelled").GetInt32()); // both taken off, none refused
        Assert.DoesNotContain(after.GetProperty("timeline").EnumerateArray(), t => t.GetProperty("event").GetString() == "line cancellation refused");
        var fulfilment = await FulfilmentOrdersAsync(Client, id, 2);
        Assert.Equal(1, fulfilment.Sum(f => f.GetProperty("lines").EnumerateArray().Sum(l => l.GetProperty("quantity").GetInt32() - l.GetProperty("cancelled").GetInt32())));
        await Invariants.AssertHoldAsync(host.ConnectionString, [id]);
    }

    /// <summary>What the node's daily capacity counts today (the routing counts each order, and each change's units, it plans there).</summary>
    private async Task<int> DailyLoadAsync(string node)
    {
        await using var connection = new Npgsql.NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand("SELECT coalesce(sum(orders), 0)::int FROM fulfillment.node_daily_load WHERE node_code = $1 AND day = (now() AT TIME ZONE 'utc')::date", connection);
        command.Parameters.AddWithValue(node);
        return (int)(await command.ExecuteScalarAsync())!;
    }

    private static JsonElement Line(JsonElement order, string sku) =>
        order.GetProperty("lines").EnumerateArray().Single(l => l.GetProperty("sku").GetString() == sku);

    private static object Address(string city, string postalCode) =>
        new { name = "Ada Lovelace", lines = new[] { "Hauptstraße 5" }, city, postalCode, countryCode = "DE" };

    private Task<HttpResponseMessage> ChangeAsync(Guid orderId, string key, object body) =>
        Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, $"/api/v1/orders/{orderId}/changes")
        {
            Content = JsonContent.Create(body),
            Headers = { { "Idempotency-Key", key } },
        });

    /// <summary>Waits until no change of the order is in flight and the latest one is in this state; returns the order then.</summary>
    private async Task<JsonElement> DecidedAsync(Guid orderId, string status)
    {
        JsonElement order = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            order = await Client.GetFromJsonAsync<JsonElement>($"/api/v1/orders/{orderId}");
            var changes = order.GetProperty("changes").EnumerateArray().ToArray();
            return changes.Length > 0 && changes.All(c => c.GetProperty("status").GetString() != "requested");
        });
        Assert.Equal(status, order.GetProperty("changes").EnumerateArray().Last().GetProperty("status").GetString());
        return order;
    }

    private Task<(JsonElement Order, string Node, string A, string B)> ConfirmedAsync(string email, params (string Name, int Quantity)[] lines) =>
        ConfirmedAsync(email, _ => { }, lines);

    /// <summary>A confirmed web order of the first lines' new SKUs (a second new SKU priced and stocked for adding); 5 on hand each at one new node.</summary>
    private async Task<(JsonElement Order, string Node, string A, string B)> ConfirmedAsync(string email, Action<JsonObject> shape, params (string Name, int Quantity)[] lines)
    {
        var node = await Pipeline.NodeAsync(Client);
        var (a, b) = (Unique("SKU"), Unique("SKU"));
        await Catalog.StockAsync(Client, a, node, 5, price: 6.66m);
        await Catalog.StockAsync(Client, b, node, 5, price: 6.66m);
        var skus = new[] { a, b };
        var placed = OrderCaptureTests.WebOrder("cust-" + Guid.NewGuid().ToString("N")[..8], lines.Select((l, i) => (skus[i], l.Quantity)).ToArray());
        placed["customer"]!["email"] = email;
        shape(placed);
        var order = await Pipeline.PlaceAndSettleAsync(Client, placed);
        Assert.Equal("confirmed", order.GetProperty("status").GetString());
        return (order, node, a, b);
    }
}
