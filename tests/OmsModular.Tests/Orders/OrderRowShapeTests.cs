using Npgsql;
using OmsModular.Tests.HostTests;

namespace OmsModular.Tests.Orders;

/// <summary>The set-based SQL of the Orders hot paths takes its column list from one place (OrderRows); it must be the table's.</summary>
[Collection(HostCollection.Name)]
public sealed class OrderRowShapeTests(HostFixture host)
{
    [Fact]
    public async Task The_one_row_shape_of_the_set_based_sql_lists_every_column_of_the_orders_table()
    {
        var type = Type.GetType("OmsModular.Modules.Orders.Persistence.OrderRows, OmsModular.Modules.Orders", throwOnError: true)!;
        var columns = ((Array)type.GetField("All")!.GetValue(null)!).Cast<object>()
            .Select(c => (string)c.GetType().GetProperty("Name")!.GetValue(c)!)
            .Order(StringComparer.Ordinal)
            .ToArray();

        await using var connection = new NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT column_name FROM information_schema.columns WHERE table_schema = 'orders' AND table_name = 'orders'", connection);
        var table = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                table.Add(reader.GetString(0));
            }
        }

        Assert.Equal(table.Order(StringComparer.Ordinal), columns);
    }
}
