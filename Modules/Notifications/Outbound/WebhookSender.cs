using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OmsModular.Modules.Notifications.Domain;
using OmsModular.Modules.Notifications.Features;
using OmsModular.Modules.Notifications.Features.Webhooks;
using OmsModular.Modules.Notifications.Persistence;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Notifications.Outbound;

/// <summary>
/// Delivers the webhook messages that are due, at least once, in the Standard Webhooks format
/// (<c>webhook-id</c>, <c>webhook-timestamp</c>, <c>webhook-signature</c>; during a secret rotation's
/// overlap one signature per secret). A batch is leased with <c>FOR UPDATE SKIP LOCKED</c> and sent
/// side by side with a time-out per request. A 2xx succeeds; <c>410 Gone</c> disables the endpoint;
/// <c>429</c> waits as long as its <c>Retry-After</c> asks (bounded); anything else is tried again on
/// the schedule (with jitter) and fails for good after its last step. An endpoint whose deliveries
/// have all failed for longer than the configured time is disabled, and operations are told in the
/// log. Redirects are not followed.
/// </summary>
internal sealed class WebhookSender(
    IServiceScopeFactory scopes,
    IHttpClientFactory clients,
    NotificationSettings settings,
    NotificationSignals signals,
    TimeProvider clock,
    ILogger<WebhookSender> logger) : BackgroundService
{
    public const string ClientName = "oms-webhooks";
    private const int BatchSize = 50;

    /// <summary>
    /// The sender and its HTTP client: no redirects followed, each request with its own time-out, and
    /// connections only to public addresses (checked when connecting, after name resolution, so a name
    /// that resolves to a private or loopback address is refused too) unless
    /// <c>Oms:Notifications:Webhooks:AllowPrivateNetworks</c> is set.
    /// </summary>
    public static void Register(IServiceCollection services, bool allowPrivateNetworks)
    {
        services.AddHttpClient(ClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                AllowAutoRedirect = false,
                UseProxy = false, // the address checked is the receiver's own, never a proxy's
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                ConnectCallback = (context, cancellationToken) => ConnectAsync(context, allowPrivateNetworks, cancellationToken),
            });
        services.AddHostedService<WebhookSender>();
    }

    private static async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, bool allowPrivateNetworks, CancellationToken cancellationToken)
    {
        var host = context.DnsEndPoint.Host;
        var addresses = IPAddress.TryParse(host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(host, cancellationToken);
        var allowed = addresses.Where(a => allowPrivateNetworks || IsPublic(a)).ToArray();
        if (allowed.Length == 0)
        {
            throw new HttpRequestException(HttpRequestError.ConnectionError, $"{host} is not a public address; webhooks reach public addresses only.");
        }

        var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(allowed, context.DnsEndPoint.Port, cancellationToken);
            return new System.Net.Sockets.NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Not loopback, private, link-local, carrier-grade NAT, unique-local, multicast or unspecified.</summary>
    internal static bool IsPublic(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (IPAddress.IsLoopback(address) || address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.Broadcast))
        {
            return false;
        }

        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork)
        {
            var b = address.GetAddressBytes();
            return !(b[0] == 10 || b[0] == 0 || (b[0] == 172 && b[1] is >= 16 and <= 31) || (b[0] == 192 && b[1] == 168) || (b[0] == 169 && b[1] == 254)
                     || (b[0] == 100 && b[1] is >= 64 and <= 127) || b[0] >= 224);
        }

        var bytes = address.GetAddressBytes();
        if ((bytes[0] == 0x00 && bytes[1] == 0x64 && bytes[2] == 0xff && bytes[3] == 0x9b) // NAT64 64:ff9b::/96
            || (bytes[0] == 0x20 && bytes[1] == 0x02) // 6to4 2002::/16
            || bytes.Take(12).All(b => b == 0)) // ::/96, IPv4-compatible
        {
            var embedded = bytes[0] == 0x20 ? new IPAddress(bytes[2..6]) : new IPAddress(bytes[12..16]);
            return IsPublic(embedded);
        }

        return !(address.IsIPv6LinkLocal || address.IsIPv6SiteLocal || address.IsIPv6Multicast || (bytes[0] & 0xFE) == 0xFC);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var claimed = 0;
            try
            {
                claimed = await SendDueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogWarning(exception, "Delivering webhooks failed; trying again shortly");
            }

            if (claimed < BatchSize)
            {
                try
                {
                    if (await signals.WaitForWebhookAsync(settings.PollInterval, stoppingToken))
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(50), stoppingToken);
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private sealed record Outcome(int? StatusCode, TimeSpan? RetryAfter, string? Error, int DurationMs, bool Stopped = false);

    /// <summary>
    /// Leases a batch of due deliveries in a short commit, sends them side by side (no transaction or
    /// row lock is held while receivers answer), and records the outcomes in one short commit. A
    /// crash in between lets the lease end: the deliveries are sent again (at least once; the
    /// receiver drops the repeat by its <c>webhook-id</c>). Returns how many were claimed.
    /// </summary>
    public async Task<int> SendDueAsync(CancellationToken cancellationToken)
    {
        var (due, endpoints, messages) = await ClaimAsync(cancellationToken);
        if (due.Count == 0)
        {
            return 0;
        }

        var sendable = due.Where(d => endpoints.GetValueOrDefault(d.EndpointId) is { Status: EndpointStatus.Enabled } && messages.ContainsKey(d.MessageId)).ToList();
        var outcomes = await Task.WhenAll(sendable.Select(d => SendAsync(endpoints[d.EndpointId], messages[d.MessageId], cancellationToken)));

        await using var scope = scopes.CreateAsyncScope();
        var db = Context(scope);
        await using var transaction = await db.Database.BeginTransactionAsync(CancellationToken.None);
        var now = clock.GetUtcNow();
        foreach (var delivery in due.Except(sendable))
        {
            db.Attach(delivery);
            delivery.Status = DeliveryStatus.Failed;
            delivery.LastError = "the endpoint is disabled or gone";
        }

        var failedEndpoints = new Dictionary<Guid, string>();
        var succeededEndpoints = new HashSet<Guid>();
        var gone = new HashSet<Guid>();
        for (var i = 0; i < sendable.Count; i++)
        {
            var (delivery, outcome) = (sendable[i], outcomes[i]);
            if (outcome.Stopped)
            {
                continue; // not an attempt: it is sent again when its lease ends
            }

            db.Attach(delivery);
            delivery.Attempts++;
            delivery.LastStatusCode = outcome.StatusCode;
            delivery.LastError = outcome.Error;
            db.WebhookAttempts.Add(new WebhookAttempt
            {
                DeliveryId = delivery.Id, EndpointId = delivery.EndpointId, MessageId = delivery.MessageId, At = now,
                StatusCode = outcome.StatusCode, Error = outcome.Error, DurationMs = outcome.DurationMs,
            });
            if (outcome.StatusCode is >= 200 and < 300)
            {
                delivery.Status = DeliveryStatus.Succeeded;
                delivery.SucceededAt = now;
                succeededEndpoints.Add(delivery.EndpointId);
                continue;
            }

            failedEndpoints[delivery.EndpointId] = outcome.Error ?? $"HTTP {outcome.StatusCode}";
            if (outcome.StatusCode == (int)HttpStatusCode.Gone)
            {
                delivery.Status = DeliveryStatus.Failed;
                gone.Add(delivery.EndpointId);
                continue;
            }

            if (delivery.Attempts > settings.WebhookRetryDelays.Count)
            {
                delivery.Status = DeliveryStatus.Failed;
                continue;
            }

            var scheduled = settings.WebhookRetryDelays[delivery.Attempts - 1] * (0.9 + (Random.Shared.NextDouble() * 0.2));
            var delay = outcome.StatusCode == 429 && outcome.RetryAfter is { } asked
                ? TimeSpan.FromTicks(Math.Clamp(asked.Ticks, TimeSpan.FromSeconds(1).Ticks, settings.MaxRetryAfter.Ticks)) // a date in the past or a zero: a second
                : scheduled;
            delivery.NextAttemptAt = now + delay;
        }

        await db.SaveChangesAsync(CancellationToken.None);
        foreach (var endpointId in succeededEndpoints)
        {
            await db.Endpoints.Where(e => e.Id == endpointId && e.FailingSince != null).ExecuteUpdateAsync(u => u.SetProperty(e => e.FailingSince, (DateTimeOffset?)null), CancellationToken.None);
        }

        foreach (var endpointId in gone)
        {
            await DisableAsync(db, endpointId, "the receiver answered 410 Gone", CancellationToken.None);
        }

        foreach (var (endpointId, error) in failedEndpoints.Where(f => !succeededEndpoints.Contains(f.Key) && !gone.Contains(f.Key)))
        {
            await db.Endpoints.Where(e => e.Id == endpointId && e.FailingSince == null).ExecuteUpdateAsync(u => u.SetProperty(e => e.FailingSince, now), CancellationToken.None);
            var since = endpoints[endpointId].FailingSince;
            if (since is not null && now - since > settings.DisableEndpointAfter)
            {
                await DisableAsync(db, endpointId, $"every delivery failed since {since:O} (last: {error})", CancellationToken.None);
            }
        }

        await transaction.CommitAsync(CancellationToken.None);
        return due.Count;
    }

    private async Task<(List<WebhookDelivery> Due, Dictionary<Guid, WebhookEndpoint> Endpoints, Dictionary<string, WebhookMessage> Messages)> ClaimAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = Context(scope);
        var now = clock.GetUtcNow();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var due = await db.Deliveries
            .FromSql($"SELECT * FROM notifications.webhook_deliveries WHERE status = 'Pending' AND next_attempt_at <= {now} ORDER BY next_attempt_at LIMIT {BatchSize} FOR UPDATE SKIP LOCKED")
            .ToListAsync(cancellationToken);
        foreach (var delivery in due)
        {
            delivery.NextAttemptAt = now + settings.WebhookTimeout + TimeSpan.FromMinutes(1); // the lease
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        var endpointIds = due.Select(d => d.EndpointId).Distinct().ToArray();
        var messageIds = due.Select(d => d.MessageId).Distinct().ToArray();
        var endpoints = await db.Endpoints.AsNoTracking().Where(e => endpointIds.Contains(e.Id)).ToDictionaryAsync(e => e.Id, cancellationToken);
        var messages = await db.Messages.AsNoTracking().Where(m => messageIds.Contains(m.Id)).ToDictionaryAsync(m => m.Id, cancellationToken);
        return (due, endpoints, messages);
    }

    private NotificationsDbContext Context(AsyncServiceScope scope)
    {
        var db = scope.ServiceProvider.GetRequiredService<NotificationsDbContext>();
        db.Database.SetConnectionString(ModuleDatabase.SeparatePool(db.Database.GetConnectionString()!, "oms-notifications-webhooks", 5)); // a pool of its own, as the messaging workers have
        return db;
    }

    private async Task DisableAsync(NotificationsDbContext db, Guid endpointId, string reason, CancellationToken cancellationToken)
    {
        var changed = await db.Endpoints.Where(e => e.Id == endpointId && e.Status == EndpointStatus.Enabled)
            .ExecuteUpdateAsync(u => u.SetProperty(e => e.Status, EndpointStatus.Disabled).SetProperty(e => e.DisabledReason, reason), cancellationToken);
        await db.Deliveries.Where(d => d.EndpointId == endpointId && d.Status == DeliveryStatus.Pending)
            .ExecuteUpdateAsync(u => u.SetProperty(d => d.Status, DeliveryStatus.Failed).SetProperty(d => d.LastError, "the endpoint is disabled"), cancellationToken);
        if (changed > 0)
        {
            logger.LogError("Webhook endpoint {EndpointId} is disabled: {Reason}. Operations: fix the receiver, enable it again and replay its failed messages", endpointId, reason);
        }
    }

    private async Task<Outcome> SendAsync(WebhookEndpoint endpoint, WebhookMessage message, CancellationToken cancellationToken)
    {
        var timestamp = clock.GetUtcNow().ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, endpoint.Url)
        {
            Content = new StringContent(message.Payload, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("webhook-id", message.Id);
        request.Headers.Add("webhook-timestamp", timestamp.ToString(CultureInfo.InvariantCulture));
        request.Headers.Add("webhook-signature", WebhookSignature.Header(endpoint.SigningSecrets(clock.GetUtcNow()), message.Id, timestamp, message.Payload));
        var watch = Stopwatch.StartNew();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(settings.WebhookTimeout);
        try
        {
            using var response = await clients.CreateClient(ClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var retryAfter = response.Headers.RetryAfter is { } header
                ? header.Delta ?? (header.Date is { } date ? date - clock.GetUtcNow() : null)
                : null;
            return new Outcome((int)response.StatusCode, retryAfter, response.IsSuccessStatusCode ? null : $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}", (int)watch.ElapsedMilliseconds);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new Outcome(null, null, $"no answer within {settings.WebhookTimeout.TotalSeconds:0} s", (int)watch.ElapsedMilliseconds);
        }
        catch (OperationCanceledException)
        {
            // Stopping: the others' outcomes are still recorded; this one is sent again once its lease ends.
            return new Outcome(null, null, "stopped while sending", (int)watch.ElapsedMilliseconds, Stopped: true);
        }
        catch (HttpRequestException failed)
        {
            return new Outcome(null, null, $"{failed.HttpRequestError}: {failed.Message}", (int)watch.ElapsedMilliseconds);
        }
    }
}
