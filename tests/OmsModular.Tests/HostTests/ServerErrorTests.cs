using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using OmsModular.Tests.Infrastructure;

namespace OmsModular.Tests.HostTests;

/// <summary>
/// What Kestrel itself answers, before any middleware, for requests it cannot parse: over raw sockets
/// to the real binary, since only a real Kestrel has these code paths.
/// </summary>
public sealed class ServerErrorTests(ServerErrorTests.Host host) : IClassFixture<ServerErrorTests.Host>
{
    /// <summary>One Host process (Pricing only, on its own database) for all cases.</summary>
    public sealed class Host : IAsyncLifetime
    {
        public HostProcess Process { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var database = await TestDatabase.CreateDatabaseAsync($"oms_server_errors_{Environment.ProcessId}");
            Process = HostProcess.Start("--connection-string", database, "--modules", "Pricing");
            await Process.WaitUntilReadyAsync(TimeSpan.FromSeconds(120));
        }

        public async Task DisposeAsync() => await Process.DisposeAsync();
    }

    public static TheoryData<string, string, int, string> UnparseableRequests => new()
    {
        { "NUL in the path", "GET /api/v1/orders/%00 HTTP/1.1\r\nHost: oms\r\n\r\n", 400, "Invalid request target." },
        { "space in the target", "GET /a b HTTP/1.1\r\nHost: oms\r\n\r\n", 400, "Invalid request line." },
        { "header without colon", "GET /health/live HTTP/1.1\r\nHost: oms\r\nBroken header\r\n\r\n", 400, "Invalid request header." },
        { "two lengths", "POST /api/v1/pricing/quote HTTP/1.1\r\nHost: oms\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400, "Multiple Content-Length headers." },
        { "no Host", "GET /health/live HTTP/1.1\r\n\r\n", 400, "Request is missing Host header." },
        { "unknown version", "GET /health/live HTTP/7.1\r\nHost: oms\r\n\r\n", 505, "Unrecognized HTTP version." },
        { "headers too large", $"GET /health/live HTTP/1.1\r\nHost: oms\r\nX-Filler: {new string('a', 40_000)}\r\n\r\n", 431, "Request headers too long." },
    };

    [Theory]
    [MemberData(nameof(UnparseableRequests))]
    public async Task A_request_kestrel_cannot_parse_gets_problem_details(string _, string request, int status, string detail)
    {
        var response = Assert.Single(await ExchangeAsync(request));
        Assert.Equal(status, response.Status);
        Assert.Equal("application/problem+json", response.Header("Content-Type"));
        Assert.Equal("close", response.Header("Connection"));
        using var problem = JsonDocument.Parse(response.Body);
        Assert.Equal(status, problem.RootElement.GetProperty("status").GetInt32());
        Assert.StartsWith("urn:oms:problem:", problem.RootElement.GetProperty("type").GetString(), StringComparison.Ordinal);
        Assert.Equal(detail, problem.RootElement.GetProperty("detail").GetString());
        Assert.False(string.IsNullOrEmpty(problem.RootElement.GetProperty("title").GetString()));
        Assert.DoesNotContain("Microsoft.", response.Body, StringComparison.Ordinal);
        Assert.DoesNotContain("%00", response.Body, StringComparison.Ordinal); // the request's own bytes are not echoed
    }

    [Fact]
    public async Task Earlier_responses_on_the_connection_are_untouched_and_a_head_request_gets_no_body()
    {
        var responses = await ExchangeAsync(
            "GET /health/live HTTP/1.1\r\nHost: oms\r\n\r\n" +
            "GET /api/v1/pricing/price-lists HTTP/1.1\r\nHost: oms\r\n\r\n" +
            "GET /api/v1/orders/%00 HTTP/1.1\r\nHost: oms\r\n\r\n");
        Assert.Equal([200, 401, 400], responses.Select(r => r.Status).ToArray());
        Assert.Contains("Healthy", responses[0].Body, StringComparison.Ordinal);
        Assert.Equal("application/problem+json", responses[1].Header("Content-Type"));
        Assert.Contains("urn:oms:problem:unauthenticated", responses[1].Body, StringComparison.Ordinal);
        Assert.Contains("Invalid request target.", responses[2].Body, StringComparison.Ordinal);

        var head = Assert.Single(await ExchangeAsync("HEAD /health/live HTTP/1.1\r\nHost: oms\r\nBroken header\r\n\r\n"));
        Assert.Equal(400, head.Status);
        Assert.Equal(string.Empty, head.Body);
        Assert.Equal("0", head.Header("Content-Length"));
    }

    private async Task<List<RawResponse>> ExchangeAsync(string request)
    {
        using var socket = new TcpClient();
        await socket.ConnectAsync("127.0.0.1", host.Process.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var received = new MemoryStream();
        var buffer = new byte[8192];
        int read;
        while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
        {
            received.Write(buffer, 0, read);
            if (RawResponse.ParseAll(received.ToArray(), request) is { } complete)
            {
                return complete;
            }
        }

        return RawResponse.ParseAll(received.ToArray(), request) ?? throw new InvalidOperationException("Incomplete response: " + Encoding.Latin1.GetString(received.ToArray()));
    }

    private sealed record RawResponse(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
    {
        public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

        /// <summary>All responses, once each is complete and the last one closes the connection (Kestrel closes after a bad request).</summary>
        public static List<RawResponse>? ParseAll(byte[] bytes, string request)
        {
            var text = Encoding.Latin1.GetString(bytes); // one char per byte: lengths are byte counts
            var responses = new List<RawResponse>();
            var heads = request.Split("\r\n\r\n").Where(h => h.Length > 0).Select(h => h.Split(' ')[0]).ToList();
            var position = 0;
            while (position < text.Length)
            {
                var end = text.IndexOf("\r\n\r\n", position, StringComparison.Ordinal);
                if (end < 0)
                {
                    return null;
                }

                var lines = text[position..end].Split("\r\n");
                var headers = lines.Skip(1).Select(l => l.Split(':', 2)).ToDictionary(p => p[0], p => p[1].Trim(), StringComparer.OrdinalIgnoreCase);
                var bodyStart = end + 4;
                var isHead = responses.Count < heads.Count && heads[responses.Count] == "HEAD";
                string body;
                if (isHead)
                {
                    body = string.Empty;
                    position = bodyStart;
                }
                else if (headers.TryGetValue("Content-Length", out var length))
                {
                    if (text.Length < bodyStart + int.Parse(length))
                    {
                        return null;
                    }

                    body = text.Substring(bodyStart, int.Parse(length));
                    position = bodyStart + body.Length;
                }
                else
                {
                    var chunked = new StringBuilder();
                    position = bodyStart;
                    while (true)
                    {
                        var sizeEnd = text.IndexOf("\r\n", position, StringComparison.Ordinal);
                        if (sizeEnd < 0)
                        {
                            return null;
                        }

                        var size = Convert.ToInt32(text[position..sizeEnd], 16);
                        if (text.Length < sizeEnd + 2 + size + 2)
                        {
                            return null;
                        }

                        chunked.Append(text, sizeEnd + 2, size);
                        position = sizeEnd + 2 + size + 2;
                        if (size == 0)
                        {
                            break;
                        }
                    }

                    body = chunked.ToString();
                }

                responses.Add(new RawResponse(int.Parse(lines[0].Split(' ')[1]), headers, Encoding.UTF8.GetString(Encoding.Latin1.GetBytes(body))));
            }

            return responses.Count > 0 && responses[^1].Header("Connection") == "close" ? responses : null;
        }
    }
}
