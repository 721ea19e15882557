using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OmsModular.Modules.Orders.Domain;
using static OmsModular.Shared.Infrastructure.Persistence.SqlParameters;

namespace OmsModular.Modules.Orders.Persistence;

/// <summary>
/// Set-based SQL for the hot paths of the Orders module, on the tables of its EF model (the column
/// names are the model's; the capture and pipeline tests read every written field back through EF).
/// </summary>
internal static class OrderSql
{
    /// <summary>Appends timeline entries (order id and entry) in one statement.</summary>
    public static NpgsqlBatchCommand InsertTimeline(IReadOnlyCollection<(Guid OrderId, TimelineEntry Entry)> entries) =>
        new("""
            INSERT INTO orders.order_timeline (order_id, at, event, status, reason, cause)
            SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[])
            """)
        {
            Parameters =
            {
                ArrayParameter(entries.Select(t => t.OrderId)),
                ArrayParameter(entries.Select(t => t.Entry.At)),
                ArrayParameter(entries.Select(t => t.Entry.Event)),
                ArrayParameter(entries.Select(t => t.Entry.Status.ToString())),
                ArrayParameter(entries.Select(t => t.Entry.Reason)),
                ArrayParameter(entries.Select(t => t.Entry.Cause)),
            },
        };
}

/// <summary>
/// How the order pipeline reads and writes the orders of a batch of messages. It reads the order
/// rows without tracking and without their lines and timeline (the steps only append to the
/// timeline and set the lines' prices), and writes back what the steps changed in one round trip:
/// one statement that updates the order rows guarded by each row's version (<c>xmin</c>, the
/// optimistic token EF uses everywhere else) and, for the rows it wrote, inserts the new timeline
/// entries and updates the priced lines. A row changed by someone else since it was read (a
/// cancellation over HTTP, say) is not written; <see cref="SaveAsync"/> names it, and the
/// pipeline runs that order's step again on what the order is now, while the other orders of the
/// batch keep what they did. EF's change tracking of these
/// graphs (an order is a dozen tracked entries: owned types, lines, timeline) cost more CPU than
/// the rest of a step, which is why this is SQL.
/// Every change a step makes lands on the order's timeline, so an order with new timeline entries
/// is an order to write.
/// </summary>
internal sealed class PipelineOrders(OrdersDbContext db)
{
    private readonly Dictionary<Guid, Order> _orders = [];
    private readonly List<(Guid OrderId, string Sku, decimal UnitPrice, decimal Discount, decimal Net, decimal Tax, decimal Gross)> _prices = [];

