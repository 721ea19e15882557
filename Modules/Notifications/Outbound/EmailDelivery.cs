using System.Net.Sockets;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MimeKit;
using OmsModular.Modules.Notifications.Domain;
using OmsModular.Modules.Notifications.Features;
using OmsModular.Modules.Notifications.Persistence;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Notifications.Outbound;

/// <summary>
/// Sends the stored e-mails that are due, over SMTP with MailKit (or into the pickup directory when
/// no SMTP server is configured). A batch is leased with <c>FOR UPDATE SKIP LOCKED</c> in a short
/// commit, so several processes send side by side and none sends what another holds; every attempt
/// lands in the delivery log with the server's answer, in its own commit. An order's e-mails go out in
/// the order they were stored: one is taken only when no earlier one of its order still waits. A 5xx refusal of the
/// recipient or the message is permanent (the e-mail fails for good, visible in the log); a 4xx
/// answer is retried on the schedule; an unreachable server, refused credentials or sender, or a
/// failed TLS handshake is an outage: the rest of the batch waits without spending an attempt. Each
/// message carries its notification id as Message-Id, so a receiver can drop the duplicate of an
/// e-mail whose "sent" was lost in a crash right after the server accepted it (the lease then ends
/// and it is sent again).
/// </summary>
internal sealed class EmailDelivery(IServiceScopeFactory scopes, NotificationSettings settings, NotificationSignals signals, TimeProvider clock, ILogger<EmailDelivery> logger) : BackgroundService
{
    private const int BatchSize = 20;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var sent = 0;
            try
            {
                sent = await SendDueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogWarning(exception, "Sending e-mails failed; trying again shortly");
            }

            if (sent < BatchSize)
            {
                try
                {
                    if (await signals.WaitForEmailAsync(settings.PollInterval, stoppingToken))
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(50), stoppingToken); // let the signalling commit land
                    }
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>How long a claimed e-mail is held by this sender before another may take it (a crash while sending).</summary>
    private static readonly TimeSpan Lease = TimeSpan.FromMinutes(2);

