using System.Text.Json;
using Npgsql;
using NpgsqlTypes;
using OmsModular.Modules.Orders.Domain;
using static OmsModular.Shared.Infrastructure.Persistence.SqlParameters;

namespace OmsModular.Modules.Orders.Persistence;

/// <summary>
/// The shape of an <c>orders.orders</c> row for the set-based SQL of the hot paths, in one place:
/// each column's name (the EF model's, snake_case), its type, how it is written from an
/// <see cref="Order"/> and whether capture inserts it and the pipeline steps update it. The capture
/// insert, the pipeline's read and its version-guarded update are all generated from this list, and
/// rows are read by column name, so a new column is one entry here (and one in the EF model; a test
/// compares this list with the table's columns).
/// </summary>
internal static class OrderRows
{
    /// <summary>One column: written from the orders as an array parameter of <see cref="SqlType"/>; <see cref="FromUnnest"/> turns the unnested value into the column's value.</summary>
    internal sealed record Column(string Name, string SqlType, Func<IReadOnlyList<Order>, NpgsqlParameter> Values, bool Captured, bool Stepped, string FromUnnest = "{0}");

    public static readonly Column[] All =
    [
        new("id", "uuid", o => ArrayParameter(o.Select(x => x.Id)), Captured: true, Stepped: false),
        new("number", "text", o => ArrayParameter(o.Select(x => x.Number)), Captured: true, Stepped: false),
        new("channel", "text", o => ArrayParameter(o.Select(x => x.Channel.ToString())), Captured: true, Stepped: false),
        new("marketplace", "text", o => ArrayParameter(o.Select(x => x.Marketplace)), Captured: true, Stepped: false),
        new("external_order_id", "text", o => ArrayParameter(o.Select(x => x.ExternalOrderId)), Captured: true, Stepped: false),
        new("customer_id", "text", o => ArrayParameter(o.Select(x => (string?)x.Customer.Id)), Captured: true, Stepped: false),
        new("customer_email", "text", o => ArrayParameter(o.Select(x => x.Customer.Email)), Captured: true, Stepped: false),
        new("customer_name", "text", o => ArrayParameter(o.Select(x => x.Customer.Name)), Captured: true, Stepped: false),
        new("currency", "text", o => ArrayParameter(o.Select(x => x.Currency)), Captured: true, Stepped: false),
        new("shipping_address_name", "text", o => ArrayParameter(o.Select(x => x.ShippingAddress.Name)), Captured: true, Stepped: false),
        new("shipping_address_lines", "jsonb", o => JsonArray(o.Select(x => x.ShippingAddress.Lines)), Captured: true, Stepped: false, "ARRAY(SELECT jsonb_array_elements_text({0}))"),
        new("shipping_address_city", "text", o => ArrayParameter(o.Select(x => x.ShippingAddress.City)), Captured: true, Stepped: false),
        new("shipping_address_postal_code", "text", o => ArrayParameter(o.Select(x => x.ShippingAddress.PostalCode)), Captured: true, Stepped: false),
        new("shipping_address_country_code", "text", o => ArrayParameter(o.Select(x => x.ShippingAddress.CountryCode)), Captured: true, Stepped: false),
        new("shipping_address_latitude", "float8", o => ArrayParameter(o.Select(x => x.ShippingAddress.Latitude)), Captured: true, Stepped: false),
        new("shipping_address_longitude", "float8", o => ArrayParameter(o.Select(x => x.ShippingAddress.Longitude)), Captured: true, Stepped: false),
        new("delivery_method", "text", o => ArrayParameter(o.Select(x => x.Delivery.Method)), Captured: true, Stepped: false),
        new("delivery_service_level", "text", o => ArrayParameter(o.Select(x => x.Delivery.ServiceLevel)), Captured: true, Stepped: false),
        new("delivery_pickup_location", "text", o => ArrayParameter(o.Select(x => x.Delivery.PickupLocation)), Captured: true, Stepped: false),
        new("coupon_codes", "jsonb", o => JsonArray(o.Select(x => x.CouponCodes)), Captured: true, Stepped: false, "ARRAY(SELECT jsonb_array_elements_text({0}))"),
        new("payment_method", "text", o => ArrayParameter(o.Select(x => x.Payment.Method)), Captured: true, Stepped: false),
        new("payment_token", "text", o => ArrayParameter(o.Select(x => x.Payment.Token)), Captured: true, Stepped: false),
        new("status", "text", o => ArrayParameter(o.Select(x => x.Status.ToString())), Captured: true, Stepped: true),
        new("status_reason", "text", o => ArrayParameter(o.Select(x => x.StatusReason)), Captured: false, Stepped: true),
        new("placed_at", "timestamptz", o => ArrayParameter(o.Select(x => x.PlacedAt)), Captured: true, Stepped: false),
        new("updated_at", "timestamptz", o => ArrayParameter(o.Select(x => x.UpdatedAt)), Captured: true, Stepped: true),
        new("reservation", "text", o => ArrayParameter(o.Select(x => x.Reservation.ToString())), Captured: false, Stepped: true),
        new("pricing", "text", o => ArrayParameter(o.Select(x => x.Pricing.ToString())), Captured: false, Stepped: true),
        new("payment_step", "text", o => ArrayParameter(o.Select(x => x.PaymentStep.ToString())), Captured: false, Stepped: true),
        new("total", "numeric", o => ArrayParameter(o.Select(x => x.Total)), Captured: false, Stepped: true),
        new("tax_total", "numeric", o => ArrayParameter(o.Select(x => x.TaxTotal)), Captured: false, Stepped: true),
        new("shipping_gross", "numeric", o => ArrayParameter(o.Select(x => x.ShippingGross)), Captured: false, Stepped: true),
        new("discount_total", "numeric", o => ArrayParameter(o.Select(x => x.DiscountTotal)), Captured: false, Stepped: true),
        new("routing_decision_id", "uuid", o => ArrayParameter(o.Select(x => x.RoutingDecisionId)), Captured: false, Stepped: true),
        new("reserved_nodes", "int", o => ArrayParameter(o.Select(x => x.ReservedNodes)), Captured: false, Stepped: true),
        new("hold_released", "bool", o => ArrayParameter(o.Select(x => x.HoldReleased)), Captured: false, Stepped: false),
        new("payment_hold", "text", o => ArrayParameter(o.Select(x => x.PaymentHold)), Captured: false, Stepped: false),
        new("captured_at_confirmation", "bool", o => ArrayParameter(o.Select(x => x.CapturedAtConfirmation)), Captured: false, Stepped: true),
        new("delivered_at", "timestamptz", o => ArrayParameter(o.Select(x => x.DeliveredAt)), Captured: false, Stepped: false),
        new("reroutes", "int", o => ArrayParameter(o.Select(x => x.Reroutes)), Captured: false, Stepped: true),
        new("discounts", "text", o => ArrayParameter(o.Select(x => JsonSerializer.Serialize(x.Discounts))), Captured: false, Stepped: true, "{0}::jsonb"),
        new("coupons", "text", o => ArrayParameter(o.Select(x => JsonSerializer.Serialize(x.Coupons))), Captured: false, Stepped: true, "{0}::jsonb"),
        new("fulfilment", "text", o => ArrayParameter(o.Select(x => JsonSerializer.Serialize(x.Fulfilment))), Captured: false, Stepped: true, "{0}::jsonb"),
    ];