    /// <summary>The orders with these ids that exist (one query; rows only, without lines and timeline).</summary>
    public async Task<IReadOnlyDictionary<Guid, Order>> LoadAsync(IEnumerable<Guid> orderIds, CancellationToken cancellationToken)
    {
        await using var command = await db.CreateCommandAsync(
            """
            SELECT id, number, channel, marketplace, external_order_id, customer_id, customer_email, customer_name, currency,
                shipping_address_name, shipping_address_lines, shipping_address_city, shipping_address_postal_code,
                shipping_address_country_code, shipping_address_latitude, shipping_address_longitude,
                delivery_method, delivery_service_level, delivery_pickup_location, coupon_codes, payment_method, payment_token,
                status, status_reason, placed_at, updated_at, reservation, pricing, payment_step,
                total, tax_total, shipping_gross, discount_total, routing_decision_id, reserved_nodes, hold_released,
                discounts, coupons, fulfilment, xmin::text::int8
            FROM orders.orders WHERE id = ANY($1)
            """,
            cancellationToken);
        command.Parameters.Add(ArrayParameter(orderIds.Distinct()));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var order = new Order
            {
                Id = reader.GetGuid(0),
                Number = reader.GetString(1),
                Channel = Enum.Parse<SalesChannel>(reader.GetString(2)),
                Marketplace = reader.IsDBNull(3) ? null : reader.GetString(3),
                ExternalOrderId = reader.IsDBNull(4) ? null : reader.GetString(4),
                Customer = new Customer { Id = reader.IsDBNull(5) ? null! : reader.GetString(5), Email = reader.GetString(6), Name = reader.GetString(7) },
                Currency = reader.GetString(8),
                ShippingAddress = new Address
                {
                    Name = reader.GetString(9),
                    Lines = [.. reader.GetFieldValue<string[]>(10)],
                    City = reader.GetString(11),
                    PostalCode = reader.GetString(12),
                    CountryCode = reader.GetString(13),
                    Latitude = reader.IsDBNull(14) ? null : reader.GetDouble(14),
                    Longitude = reader.IsDBNull(15) ? null : reader.GetDouble(15),
                },
                Delivery = new Delivery
                {
                    Method = reader.GetString(16),
                    ServiceLevel = reader.IsDBNull(17) ? null : reader.GetString(17),
                    PickupLocation = reader.IsDBNull(18) ? null : reader.GetString(18),
                },
                CouponCodes = [.. reader.GetFieldValue<string[]>(19)],
                Payment = new PaymentInstruction { Method = reader.GetString(20), Token = reader.GetString(21) },
                PlacedAt = reader.GetFieldValue<DateTimeOffset>(24),
                Reservation = Enum.Parse<StepState>(reader.GetString(26)),
                Pricing = Enum.Parse<StepState>(reader.GetString(27)),
                PaymentStep = Enum.Parse<StepState>(reader.GetString(28)),
                Total = reader.IsDBNull(29) ? null : reader.GetDecimal(29),
                TaxTotal = reader.IsDBNull(30) ? null : reader.GetDecimal(30),
                ShippingGross = reader.IsDBNull(31) ? null : reader.GetDecimal(31),
                DiscountTotal = reader.IsDBNull(32) ? null : reader.GetDecimal(32),
                RoutingDecisionId = reader.IsDBNull(33) ? null : reader.GetGuid(33),
                ReservedNodes = reader.GetInt32(34),
                HoldReleased = reader.GetBoolean(35),
                Discounts = Json<AppliedDiscount>(reader, 36),
                Coupons = Json<CouponResult>(reader, 37),
                Fulfilment = Json<FulfilmentAllocation>(reader, 38),
            };
            _orders[order.Id] = order.Restore(
                Enum.Parse<OrderStatus>(reader.GetString(22)),
                reader.IsDBNull(23) ? null : reader.GetString(23),
                reader.GetFieldValue<DateTimeOffset>(25),
                (uint)reader.GetInt64(39));
        }

