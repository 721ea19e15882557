using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Shared.Infrastructure.Hosting;

/// <summary>
/// Ready when this process can serve its hosted modules' requests: each module's database accepts a
/// new connection and answers within a few seconds. The check opens its own connection (no pool),
/// so it sees the database as it is now (not a pooled connection broken by a restart) and is ready
/// again as soon as the database is back. Per module in the body.
/// </summary>
internal sealed class ModuleDatabasesHealthCheck(ModuleDatabases databases) : IHealthCheck
{
    // One probe per second at most, however often the (anonymous) endpoint is asked.
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static (HealthCheckResult Result, DateTimeOffset At)? _last;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (_last is { } recent && DateTimeOffset.UtcNow - recent.At < TimeSpan.FromSeconds(1))
        {
            return recent.Result;
        }

        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_last is { } fresh && DateTimeOffset.UtcNow - fresh.At < TimeSpan.FromSeconds(1))
            {
                return fresh.Result;
            }

            var result = await ProbeAllAsync(cancellationToken).ConfigureAwait(false);
            _last = (result, DateTimeOffset.UtcNow);
            return result;
        }
        finally
        {
            Gate.Release();
        }
    }

    private async Task<HealthCheckResult> ProbeAllAsync(CancellationToken cancellationToken)
    {
        var modules = new Dictionary<string, object>();
        var down = 0;
        foreach (var group in databases.All.GroupBy(d => d.ConnectionString))
        {
            var state = await ProbeAsync(group.Key, cancellationToken).ConfigureAwait(false);
            foreach (var database in group)
            {
                modules[database.ModuleName] = state;
            }

            if (state != "ok")
            {
                down += group.Count();
            }
        }

        return down == 0
            ? HealthCheckResult.Healthy("Every hosted module's database answers.", data: modules)
            : HealthCheckResult.Unhealthy($"{down} hosted module(s) cannot reach their database.", data: modules);
    }

    private static async Task<string> ProbeAsync(string connectionString, CancellationToken cancellationToken)
    {
        var probe = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 3, CommandTimeout = 3, ApplicationName = "oms-health" }.ConnectionString;
        try
        {
            await using var connection = new NpgsqlConnection(probe);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return "ok";
        }
        catch (PostgresException exception)
        {
            return $"refused ({exception.SqlState})"; // the state, not the message: this answer is public
        }
        catch (Exception exception) when (exception is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return "unreachable";
        }
    }
}

/// <summary>
/// The messaging workers of the hosted modules, per module: running, paused for an outage, stalled
/// (a heartbeat older than <see cref="MessagingOptions.WorkerStallAfter"/>, e.g. blocked on a lock) or
/// failing. A worker that is not running degrades readiness but never fails it: requests are still
/// served, and the messages wait in the outbox and inbox until it runs again.
/// </summary>
internal sealed class MessagingWorkersHealthCheck(IServiceProvider services, IOptions<MessagingOptions> options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!options.Value.RunWorkers)
        {
            return Task.FromResult(HealthCheckResult.Healthy("Messaging workers are disabled in this process."));
        }

        var workers = services.GetServices<OutboxDispatcher>().Cast<IMessagingWorker>()
            .Concat(services.GetServices<InboxProcessor>())
            .Append(services.GetRequiredService<NotificationListener>())
            .ToArray();
        // The listener beats once per wait for notifications (up to 30 s), the others once per loop.
        DateTimeOffset StaleBefore(IMessagingWorker worker) =>
            DateTimeOffset.UtcNow - options.Value.WorkerStallAfter - (worker is NotificationListener ? TimeSpan.FromSeconds(35) : TimeSpan.Zero);
        var states = workers
            .GroupBy(w => w.WorkerName)
            .ToDictionary(
                g => g.Key,
                g => (object)(g.Any(w => w.IsFaulted) ? "failing"
                    : g.Any(w => w.LastHeartbeat is null) ? "not started"
                    : g.Any(w => w.LastHeartbeat < StaleBefore(w)) ? "stalled"
                    : "running"));
        var notRunning = states.Count(s => (string)s.Value != "running");
        return Task.FromResult(notRunning == 0
            ? HealthCheckResult.Healthy($"{workers.Length} messaging workers running.", data: states)
            : HealthCheckResult.Degraded($"{notRunning} messaging worker(s) not running; requests are served and their messages wait.", data: states));
    }
}

public static class OmsHealthChecks
{
    public const string ReadyTag = "ready";

    public static IHealthChecksBuilder AddOmsReadiness(this IHealthChecksBuilder builder) => builder
        .AddCheck<ModuleDatabasesHealthCheck>("databases", tags: [ReadyTag])
        .AddCheck<MessagingWorkersHealthCheck>("messaging", tags: [ReadyTag]);
}
