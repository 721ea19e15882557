using Npgsql;
using OmsModular.Shared.Infrastructure.Modules;
using OmsModular.Tests.Infrastructure;

namespace OmsModular.Tests.Persistence;

/// <summary>
/// A command that fails must not leave its pooled connection in a state that breaks the next
/// client's command. Npgsql's automatic preparation did exactly that (npgsql/npgsql#6391): after a
/// statement failed while it was being prepared inside a transaction, a later command on that
/// connection read another statement's rows ("Received unexpected backend message DataRow"), for a
/// NUL refused at Bind as much as for an overflow at execution. The connection strings therefore
/// leave automatic preparation off; this test fails with <c>Max Auto Prepare=64</c>.
/// </summary>
public sealed class PooledConnectionTests
{
    [Fact]
    public async Task Failing_and_valid_commands_interleaved_on_a_small_pool_never_break_a_valid_one()
    {
        var connectionString = new NpgsqlConnectionStringBuilder(
            ModuleDatabase.Tuned(await TestDatabase.CreateDatabaseAsync($"oms_pool_{Environment.ProcessId}"))) { MaxPoolSize = 2 }.ConnectionString;
        await using (var setup = new NpgsqlConnection(connectionString))
        {
            await setup.OpenAsync();
            await using var create = new NpgsqlCommand("CREATE TABLE prices (sku text PRIMARY KEY, price numeric(19,4)); INSERT INTO prices VALUES ('A', 1)", setup);
            await create.ExecuteNonQueryAsync();
        }

        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var refused = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            for (var i = 0; i < 200; i++)
            {
                // Every other command carries a NUL, which PostgreSQL refuses (22021), or overflows the column (22003).
                var bad = (i + worker) % 2 == 0;
                await using var connection = new NpgsqlConnection(connectionString);
                await connection.OpenAsync();
                await using var transaction = await connection.BeginTransactionAsync();
                await using var command = new NpgsqlCommand("SELECT sku, price FROM prices WHERE sku = ANY($1) AND price < $2::numeric(19,4)", connection, transaction);
                command.Parameters.Add(new NpgsqlParameter { Value = new[] { bad && i % 4 < 2 ? "A\0" : "A", "B" } });
                command.Parameters.Add(new NpgsqlParameter { Value = bad && i % 4 >= 2 ? 1e28m : 100m, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Numeric });
                try
                {
                    await using var reader = await command.ExecuteReaderAsync();
                    var rows = 0;
                    while (await reader.ReadAsync())
                    {
                        rows++;
                    }

                    if (bad)
                    {
                        failures.Add("a failing command succeeded");
                    }
                    else if (rows != 1)
                    {
                        failures.Add($"a valid command read {rows} rows");
                    }

                    await reader.DisposeAsync();
                    await transaction.CommitAsync();
                }
                catch (PostgresException e) when (bad && e.SqlState.StartsWith("22", StringComparison.Ordinal))
                {
                    Interlocked.Increment(ref refused);
                }
                catch (Exception e)
                {
                    failures.Add($"{(bad ? "a failing" : "a valid")} command: {e.GetType().Name}: {e.Message}");
                }
            }
        })));

        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(10)));
        Assert.True(refused >= 300, $"only {refused} of 400 bad commands were refused");
    }
}
