using System.Net;
using System.Text;
using Npgsql;
using OmsModular.Tests.HostTests;
using OmsModular.Tests.Orders;
using static OmsModular.Tests.Infrastructure.TestData;

namespace OmsModular.Tests.Payments;

/// <summary>The payment token goes to Payments only: no table, outbox or inbox of any module holds it in plain text.</summary>
[Collection(HostCollection.Name)]
public sealed class TokenSecrecyTests(HostFixture host)
{
    [Fact]
    public async Task After_an_order_the_token_is_found_in_no_table_and_no_message()
    {
        var node = await Pipeline.NodeAsync(host.Client);
        var sku = Unique("SKU");
        await Catalog.StockAsync(host.Client, sku, node, 5);
        var token = $"sandbox-secret-{Guid.NewGuid():N}";
        var order = OrderCaptureTests.WebOrder(Unique("c"), (sku, 1));
        order["payment"]!["token"] = token;
        var settled = await Pipeline.PlaceAndSettleAsync(host.Client, order);
        Assert.Equal("confirmed", settled.GetProperty("status").GetString());
        Assert.DoesNotContain(token, settled.GetRawText(), StringComparison.Ordinal);

        await using var connection = new NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        var tables = new List<string>();
        await using (var list = new NpgsqlCommand(
                         "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema')",
                         connection))
        await using (var reader = await list.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        Assert.Contains("orders.outbox_messages", tables);
        Assert.Contains("pricing.inbox_messages", tables);
        var holding = new List<string>();
        foreach (var table in tables)
        {
            await using var search = new NpgsqlCommand($"SELECT count(*) FROM {table} t WHERE t::text LIKE '%' || $1 || '%'", connection) { Parameters = { new() { Value = token } } };
            if ((long)(await search.ExecuteScalarAsync())! > 0)
            {
                holding.Add(table);
            }
        }

        Assert.True(holding.Count == 0, $"the token is in plain text in {string.Join(", ", holding)}");

        // What Orders keeps is sealed: a value of the sealed form, not the token.
        await using var stored = new NpgsqlCommand("SELECT payment_token FROM orders.orders WHERE id = $1", connection) { Parameters = { new() { Value = settled.GetProperty("id").GetGuid() } } };
        Assert.StartsWith("v1.", (string)(await stored.ExecuteScalarAsync())!, StringComparison.Ordinal);
    }

    [Fact]
    public void A_sealed_token_opens_only_for_its_order_and_only_with_the_private_key()
    {
        var (keyId, publicKey, privateKey) = OmsModular.Shared.Infrastructure.Secrets.SealedBox.CreateKey();
        var (_, _, otherPrivate) = OmsModular.Shared.Infrastructure.Secrets.SealedBox.CreateKey();
        var order = Guid.NewGuid().ToString();
        var sealedToken = OmsModular.Shared.Infrastructure.Secrets.SealedBox.Seal(keyId, publicKey, "sandbox-approve", order);
        Assert.DoesNotContain("sandbox-approve", sealedToken, StringComparison.Ordinal);
        Assert.Equal("sandbox-approve", OmsModular.Shared.Infrastructure.Secrets.SealedBox.Open(privateKey, sealedToken, order));
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => OmsModular.Shared.Infrastructure.Secrets.SealedBox.Open(privateKey, sealedToken, Guid.NewGuid().ToString()));
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() => OmsModular.Shared.Infrastructure.Secrets.SealedBox.Open(otherPrivate, sealedToken, order));
    }

    [Fact]
    public async Task A_refused_token_is_not_echoed()
    {
        var order = OrderCaptureTests.WebOrder(Unique("c"), ("SKU-1", 1));
        var token = $"secret token {Guid.NewGuid():N}";
        order["payment"]!["token"] = token;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/orders")
        {
            Content = new StringContent(order.ToJsonString(), Encoding.UTF8, "application/json"),
            Headers = { { "Idempotency-Key", Guid.NewGuid().ToString() } },
        };
        using var response = await host.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain(token, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
