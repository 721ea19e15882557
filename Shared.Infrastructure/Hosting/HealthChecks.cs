using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Npgsql;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Shared.Infrastructure.Hosting;

/// <summary>Ready when every hosted module's database answers.</summary>
internal sealed class ModuleDatabasesHealthCheck(ModuleDatabases databases) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var failures = new Dictionary<string, object>();
        foreach (var database in databases.All.DistinctBy(d => d.ConnectionString))
        {
            try
            {
                await using var connection = new NpgsqlConnection(database.ConnectionString);
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                await using var command = new NpgsqlCommand("SELECT 1", connection);
                await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
            {
                failures[database.ModuleName] = exception.Message;
            }
        }

        return failures.Count == 0
            ? HealthCheckResult.Healthy("Every module database answers.")
            : HealthCheckResult.Unhealthy("A module database does not answer.", data: failures);
    }
}

/// <summary>Ready when the dispatchers, inbox processors and listener are running and not failing.</summary>
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
        var stale = DateTimeOffset.UtcNow - (options.Value.PollInterval * 3) - TimeSpan.FromSeconds(30);
        var problems = workers
            .Where(w => w.IsFaulted || w.LastHeartbeat is null || w.LastHeartbeat < stale)
            .ToDictionary(w => w.WorkerName, w => (object)(w.IsFaulted ? "failing" : w.LastHeartbeat is null ? "not started" : "stalled"));
        return Task.FromResult(problems.Count == 0
            ? HealthCheckResult.Healthy($"{workers.Length} messaging workers running.")
            : HealthCheckResult.Unhealthy("Messaging workers are not running.", data: problems));
    }
}

public static class OmsHealthChecks
{
    public const string ReadyTag = "ready";

    public static IHealthChecksBuilder AddOmsReadiness(this IHealthChecksBuilder builder) => builder
        .AddCheck<ModuleDatabasesHealthCheck>("databases", tags: [ReadyTag])
        .AddCheck<MessagingWorkersHealthCheck>("messaging", tags: [ReadyTag]);
}
