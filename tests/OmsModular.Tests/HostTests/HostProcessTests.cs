using System.Net;
using Npgsql;
using OmsModular.Tests.Infrastructure;

namespace OmsModular.Tests.HostTests;

/// <summary>The binary's own verbs and its embedded default database, run as real processes.</summary>
public sealed class HostProcessTests
{
    [Fact]
    public async Task Migrate_applies_the_hosted_modules_migrations_and_exits()
    {
        var all = await TestDatabase.CreateDatabaseAsync($"oms_migrate_all_{Environment.ProcessId}");
        var (exitCode, output) = await HostProcess.RunToExitAsync(TimeSpan.FromSeconds(90), "migrate", "--connection-string", all);
        Assert.True(exitCode == 0, output);
        Assert.Equal(["access", "fulfillment", "inventory", "notifications", "orders", "payments", "pricing", "returns"], await MigratedSchemasAsync(all));

        var some = await TestDatabase.CreateDatabaseAsync($"oms_migrate_some_{Environment.ProcessId}");
        (exitCode, output) = await HostProcess.RunToExitAsync(TimeSpan.FromSeconds(90), "migrate", "--connection-string", some, "--modules", "Orders,Pricing");
        Assert.True(exitCode == 0, output);
        Assert.Equal(["access", "orders", "pricing"], await MigratedSchemasAsync(some));
    }

    [Fact]
    public async Task Seed_demo_loads_nodes_stock_and_prices_through_the_modules()
    {
        var database = await TestDatabase.CreateDatabaseAsync($"oms_seed_{Environment.ProcessId}");
        var (exitCode, output) = await HostProcess.RunToExitAsync(TimeSpan.FromSeconds(120), "seed-demo", "--connection-string", database);
        Assert.True(exitCode == 0, output);
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        foreach (var (sql, expected) in new[]
                 {
                     ("SELECT count(*) FROM fulfillment.nodes", 5L),
                     ("SELECT count(*) FROM inventory.stock_levels", 1500L),
                     ("SELECT count(*) FROM pricing.prices WHERE price_list_code = 'DEMO-EUR'", 300L),
                 })
        {
            await using var command = new NpgsqlCommand(sql, connection);
            Assert.Equal(expected, (long)(await command.ExecuteScalarAsync())!);
        }
    }

