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
/// no SMTP server is configured). Each batch is claimed with <c>FOR UPDATE SKIP LOCKED</c>, so
/// several processes send side by side and none sends what another holds; every attempt lands in
/// the delivery log with the server's answer. A 5xx answer is permanent (the e-mail fails for good,
/// visible in the log); a 4xx answer, a refused connection or a time-out is retried on the
/// schedule, and an unreachable server ends the batch (the rest wait untouched). Each message
/// carries its notification id as Message-Id, so a receiver can drop the duplicate of an e-mail
/// whose "sent" was lost in a crash right after the server accepted it.
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

    /// <summary>Claims and sends one batch of due e-mails; returns how many were claimed.</summary>
    public async Task<int> SendDueAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<NotificationsDbContext>();
        db.Database.SetConnectionString(ModuleDatabase.SeparatePool(db.Database.GetConnectionString()!, "oms-notifications-email", 5)); // a pool of its own, as the messaging workers have
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        var due = await db.Emails
            .FromSql($"SELECT * FROM notifications.emails WHERE status = 'Pending' AND next_attempt_at <= {clock.GetUtcNow()} ORDER BY next_attempt_at LIMIT {BatchSize} FOR UPDATE SKIP LOCKED")
            .ToListAsync(cancellationToken);
        if (due.Count == 0)
        {
            return 0;
        }

        SmtpClient? smtp = null;
        try
        {
            foreach (var email in due)
            {
                var now = clock.GetUtcNow();
                email.Attempts++;
                try
                {
                    string response;
                    if (settings.SmtpHost is null)
                    {
                        Directory.CreateDirectory(settings.PickupDirectory);
                        var path = Path.Combine(settings.PickupDirectory, $"{email.Id}.eml");
                        await Message(email).WriteToAsync(path, cancellationToken);
                        response = $"written to {path}";
                    }
                    else
                    {
                        smtp ??= await ConnectAsync(cancellationToken);
                        response = await smtp.SendAsync(Message(email), cancellationToken);
                    }

                    email.Status = NotificationStatus.Sent;
                    email.SentAt = now;
                    email.LastError = null;
                    Log(db, email, now, "sent", response, null);
                }
                catch (SmtpCommandException refused) when ((int)refused.StatusCode >= 500)
                {
                    email.Status = NotificationStatus.Failed;
                    email.LastError = Truncate($"{(int)refused.StatusCode} {refused.Message}");
                    Log(db, email, now, "permanent-failure", $"{(int)refused.StatusCode} {refused.Message}", refused.ErrorCode.ToString());
                    logger.LogWarning("The SMTP server refused e-mail {NotificationId} for good: {Status} {Reason}", email.Id, (int)refused.StatusCode, refused.Message);
                }
                catch (SmtpCommandException transient)
                {
                    Retry(db, email, now, $"{(int)transient.StatusCode} {transient.Message}", transient.ErrorCode.ToString());
                }
                catch (Exception unreachable) when (unreachable is SocketException or IOException or TimeoutException or SmtpProtocolException or ServiceNotConnectedException or AuthenticationException or SslHandshakeException)
                {
                    Retry(db, email, now, null, $"{unreachable.GetType().Name}: {unreachable.Message}");
                    logger.LogWarning("The SMTP server {Host}:{Port} is not reachable ({Error}); e-mails wait", settings.SmtpHost, settings.SmtpPort, unreachable.Message);
                    break; // the others of the batch wait untouched for the next round
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

        await db.SaveChangesAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return due.Count;
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

    private void Retry(NotificationsDbContext db, EmailNotification email, DateTimeOffset now, string? response, string error)
    {
        email.LastError = Truncate(response ?? error);
        if (email.Attempts > settings.EmailRetryDelays.Count)
        {
            email.Status = NotificationStatus.Failed;
            Log(db, email, now, "permanent-failure", response, $"gave up after {email.Attempts} attempts: {error}");
            logger.LogWarning("E-mail {NotificationId} failed {Attempts} times and is given up: {Error}", email.Id, email.Attempts, error);
            return;
        }

        var delay = settings.EmailRetryDelays[email.Attempts - 1];
        email.NextAttemptAt = now + delay * (0.9 + (Random.Shared.NextDouble() * 0.2));
        Log(db, email, now, "transient-failure", response, error);
    }

    private static void Log(NotificationsDbContext db, EmailNotification email, DateTimeOffset at, string outcome, string? response, string? error) =>
        db.EmailAttempts.Add(new EmailAttempt { NotificationId = email.Id, At = at, Outcome = outcome, Response = response is null ? null : Truncate(response), Error = error is null ? null : Truncate(error) });

    private static string Truncate(string text) => text.Length > 1000 ? text[..1000] : text;
}
