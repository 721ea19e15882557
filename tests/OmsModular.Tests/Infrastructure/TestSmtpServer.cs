using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using MimeKit;
using SmtpServer;
using SmtpServer.ComponentModel;
using SmtpServer.Protocol;
using SmtpServer.Storage;

namespace OmsModular.Tests.Infrastructure;

/// <summary>
/// A real SMTP server on loopback (SmtpServer) that keeps what it receives, parsed by MimeKit. A
/// recipient starting with <c>bounce</c> is refused with 550; one starting with <c>flaky</c> is
/// answered 451 (try again later) twice, then accepted.
/// </summary>
public sealed class TestSmtpServer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _running;
    private readonly ConcurrentQueue<MimeMessage> _received = new();
    private readonly ConcurrentDictionary<string, int> _flaky = new(StringComparer.OrdinalIgnoreCase);

    public TestSmtpServer()
    {
        Port = HostTests.HostProcess.FreePort();
        var options = new SmtpServerOptionsBuilder()
            .ServerName("localhost")
            .Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, Port)))
            .Build();
        var services = new ServiceProvider();
        services.Add(new Store(this));
        var server = new SmtpServer.SmtpServer(options, services);
        _running = server.StartAsync(_stop.Token);
    }

    public int Port { get; }

    public IReadOnlyList<MimeMessage> Received => _received.ToArray();

    /// <summary>The messages received for this address.</summary>
    public IReadOnlyList<MimeMessage> To(string address) =>
        _received.Where(m => m.To.Mailboxes.Any(b => string.Equals(b.Address, address, StringComparison.OrdinalIgnoreCase))).ToArray();

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _running.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception exception) when (exception is OperationCanceledException or TimeoutException)
        {
        }

        _stop.Dispose();
    }

    private sealed class Store(TestSmtpServer server) : MessageStore
    {
        public override async Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            var to = transaction.To.Select(m => $"{m.User}@{m.Host}").ToArray();
            if (to.Any(a => a.StartsWith("bounce", StringComparison.OrdinalIgnoreCase)))
            {
                return new SmtpResponse(SmtpReplyCode.MailboxUnavailable, "5.1.1 no such mailbox here");
            }

            if (to.FirstOrDefault(a => a.StartsWith("flaky", StringComparison.OrdinalIgnoreCase)) is { } flaky && server._flaky.AddOrUpdate(flaky, 1, (_, n) => n + 1) <= 2)
            {
                return new SmtpResponse((SmtpReplyCode)451, "4.3.0 try again later");
            }

            await using var stream = new MemoryStream();
            foreach (var segment in buffer)
            {
                await stream.WriteAsync(segment, cancellationToken);
            }

            stream.Position = 0;
            server._received.Enqueue(await MimeMessage.LoadAsync(stream, cancellationToken));
            return SmtpResponse.Ok;
        }
    }
}