    /// <summary>The pause of the e-mails of a batch the server was not reachable for (no attempt is spent on an outage).</summary>
    private static readonly TimeSpan OutagePause = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Claims a batch of due e-mails (a short commit that leases them), sends each, and records each
    /// outcome in its own short commit: no row lock or transaction is held while the SMTP server
    /// talks, and an e-mail the server accepted is recorded sent right after. Returns how many were claimed.
    /// </summary>
    public async Task<int> SendDueAsync(CancellationToken cancellationToken)
    {
        var due = await ClaimAsync(cancellationToken);
        if (due.Count == 0)
        {
            return 0;
        }

        SmtpClient? smtp = null;
        try
        {
            for (var i = 0; i < due.Count; i++)
            {
                var email = due[i];
                var now = clock.GetUtcNow();
                if (!await RenewLeaseAsync(email, now, cancellationToken))
                {
                    continue; // the lease ran out while the batch was sent and another sender took it, or a later event superseded it
                }

                try
                {
                    string response;
                    var message = Message(email);
                    if (settings.SmtpHost is null)
                    {
                        Directory.CreateDirectory(settings.PickupDirectory);
                        var path = Path.Combine(settings.PickupDirectory, $"{email.Id}.eml");
                        await message.WriteToAsync(path, cancellationToken);
                        response = $"written to {path}";
                    }
                    else
                    {
                        smtp ??= await ConnectAsync(cancellationToken);
                        response = await smtp.SendAsync(message, cancellationToken);
                    }

                    await RecordAsync(email, "sent", response, null, e => (NotificationStatus.Sent, e.Attempts + 1, e.NextAttemptAt, null, now), cancellationToken);
                }
                catch (Exception invalid) when (invalid is ParseException or FormatException)
                {
                    await RecordAsync(email, "permanent-failure", null, $"not a deliverable message: {invalid.Message}", e => (NotificationStatus.Failed, e.Attempts + 1, e.NextAttemptAt, $"not a deliverable message: {invalid.Message}", null), cancellationToken);
                }
                catch (SmtpCommandException refused) when ((int)refused.StatusCode >= 500 && refused.ErrorCode is SmtpErrorCode.RecipientNotAccepted or SmtpErrorCode.MessageNotAccepted)
                {
                    // This recipient or this message is refused for good (550 no such mailbox, 554 content refused).
                    var answer = $"{(int)refused.StatusCode} {refused.Message}";
                    await RecordAsync(email, "permanent-failure", answer, refused.ErrorCode.ToString(), e => (NotificationStatus.Failed, e.Attempts + 1, e.NextAttemptAt, Truncate(answer), null), cancellationToken);
                    logger.LogWarning("The SMTP server refused e-mail {NotificationId} for good: {Status} {Reason}", email.Id, (int)refused.StatusCode, refused.Message);
                }
                catch (Exception unexpected) when (unexpected is not OperationCanceledException and not SocketException and not IOException and not TimeoutException
                                                   and not SmtpProtocolException and not ServiceNotConnectedException and not AuthenticationException and not SslHandshakeException and not SmtpCommandException)
                {
                    // Anything else fails this e-mail's attempt (so it cannot wait forever before its order's later e-mails).
                    await RetryAsync(email, now, $"{unexpected.GetType().Name}: {unexpected.Message}", "unexpected", cancellationToken);
                }
                catch (SmtpCommandException transient) when ((int)transient.StatusCode < 500)
                {
                    var answer = $"{(int)transient.StatusCode} {transient.Message}";
                    await RetryAsync(email, now, answer, transient.ErrorCode.ToString(), cancellationToken);
                }
                catch (Exception unreachable) when (unreachable is SocketException or IOException or TimeoutException or SmtpProtocolException or ServiceNotConnectedException or AuthenticationException or SslHandshakeException or SmtpCommandException)
                {
                    // The server is down, refuses us (credentials, sender) or cannot talk TLS: an outage
                    // of the server, not a failure of these e-mails; they wait without spending an attempt.
                    var error = $"{unreachable.GetType().Name}: {unreachable.Message}";
                    await RecordAsync(email, "server-unavailable", null, error, e => (NotificationStatus.Pending, e.Attempts, now + OutagePause, Truncate(error), null), cancellationToken);
                    await DeferAsync(due.Skip(i + 1).ToArray(), now + OutagePause, error, cancellationToken);

                    logger.LogWarning("The SMTP server {Host}:{Port} cannot take e-mails ({Error}); {Count} wait", settings.SmtpHost, settings.SmtpPort, unreachable.Message, due.Count - i);
                    break;
                }
            }
        }
        finally
        {
            if (smtp is not null)
            {
                if (smtp.IsConnected)
                {
                    try
                    {
                        await smtp.DisconnectAsync(true, CancellationToken.None);
                    }
                    catch (Exception exception) when (exception is IOException or SmtpProtocolException or SocketException)
                    {
                    }
                }

                smtp.Dispose();
            }
        }

        return due.Count;
    }

    /// <summary>Puts back the e-mails of a batch that were not tried (the server is down): only those this sender still holds.</summary>
    private async Task DeferAsync(IReadOnlyList<EmailNotification> waiting, DateTimeOffset until, string error, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = Context(scope);
        foreach (var email in waiting)
        {
            await db.Emails
                .Where(e => e.Id == email.Id && e.Status == NotificationStatus.Pending && e.NextAttemptAt == email.NextAttemptAt)
                .ExecuteUpdateAsync(u => u.SetProperty(e => e.NextAttemptAt, until).SetProperty(e => e.LastError, Truncate(error)), CancellationToken.None);
        }
    }

    /// <summary>
    /// Renews this sender's lease on one e-mail right before it is sent: only while the lease is still
    /// the one this sender took (no other sender took it after it ran out) and the e-mail still waits.
    /// </summary>
    private async Task<bool> RenewLeaseAsync(EmailNotification email, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = Context(scope);
        var renewed = now + Lease;
        var held = await db.Emails
            .Where(e => e.Id == email.Id && e.Status == NotificationStatus.Pending && e.NextAttemptAt == email.NextAttemptAt)
            .ExecuteUpdateAsync(u => u.SetProperty(e => e.NextAttemptAt, renewed), cancellationToken);
        if (held == 1)
        {
            email.NextAttemptAt = renewed;
        }

        return held == 1;
    }

