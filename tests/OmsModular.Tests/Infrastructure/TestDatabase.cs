using Npgsql;
using OmsModular.Shared.Infrastructure.Database;

namespace OmsModular.Tests.Infrastructure;

/// <summary>
/// One throwaway PostgreSQL cluster per test run (fast, unsafe settings; deleted afterwards),
/// or the server named by <c>OMS_TEST_CONNECTION_STRING</c>. Tests isolate by owning their data
/// (unique schemas, ids), not by cleaning up.
/// </summary>
public static class TestDatabase
{
    public const string ConnectionStringVariable = "OMS_TEST_CONNECTION_STRING";

    private static readonly Lazy<Task<string>> Server = new(StartAsync);
    private static EmbeddedPostgres? _embedded;
    private static string? _directory;

    /// <summary>The connection string of the test database.</summary>
    public static Task<string> GetConnectionStringAsync() => Server.Value;

    /// <summary>A fresh database on the test server (for a Host that needs its own schemas).</summary>
    public static async Task<string> CreateDatabaseAsync(string name)
    {
        var builder = new NpgsqlConnectionStringBuilder(await GetConnectionStringAsync());
        await using (var connection = new NpgsqlConnection(builder.ConnectionString))
        {
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await create.ExecuteNonQueryAsync();
        }

        builder.Database = name;
        return builder.ConnectionString;
    }

    private static async Task<string> StartAsync()
    {
        var external = Environment.GetEnvironmentVariable(ConnectionStringVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            return external;
        }

        TestFolders.RemoveLeftovers("oms-test-pg-");
        _directory = Path.Combine(Path.GetTempPath(), $"oms-test-pg-{Environment.ProcessId}-{Guid.NewGuid():N}");
        _embedded = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions
        {
            Directory = _directory,
            Database = "oms_test",
            FastUnsafe = true,
            // Room for the in-process Host and, beside it, the topology tests' processes (eight Hosts apart take about 200).
            Settings = new Dictionary<string, string> { ["max_connections"] = "1000", ["shared_buffers"] = "256MB" },
        });
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop();

        // The test runner may kill this process without running exit handlers: a detached watchdog
        // stops the cluster and removes its folder once this process is gone.
        using var watchdog = System.Diagnostics.Process.Start("setsid", [
            "/bin/sh", "-c",
            $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; {_embedded.ShellStopCommand} >/dev/null 2>&1; rm -rf '{_directory}'",
        ]);
        return _embedded.ConnectionString;
    }

    private static void Stop()
    {
        NpgsqlConnection.ClearAllPools();
        _embedded?.StopAsync().GetAwaiter().GetResult();
        if (_directory is not null && Directory.Exists(_directory))
        {
            TestFolders.TryDelete(_directory);
        }
    }
}