    /// <summary>Inserts captured orders: one row per order of the parameters' arrays.</summary>
    public static NpgsqlBatchCommand Insert(IReadOnlyList<Order> orders)
    {
        var columns = All.Where(c => c.Captured).ToArray();
        var command = new NpgsqlBatchCommand($"""
            INSERT INTO orders.orders ({string.Join(", ", columns.Select(c => c.Name))})
            SELECT {string.Join(", ", columns.Select(c => string.Format(System.Globalization.CultureInfo.InvariantCulture, c.FromUnnest, $"o.{c.Name}")))}
            FROM unnest({string.Join(", ", columns.Select((c, i) => $"${i + 1}::{c.SqlType}[]"))}) AS o({string.Join(", ", columns.Select(c => c.Name))})
            """);
        foreach (var column in columns)
        {
            command.Parameters.Add(column.Values(orders));
        }

        return command;
    }

    /// <summary>The rows of the orders with the ids given as parameter <c>$1</c>, every column plus the row version (<c>version</c>).</summary>
    public static readonly string SelectByIds =
        $"SELECT {string.Join(", ", All.Select(c => c.Name))}, xmin::text::int8 AS version FROM orders.orders WHERE id = ANY($1)";

    /// <summary>
    /// The version-guarded update of what pipeline steps change, as the first part of a statement:
    /// <c>written AS (UPDATE … RETURNING o.id)</c>, parameters from <paramref name="first"/> on.
    /// </summary>
    public static (string Sql, IReadOnlyList<NpgsqlParameter> Parameters) GuardedUpdate(IReadOnlyList<Order> orders, int first)
    {
        var columns = All.Where(c => c.Stepped).ToArray();
        var parameters = new List<NpgsqlParameter>
        {
            ArrayParameter(orders.Select(o => o.Id)),
            ArrayParameter(orders.Select(o => (long)o.Version)),
        };
        parameters.AddRange(columns.Select(c => c.Values(orders)));
        var names = new[] { "id", "version" }.Concat(columns.Select(c => c.Name)).ToArray();
        var types = new[] { "uuid", "int8" }.Concat(columns.Select(c => c.SqlType)).ToArray();
        var sql = $"""
            written AS (
                UPDATE orders.orders AS o
                SET {string.Join(", ", columns.Select(c => $"{c.Name} = {string.Format(System.Globalization.CultureInfo.InvariantCulture, c.FromUnnest, $"u.{c.Name}")}"))}
                FROM unnest({string.Join(", ", types.Select((t, i) => $"${first + i}::{t}[]"))}) AS u({string.Join(", ", names)})
                WHERE o.id = u.id AND o.xmin::text::int8 = u.version
                RETURNING o.id)
            """;
        return (sql, parameters);
    }

