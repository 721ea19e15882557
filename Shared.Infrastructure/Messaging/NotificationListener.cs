using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>
/// Listens on <see cref="MessagingSignals.Channel"/> so that a commit in another Host instance
/// wakes this instance's dispatchers and inbox processors within milliseconds.
/// </summary>
internal sealed class NotificationListener(string connectionString, MessagingSignals signals, ILogger<NotificationListener> logger)
    : BackgroundService, IMessagingWorker
{
    public string WorkerName => "notification-listener";

    public DateTimeOffset? LastHeartbeat { get; private set; }

    public bool IsFaulted { get; private set; }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { KeepAlive = 30, Pooling = false };
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = new NpgsqlConnection(builder.ConnectionString);
                await connection.OpenAsync(stoppingToken).ConfigureAwait(false);
                connection.Notification += (_, e) => signals.Route(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {MessagingSignals.Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken).ConfigureAwait(false);
                }

                IsFaulted = false;
                while (!stoppingToken.IsCancellationRequested)
                {
                    LastHeartbeat = DateTimeOffset.UtcNow;
                    await connection.WaitAsync(TimeSpan.FromSeconds(30), stoppingToken).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                IsFaulted = true;
                logger.LogWarning(exception, "Lost the LISTEN connection; reconnecting (polling covers the gap)");
                try
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