    /// <summary>Leases up to a batch of due e-mails (their next attempt moves past the lease) in one short commit.</summary>
    private async Task<List<EmailNotification>> ClaimAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = Context(scope);
        var now = clock.GetUtcNow();
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var due = await db.Emails
            .FromSql($"""
                SELECT * FROM notifications.emails e
                WHERE e.status = 'Pending' AND e.next_attempt_at <= {now}
                  AND NOT EXISTS (SELECT 1 FROM notifications.emails earlier
                                  WHERE earlier.order_id = e.order_id AND earlier.status = 'Pending' AND (earlier.created_at, earlier.id) < (e.created_at, e.id))
                ORDER BY e.next_attempt_at LIMIT {BatchSize} FOR UPDATE OF e SKIP LOCKED
                """)
            .ToListAsync(cancellationToken);
        foreach (var email in due)
        {
            email.NextAttemptAt = now + Lease;
        }

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return due;
    }

    /// <summary>Records one attempt's outcome (the e-mail's new state and a line of its log) in one short commit.</summary>
    private async Task RecordAsync(
        EmailNotification email,
        string outcome,
        string? response,
        string? error,
        Func<EmailNotification, (NotificationStatus Status, int Attempts, DateTimeOffset NextAttemptAt, string? LastError, DateTimeOffset? SentAt)> next,
        CancellationToken cancellationToken)
    {
        var (status, attempts, nextAttempt, lastError, sentAt) = next(email);
        await using var scope = scopes.CreateAsyncScope();
        var db = Context(scope);
        db.Attach(email);
        (email.Status, email.Attempts, email.NextAttemptAt, email.LastError) = (status, attempts, nextAttempt, lastError);
        email.SentAt = sentAt ?? email.SentAt;
        db.EmailAttempts.Add(new EmailAttempt { NotificationId = email.Id, At = clock.GetUtcNow(), Outcome = outcome, Response = response is null ? null : Truncate(response), Error = error is null ? null : Truncate(error) });
        await db.SaveChangesAsync(CancellationToken.None); // once the server took it, the record is written even while stopping
    }

    private NotificationsDbContext Context(AsyncServiceScope scope)
    {
        var db = scope.ServiceProvider.GetRequiredService<NotificationsDbContext>();
        db.Database.SetConnectionString(ModuleDatabase.SeparatePool(db.Database.GetConnectionString()!, "oms-notifications-email", 5)); // a pool of its own, as the messaging workers have
        return db;
    }

    private async Task<SmtpClient> ConnectAsync(CancellationToken cancellationToken)
    {
        var client = new SmtpClient { Timeout = 30_000 };
        try
        {
            var security = Enum.TryParse<SecureSocketOptions>(settings.SmtpSecurity, ignoreCase: true, out var parsed) ? parsed : SecureSocketOptions.StartTlsWhenAvailable;
            await client.ConnectAsync(settings.SmtpHost!, settings.SmtpPort, security, cancellationToken);
            if (!string.IsNullOrEmpty(settings.SmtpUser))
            {
                await client.AuthenticateAsync(settings.SmtpUser, settings.SmtpPassword ?? string.Empty, cancellationToken);
            }

            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private MimeMessage Message(EmailNotification email)
    {
        var message = new MimeMessage { Subject = email.Subject, MessageId = $"{email.Id:N}@oms" };
        message.From.Add(MailboxAddress.Parse(settings.From));
        message.To.Add(MailboxAddress.Parse(email.Recipient));
        message.Headers.Add("X-Oms-Notification", email.IdempotencyKey);
        message.Body = new BodyBuilder { HtmlBody = email.Html, TextBody = email.Text }.ToMessageBody();
        return message;
    }

    private async Task RetryAsync(EmailNotification email, DateTimeOffset now, string response, string error, CancellationToken cancellationToken)
    {
        var attempts = email.Attempts + 1;
        if (attempts > settings.EmailRetryDelays.Count)
        {
            await RecordAsync(email, "permanent-failure", response, $"gave up after {attempts} attempts: {error}", _ => (NotificationStatus.Failed, attempts, now, Truncate(response), null), cancellationToken);
            logger.LogWarning("E-mail {NotificationId} failed {Attempts} times and is given up: {Error}", email.Id, attempts, response);
            return;
        }

        var delay = settings.EmailRetryDelays[attempts - 1] * (0.9 + (Random.Shared.NextDouble() * 0.2));
        await RecordAsync(email, "transient-failure", response, error, _ => (NotificationStatus.Pending, attempts, now + delay, Truncate(response), null), cancellationToken);
    }

    private static string Truncate(string text) => text.Length > 1000 ? text[..1000] : text;
}