        return _orders;
    }

    private static List<T> Json<T>(NpgsqlDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? [] : JsonSerializer.Deserialize<List<T>>(reader.GetString(ordinal)) ?? [];

    /// <summary>Sets a line's prices (by SKU: an order holds each SKU on one line).</summary>
    public void Price(Order order, string sku, decimal unitPrice, decimal discount, decimal net, decimal tax, decimal gross) =>
        _prices.Add((order.Id, sku, unitPrice, discount, net, tax, gross));

    /// <summary>
    /// Writes the changed orders, their new timeline entries and priced lines in one statement (once
    /// per unit). Each order row is written only if its version is still the one read; for an order
    /// changed meanwhile nothing is written (nor its timeline, prices or the events published for
    /// it in this unit) and its id is returned, so the caller can run its step again on what the
    /// order is now.
    /// </summary>
    public async Task<IReadOnlySet<Guid>> SaveAsync(CancellationToken cancellationToken)
    {
        var changed = _orders.Values.Where(o => o.Timeline.Count > 0).ToArray();
        if (changed.Length == 0)
        {
            _orders.Clear();
            _prices.Clear();
            return new HashSet<Guid>();
        }

        static string Json<T>(List<T> items) => JsonSerializer.Serialize(items);
        var timeline = changed.SelectMany(o => o.Timeline.Select(t => (o.Id, Entry: t))).ToArray();
        await using var command = await db.CreateCommandAsync("""
            WITH written AS (
                UPDATE orders.orders AS o
                SET status = u.status, status_reason = u.status_reason, updated_at = u.updated_at,
                    reservation = u.reservation, pricing = u.pricing, payment_step = u.payment_step,
                    total = u.total, tax_total = u.tax_total, shipping_gross = u.shipping_gross, discount_total = u.discount_total,
                    routing_decision_id = u.routing_decision_id, reserved_nodes = u.reserved_nodes,
                    discounts = u.discounts::jsonb, coupons = u.coupons::jsonb, fulfilment = u.fulfilment::jsonb
                FROM unnest($1::uuid[], $2::int8[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[],
                        $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[], $13::uuid[], $14::int[], $15::text[], $16::text[], $17::text[])
                  AS u(id, version, status, status_reason, updated_at, reservation, pricing, payment_step,
                       total, tax_total, shipping_gross, discount_total, routing_decision_id, reserved_nodes, discounts, coupons, fulfilment)
                WHERE o.id = u.id AND o.xmin::text::int8 = u.version
                RETURNING o.id),
            timeline AS (
                INSERT INTO orders.order_timeline (order_id, at, event, status, reason, cause)
                SELECT t.* FROM unnest($18::uuid[], $19::timestamptz[], $20::text[], $21::text[], $22::text[], $23::text[])
                  AS t(order_id, at, event, status, reason, cause)
                WHERE t.order_id IN (SELECT id FROM written)),
            prices AS (
                UPDATE orders.order_lines AS l
                SET unit_price = p.unit_price, discount = p.discount, net = p.net, tax = p.tax, gross = p.gross
                FROM unnest($24::uuid[], $25::text[], $26::numeric[], $27::numeric[], $28::numeric[], $29::numeric[], $30::numeric[])
                  AS p(order_id, sku, unit_price, discount, net, tax, gross)
                WHERE l.order_id = p.order_id AND l.sku = p.sku AND p.order_id IN (SELECT id FROM written)
                RETURNING l.order_id)
            SELECT id, (SELECT count(*) FROM prices) FROM written
            """, cancellationToken);
        foreach (var parameter in new NpgsqlParameter[]
        {
            ArrayParameter(changed.Select(o => o.Id)),
            ArrayParameter(changed.Select(o => (long)o.Version)),
            ArrayParameter(changed.Select(o => o.Status.ToString())),
            ArrayParameter(changed.Select(o => o.StatusReason)),
            ArrayParameter(changed.Select(o => o.UpdatedAt)),
            ArrayParameter(changed.Select(o => o.Reservation.ToString())),
            ArrayParameter(changed.Select(o => o.Pricing.ToString())),
            ArrayParameter(changed.Select(o => o.PaymentStep.ToString())),
            ArrayParameter(changed.Select(o => o.Total)),
            ArrayParameter(changed.Select(o => o.TaxTotal)),
            ArrayParameter(changed.Select(o => o.ShippingGross)),
            ArrayParameter(changed.Select(o => o.DiscountTotal)),
            ArrayParameter(changed.Select(o => o.RoutingDecisionId)),
            ArrayParameter(changed.Select(o => o.ReservedNodes)),
            ArrayParameter(changed.Select(o => Json(o.Discounts))),
            ArrayParameter(changed.Select(o => Json(o.Coupons))),
            ArrayParameter(changed.Select(o => Json(o.Fulfilment))),
            ArrayParameter(timeline.Select(t => t.Id)),
            ArrayParameter(timeline.Select(t => t.Entry.At)),
            ArrayParameter(timeline.Select(t => t.Entry.Event)),
            ArrayParameter(timeline.Select(t => t.Entry.Status.ToString())),
            ArrayParameter(timeline.Select(t => t.Entry.Reason)),
            ArrayParameter(timeline.Select(t => t.Entry.Cause)),
            ArrayParameter(_prices.Select(p => p.OrderId)),
            ArrayParameter(_prices.Select(p => p.Sku)),
            ArrayParameter(_prices.Select(p => p.UnitPrice)),
            ArrayParameter(_prices.Select(p => p.Discount)),
            ArrayParameter(_prices.Select(p => p.Net)),
            ArrayParameter(_prices.Select(p => p.Tax)),
            ArrayParameter(_prices.Select(p => p.Gross)),
        })
        {
            command.Parameters.Add(parameter);
        }

        var written = new HashSet<Guid>();
        long pricedLines = 0;
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                written.Add(reader.GetGuid(0));
                pricedLines = reader.GetInt64(1);
            }
        }

        var expectedPrices = _prices.Count(p => written.Contains(p.OrderId));
        if (pricedLines != expectedPrices)
        {
            throw new InvalidOperationException($"{expectedPrices - pricedLines} priced lines have no line of their SKU on their order.");
        }

        var conflicted = changed.Select(o => o.Id).Where(id => !written.Contains(id)).ToHashSet();
        if (conflicted.Count > 0)
        {
            db.DiscardPublished(conflicted.Select(id => id.ToString()).ToHashSet(StringComparer.Ordinal));
        }

        _orders.Clear(); // written (or given up): their versions moved on, so a unit is saved once
        _prices.Clear();
        return conflicted;
    }
}
