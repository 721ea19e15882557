using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OmsModular.Tests.Infrastructure;

/// <summary>
/// A webhook receiver on loopback (Kestrel): <c>POST /hooks/{name}</c> records every request (headers
/// and body) and answers what the test set for that name, per attempt (200 unless told otherwise).
/// </summary>
public sealed class TestWebhookReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Func<int, (int Status, string? RetryAfter)>> _answers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentQueue<Received>> _received = new(StringComparer.Ordinal);

    public sealed record Received(DateTimeOffset At, IHeaderDictionary Headers, string Body, int AnsweredWith);

    private TestWebhookReceiver(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = string.Empty;

    public static async Task<TestWebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var receiver = new TestWebhookReceiver(app);
        app.MapPost("/hooks/{name}", async (string name, HttpContext context) =>
        {
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync();
            var queue = receiver._received.GetOrAdd(name, _ => new ConcurrentQueue<Received>());
            var attempt = queue.Count + 1;
            var (status, retryAfter) = receiver._answers.TryGetValue(name, out var answer) ? answer(attempt) : (200, null);
            queue.Enqueue(new Received(DateTimeOffset.UtcNow, new HeaderDictionary(context.Request.Headers.ToDictionary(h => h.Key, h => h.Value)), body, status));
            if (retryAfter is not null)
            {
                context.Response.Headers.RetryAfter = retryAfter;
            }

            context.Response.StatusCode = status;
        });
        await app.StartAsync();
        receiver.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return receiver;
    }

    public string Url(string name) => $"{BaseUrl}/hooks/{name}";

    /// <summary>How the receiver answers the n-th request (1-based) to this name.</summary>
    public void Answer(string name, Func<int, (int Status, string? RetryAfter)> answer) => _answers[name] = answer;

    public IReadOnlyList<Received> ReceivedBy(string name) => _received.TryGetValue(name, out var queue) ? queue.ToArray() : [];

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
