using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using SmtpServer;
using SmtpServer.ComponentModel;
using SmtpServer.Protocol;
using SmtpServer.Storage;

/// <summary>A real SMTP server and a webhook receiver on loopback that count what reaches them.</summary>
internal sealed class Receivers : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _smtp;
    private readonly WebApplication _web;
    private long _emails;
    private long _webhooks;

    private Receivers(int smtpPort, WebApplication web, string webhookUrl)
    {
        SmtpPort = smtpPort;
        _web = web;
        WebhookUrl = webhookUrl;
        var options = new SmtpServerOptionsBuilder().ServerName("localhost").Endpoint(e => e.Endpoint(new IPEndPoint(IPAddress.Loopback, smtpPort))).Build();
        var services = new ServiceProvider();
        services.Add(new Counter(this));
        _smtp = new SmtpServer.SmtpServer(options, services).StartAsync(_stop.Token);
    }

    public int SmtpPort { get; }

    public string WebhookUrl { get; }

    public long Emails => Interlocked.Read(ref _emails);

    public long Webhooks => Interlocked.Read(ref _webhooks);

    /// <summary>The Host's settings that send its e-mails and webhooks here.</summary>
    public string[] HostArguments =>
    [
        "--Oms:Notifications:Smtp:Host", "127.0.0.1", "--Oms:Notifications:Smtp:Port", SmtpPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        "--Oms:Notifications:Smtp:Security", "None", "--Oms:Notifications:Webhooks:AllowHttp", "true", "--Oms:Notifications:Webhooks:AllowPrivateNetworks", "true",
    ];

    public double SecondsSince(DateTimeOffset start) => Math.Max(1, (DateTimeOffset.UtcNow - start).TotalSeconds);

    public static async Task<Receivers> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        var webPort = FreePort();
        builder.WebHost.UseUrls($"http://127.0.0.1:{webPort}");
        builder.Logging.ClearProviders();
        var web = builder.Build();
        Receivers? receivers = null;
        web.MapPost("/hooks", async (HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            await reader.ReadToEndAsync();
            Interlocked.Increment(ref receivers!._webhooks);
            return Results.NoContent();
        });
        receivers = new Receivers(FreePort(), web, $"http://127.0.0.1:{webPort}/hooks");
        await web.StartAsync();
        return receivers;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _web.StopAsync();
        await _web.DisposeAsync();
        try
        {
            await _smtp.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception exception) when (exception is OperationCanceledException or TimeoutException)
        {
        }
    }

    private sealed class Counter(Receivers receivers) : MessageStore
    {
        public override Task<SmtpResponse> SaveAsync(ISessionContext context, IMessageTransaction transaction, ReadOnlySequence<byte> buffer, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref receivers._emails);
            return Task.FromResult(SmtpResponse.Ok);
        }
    }
}