    [Fact]
    public async Task A_host_that_cannot_start_stops_the_cluster_it_started()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"oms-test-embedded-{Guid.NewGuid():N}");
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start(); // the Host's HTTP port is in use
        try
        {
            var (exitCode, output) = await HostProcess.RunToExitOnPortAsync(((System.Net.IPEndPoint)taken.LocalEndpoint).Port, TimeSpan.FromSeconds(120), "--data-dir", directory);
            Assert.NotEqual(0, exitCode);
            Assert.Contains("address already in use", output, StringComparison.OrdinalIgnoreCase);
            Assert.True(File.Exists(Path.Combine(directory, "data", "PG_VERSION")), "the cluster was started: " + output);
            Assert.False(File.Exists(Path.Combine(directory, "data", "postmaster.pid")), "the cluster must not outlive a Host that failed to start");
        }
        finally
        {
            taken.Stop();
            StopLeftover(directory);
        }
    }

    [Fact]
    public async Task Without_a_connection_string_the_host_runs_its_own_cluster_that_keeps_data_across_restarts()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"oms-test-embedded-{Guid.NewGuid():N}");
        var adminKey = string.Empty;
        try
        {
            await using (var first = HostProcess.Start("--data-dir", directory))
            {
                await first.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
                await using var connection = new NpgsqlConnection(EmbeddedConnectionString(directory));
                await connection.OpenAsync();
                await using var marker = new NpgsqlCommand("CREATE TABLE public.restart_marker (value text); INSERT INTO public.restart_marker VALUES ('kept')", connection);
                await marker.ExecuteNonQueryAsync();
                await connection.CloseAsync();
                NpgsqlConnection.ClearAllPools();

                // The first start made an admin key: printed once, kept in admin-key (0600), and the API needs it.
                var keyFile = Path.Combine(directory, "admin-key");
                adminKey = (await File.ReadAllTextAsync(keyFile)).Trim();
                Assert.True(!OperatingSystem.IsLinux() || File.GetUnixFileMode(keyFile) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), "admin-key must be 0600");
                Assert.Contains(adminKey, first.Output, StringComparison.Ordinal);
                using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{first.Port}") };
                Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/v1/orders")).StatusCode);
                client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", adminKey);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/orders")).StatusCode);

                // As a key made by an earlier version would be: fewer scopes than there are now.
                await using (var narrow = new NpgsqlConnection(EmbeddedConnectionString(directory)))
                {
                    await narrow.OpenAsync();
                    await using var update = new NpgsqlCommand("UPDATE access.api_keys SET scopes = ARRAY['orders:read'] WHERE name = 'embedded-admin'", narrow);
                    Assert.Equal(1, await update.ExecuteNonQueryAsync());
                }

                NpgsqlConnection.ClearAllPools();
                Assert.Equal(0, await first.StopAsync(TimeSpan.FromSeconds(60)));
            }

            Assert.False(File.Exists(Path.Combine(directory, "data", "postmaster.pid")), "the cluster must be stopped with the Host");

            // The keys verb: a narrower key, shown once.
            var (exitCode, output) = await HostProcess.RunToExitAsync(TimeSpan.FromSeconds(90), "keys", "create", "--name", "web-shop", "--scopes", "orders:read", "--channel", "web", "--data-dir", directory);
            Assert.True(exitCode == 0, output);
            var webKey = output.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("oms_", StringComparison.Ordinal));

            await using (var second = HostProcess.Start("--data-dir", directory))
            {
                await second.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
                await using var connection = new NpgsqlConnection(EmbeddedConnectionString(directory));
                await connection.OpenAsync();
                await using var read = new NpgsqlCommand("SELECT value FROM public.restart_marker", connection);
                Assert.Equal("kept", await read.ExecuteScalarAsync());
                await using var fsync = new NpgsqlCommand("SHOW fsync", connection);
                Assert.Equal("on", await fsync.ExecuteScalarAsync());
                await connection.CloseAsync();
                NpgsqlConnection.ClearAllPools();

                // No second admin key on a later start; both keys work, each within its scopes.
                Assert.DoesNotContain("Created the first admin API key", second.Output, StringComparison.Ordinal);
                Assert.Equal(adminKey, (await File.ReadAllTextAsync(Path.Combine(directory, "admin-key"))).Trim());
                using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{second.Port}") };
                using (var admin = new HttpRequestMessage(HttpMethod.Get, "/api/v1/fulfillment/nodes") { Headers = { { "Authorization", $"Bearer {adminKey}" } } })
                {
                    Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(admin)).StatusCode); // the admin key got back the scopes it lacked
                }

                client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", webKey);
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/v1/orders")).StatusCode);
                Assert.Equal(HttpStatusCode.Forbidden, (await client.GetAsync("/api/v1/fulfillment/nodes")).StatusCode);
                Assert.Equal(0, await second.StopAsync(TimeSpan.FromSeconds(60)));
            }
        }
        finally
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (DirectoryNotFoundException)
            {
            }
        }
    }

    [Fact]
    public async Task A_host_that_finds_its_cluster_still_running_after_a_crash_adopts_it_and_stops_it_on_shutdown()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"oms-test-embedded-{Guid.NewGuid():N}");
        try
        {
            await using (var crashed = HostProcess.Start("--data-dir", directory))
            {
                await crashed.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
                await crashed.KillAsync(); // kill -9: the cluster it started keeps running
            }

            Assert.True(File.Exists(Path.Combine(directory, "data", "postmaster.pid")), "the cluster should outlive a killed Host");
            await using (var next = HostProcess.Start("--data-dir", directory))
            {
                await next.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
                Assert.Contains("adopted", next.Output, StringComparison.Ordinal);
                Assert.Equal(0, await next.StopAsync(TimeSpan.FromSeconds(60)));
            }

            Assert.False(File.Exists(Path.Combine(directory, "data", "postmaster.pid")), "an adopted cluster is stopped with the Host: " + directory);
        }
        finally
        {
            StopLeftover(directory);
        }
    }

    [Fact]
    public async Task As_root_a_clone_in_a_private_folder_still_gets_its_cluster_where_the_postgres_user_can_reach_it()
    {
        if (!OperatingSystem.IsLinux() || Environment.UserName != "root")
        {
            return; // the case exists only for root on Linux: an ordinary user's cluster runs as that user
        }

        var folder = Path.Combine(Path.GetTempPath(), $"oms-test-private-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        File.SetUnixFileMode(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); // 0700, like mktemp -d or /root
        var directory = Path.Combine(folder, ".oms", "postgres");
        string? relocated = null;
        try
        {
            await using (var host = HostProcess.Start("--data-dir", directory))
            {
                await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
                Assert.Contains("cannot reach", host.Output, StringComparison.Ordinal);
                var note = await File.ReadAllTextAsync(Path.Combine(directory, "cluster-location"));
                relocated = note[(note.IndexOf(" lives in ", StringComparison.Ordinal) + 10)..note.IndexOf(": ", StringComparison.Ordinal)];
                Assert.True(File.Exists(Path.Combine(relocated, "data", "PG_VERSION")), note);
                Assert.True(File.Exists(Path.Combine(directory, "admin-key")), "the first admin key is kept where the user asked for the cluster");
                Assert.Equal(0, await host.StopAsync(TimeSpan.FromSeconds(60)));
            }

            Assert.False(File.Exists(Path.Combine(relocated, "data", "postmaster.pid")), "the relocated cluster is stopped with the Host");
        }
        finally
        {
            if (relocated is not null)
            {
                StopLeftover(relocated);
            }

            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Provisioned_module_roles_each_reach_only_their_own_schema_and_the_host_runs_on_them()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"oms-test-roles-{Guid.NewGuid():N}");
        try
        {
            var (exitCode, output) = await HostProcess.RunToExitAsync(TimeSpan.FromSeconds(120), "migrate", "--provision-roles", "--data-dir", directory);
            Assert.True(exitCode == 0, output);
            var file = Path.Combine(directory, "module-roles.json");
            Assert.True(!OperatingSystem.IsLinux() || File.GetUnixFileMode(file) == (UnixFileMode.UserRead | UnixFileMode.UserWrite), "module-roles.json must be 0600");
            var passwords = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(await File.ReadAllTextAsync(file))!;
            Assert.Equal(9, passwords.Count); // the seven modules, the API-key store and Hangfire's jobs

            // Provisioning again (e.g. after an upgrade added tables) keeps the roles' passwords.
            (exitCode, output) = await HostProcess.RunToExitAsync(TimeSpan.FromSeconds(120), "migrate", "--provision-roles", "--data-dir", directory);
            Assert.True(exitCode == 0, output);
            Assert.Equal(passwords, System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, string>>(await File.ReadAllTextAsync(file))!);

            await using var host = HostProcess.Start("--data-dir", directory);
            await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
            Assert.Contains("Modules connect as their own roles", host.Output, StringComparison.Ordinal);
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{host.Port}") };
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", (await File.ReadAllTextAsync(Path.Combine(directory, "admin-key"))).Trim());
            using (var node = await client.PutAsync("/api/v1/fulfillment/nodes/WH-ROLES", new StringContent(
                       """{"name":"Roles","kind":"warehouse","countryCode":"DE","latitude":52.5,"longitude":13.4,"canShip":true,"canPickup":false}""",
                       System.Text.Encoding.UTF8, "application/json")))
            {
                Assert.Equal(HttpStatusCode.OK, node.StatusCode); // Fulfillment writes as its role
            }

            using (var stock = await client.PutAsync("/api/v1/inventory/stock/SKU-ROLES/WH-ROLES", new StringContent("""{"onHand":3}""", System.Text.Encoding.UTF8, "application/json")))
            {
                Assert.Equal(HttpStatusCode.OK, stock.StatusCode); // Inventory writes (and asks Fulfillment) as its role
            }

            // As the Orders role: its own schema yes, another module's no, and no DDL.
            var orders = new NpgsqlConnectionStringBuilder(EmbeddedConnectionString(directory)) { Username = "oms_orders", Password = passwords["Orders"] }.ConnectionString;
            await using var connection = new NpgsqlConnection(orders);
            await connection.OpenAsync();
            await using (var own = new NpgsqlCommand("SELECT count(*) FROM orders.orders", connection))
            {
                await own.ExecuteScalarAsync();
            }

            foreach (var sql in new[]
                     {
                         "SELECT count(*) FROM inventory.stock_levels", "SELECT count(*) FROM payments.token_keys", "SELECT count(*) FROM access.api_keys", "SELECT count(*) FROM hangfire.job",
                         "CREATE TABLE orders.sneaky (id int)", "DELETE FROM orders.\"__ef_migrations_history\"",
                     })
            {
                await using var other = new NpgsqlCommand(sql, connection);
                var denied = await Assert.ThrowsAsync<PostgresException>(() => other.ExecuteScalarAsync());
                Assert.Equal("42501", denied.SqlState); // permission denied
            }

            // The running Host holds no connection as the cluster's owner: the key store, Hangfire and the
            // listener connect as roles too (the owner only migrated and provisioned). A role sees the other
            // sessions' user, application and database (not their backend type): the server's own background
            // processes have no database.
            async Task<long> SessionsAsync(string user, string? application)
            {
                await using var command = new NpgsqlCommand(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND usename = $1 AND ($2::text IS NULL OR application_name = $2)",
                    connection) { Parameters = { new() { Value = user }, new() { Value = (object?)application ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text } } };
                return (long)(await command.ExecuteScalarAsync())!;
            }

            var deadline = DateTime.UtcNow.AddSeconds(15);
            while ((await SessionsAsync("oms_hangfire", "oms-jobs") == 0 || await SessionsAsync("oms_access", "oms-access") == 0) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(200);
            }

            Assert.True(await SessionsAsync("oms_hangfire", "oms-jobs") > 0, "Hangfire connects as oms_hangfire");
            Assert.True(await SessionsAsync("oms_access", "oms-access") > 0, "the API-key store connects as oms_access");
            for (var sample = 0; sample < 5; sample++)
            {
                Assert.Equal(0, await SessionsAsync("oms", null));
                await Task.Delay(500);
            }

            await connection.CloseAsync();
            NpgsqlConnection.ClearAllPools();
            Assert.Equal(0, await host.StopAsync(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            StopLeftover(directory);
        }
    }

    [Fact]
    public async Task A_process_hosting_some_modules_takes_only_their_job_queues()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"oms-test-queues-{Guid.NewGuid():N}");
        try
        {
            await using var host = HostProcess.Start("--data-dir", directory, "--modules", "Pricing,Inventory");
            await host.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
            await using var connection = new NpgsqlConnection(EmbeddedConnectionString(directory));
            await connection.OpenAsync();
            await using var servers = new NpgsqlCommand("SELECT data FROM hangfire.server", connection);
            var data = (string)(await servers.ExecuteScalarAsync())!;
            var queues = System.Text.Json.JsonDocument.Parse(data).RootElement.GetProperty("Queues").EnumerateArray().Select(q => q.GetString()!).ToArray();
            Assert.Equal(["default", "inventory", "pricing"], queues.Order(StringComparer.Ordinal).ToArray());
            Assert.DoesNotContain("orders", queues);
            await using var recurring = new NpgsqlCommand("SELECT string_agg(value, ' ') FROM hangfire.set WHERE key = 'recurring-jobs'", connection);
            var registered = (string?)await recurring.ExecuteScalarAsync() ?? string.Empty;
            Assert.Contains("messaging-retention-pricing", registered, StringComparison.Ordinal);
            Assert.DoesNotContain("orders-time-out-pending", registered, StringComparison.Ordinal); // Orders is not hosted: its jobs are not registered here
            await connection.CloseAsync();
            NpgsqlConnection.ClearAllPools();
            Assert.Equal(0, await host.StopAsync(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            StopLeftover(directory);
        }
    }

    private static string EmbeddedConnectionString(string directory)
    {
        var port = File.ReadAllLines(Path.Combine(directory, "data", "postmaster.pid"))[3];
        var password = File.ReadAllText(Path.Combine(directory, "password")).Trim();
        return $"Host=127.0.0.1;Port={port};Username=oms;Password={password};Database=oms;Pooling=false";
    }

    private static async Task<List<string>> MigratedSchemasAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = '__ef_migrations_history' ORDER BY 1",
            connection);
        var schemas = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            schemas.Add(reader.GetString(0));
        }

        return schemas;
    }

    /// <summary>Stops a cluster a failed test may have left behind (fast shutdown of its postmaster) and removes its folder.</summary>
    private static void StopLeftover(string directory)
    {
        var pidFile = Path.Combine(directory, "data", "postmaster.pid");
        if (File.Exists(pidFile))
        {
            var pid = int.Parse(File.ReadLines(pidFile).First().Trim(), System.Globalization.CultureInfo.InvariantCulture);
            try
            {
                using var postmaster = System.Diagnostics.Process.GetProcessById(pid);
                using (var kill = System.Diagnostics.Process.Start("kill", ["-INT", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
                {
                    kill.WaitForExit();
                }

                postmaster.WaitForExit(TimeSpan.FromSeconds(10)); // fast shutdown ends the postmaster last
            }
            catch (ArgumentException)
            {
                // not running any more
            }
        }

        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }
}