    /// <summary>Reads an order row (lines and timeline are not part of it) by column name.</summary>
    public static Order Read(NpgsqlDataReader reader)
    {
        string? Text(string name) => reader.IsDBNull(reader.GetOrdinal(name)) ? null : reader.GetString(reader.GetOrdinal(name));
        T? Value<T>(string name)
            where T : struct => reader.IsDBNull(reader.GetOrdinal(name)) ? null : reader.GetFieldValue<T>(reader.GetOrdinal(name));
        List<T> Json<T>(string name) => Text(name) is { } json ? JsonSerializer.Deserialize<List<T>>(json) ?? [] : [];
        var order = new Order
        {
            Id = reader.GetGuid(reader.GetOrdinal("id")),
            Number = Text("number")!,
            Channel = Enum.Parse<SalesChannel>(Text("channel")!),
            Marketplace = Text("marketplace"),
            ExternalOrderId = Text("external_order_id"),
            Customer = new Customer { Id = Text("customer_id")!, Email = Text("customer_email")!, Name = Text("customer_name")! },
            Currency = Text("currency")!,
            ShippingAddress = new Address
            {
                Name = Text("shipping_address_name")!,
                Lines = [.. reader.GetFieldValue<string[]>(reader.GetOrdinal("shipping_address_lines"))],
                City = Text("shipping_address_city")!,
                PostalCode = Text("shipping_address_postal_code")!,
                CountryCode = Text("shipping_address_country_code")!,
                Latitude = Value<double>("shipping_address_latitude"),
                Longitude = Value<double>("shipping_address_longitude"),
            },
            Delivery = new Delivery { Method = Text("delivery_method")!, ServiceLevel = Text("delivery_service_level"), PickupLocation = Text("delivery_pickup_location") },
            CouponCodes = [.. reader.GetFieldValue<string[]>(reader.GetOrdinal("coupon_codes"))],
            Payment = new PaymentInstruction { Method = Text("payment_method")!, Token = Text("payment_token")! },
            PlacedAt = reader.GetFieldValue<DateTimeOffset>(reader.GetOrdinal("placed_at")),
            Reservation = Enum.Parse<StepState>(Text("reservation")!),
            Pricing = Enum.Parse<StepState>(Text("pricing")!),
            PaymentStep = Enum.Parse<StepState>(Text("payment_step")!),
            Total = Value<decimal>("total"),
            TaxTotal = Value<decimal>("tax_total"),
            ShippingGross = Value<decimal>("shipping_gross"),
            DiscountTotal = Value<decimal>("discount_total"),
            RoutingDecisionId = Value<Guid>("routing_decision_id"),
            ReservedNodes = reader.GetInt32(reader.GetOrdinal("reserved_nodes")),
            HoldReleased = reader.GetBoolean(reader.GetOrdinal("hold_released")),
            PaymentHold = Text("payment_hold"),
            CapturedAtConfirmation = reader.GetBoolean(reader.GetOrdinal("captured_at_confirmation")),
            DeliveredAt = Value<DateTimeOffset>("delivered_at"),
            Reroutes = reader.GetInt32(reader.GetOrdinal("reroutes")),
            Discounts = Json<AppliedDiscount>("discounts"),
            Coupons = Json<CouponResult>("coupons"),
            Fulfilment = Json<FulfilmentAllocation>("fulfilment"),
        };
        return order.Restore(
            Enum.Parse<OrderStatus>(Text("status")!),
            Text("status_reason"),
            reader.GetFieldValue<DateTimeOffset>(reader.GetOrdinal("updated_at")),
            (uint)reader.GetInt64(reader.GetOrdinal("version")));
    }

    /// <summary>Appends timeline entries (order id and entry) in one statement.</summary>
    public static NpgsqlBatchCommand InsertTimeline(IReadOnlyCollection<(Guid OrderId, TimelineEntry Entry)> entries) =>
        new("""
            INSERT INTO orders.order_timeline (order_id, at, event, status, reason, cause, actor)
            SELECT * FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
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
                ArrayParameter(entries.Select(t => t.Entry.Actor)),
            },
        };

    private static NpgsqlParameter JsonArray(IEnumerable<List<string>> lists) =>
        new() { Value = lists.Select(l => JsonSerializer.Serialize(l)).ToArray(), NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Jsonb };
}
