using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace OmsModular.Host;

/// <summary>
/// Kestrel answers a request it cannot parse (an invalid request line or target, such as <c>%00</c> in the
/// path; malformed or oversized headers; headers that never arrive) itself, before any middleware runs,
/// with an empty body. Kestrel reports each such request on its diagnostic source
/// (<c>Microsoft.AspNetCore.Server.Kestrel.BadRequest</c>) just before it writes that response; a
/// connection middleware on every endpoint then gives the one response it writes next, if it is such an
/// empty error response, a problem-details body. No other response is touched.
/// </summary>
internal sealed partial class ServerProblems : IObserver<KeyValuePair<string, object?>>, IDisposable
{
    public const string BadRequestEvent = "Microsoft.AspNetCore.Server.Kestrel.BadRequest";

    private readonly ConcurrentDictionary<string, ProblemWriter> _connections = new(StringComparer.Ordinal);
    private readonly IDisposable _subscription;

    public ServerProblems(DiagnosticListener listener) =>
        _subscription = listener.Subscribe(this, name => name == BadRequestEvent);

    /// <summary>Every endpoint Kestrel binds (configured or from URLs) gets the middleware.</summary>
    public static void Attach(KestrelServerOptions options) => options.ConfigureEndpointDefaults(listen =>
    {
        var problems = listen.ApplicationServices.GetRequiredService<ServerProblems>();
        listen.Use(next => connection => problems.ServeAsync(next, connection));
    });

    private async Task ServeAsync(ConnectionDelegate next, ConnectionContext connection)
    {
        var transport = connection.Transport;
        var writer = new ProblemWriter(transport.Output);
        _connections[connection.ConnectionId] = writer;
        connection.Transport = new Duplex(transport.Input, writer);
        try
        {
            await next(connection);
        }
        finally
        {
            _connections.TryRemove(connection.ConnectionId, out _);
            connection.Transport = transport;
        }
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Key != BadRequestEvent || value.Value is not IFeatureCollection features
            || features.Get<IHttpConnectionFeature>()?.ConnectionId is not { } connectionId
            || !_connections.TryGetValue(connectionId, out var writer))
        {
            return;
        }

        var method = features.Get<IHttpRequestFeature>()?.Method;
        if (string.Equals(method, HttpMethods.Head, StringComparison.OrdinalIgnoreCase))
        {
            return; // a response to HEAD has no body (a request line that cannot be parsed has no method: it gets one)
        }

        writer.Expect(Describe(features.Get<IBadRequestExceptionFeature>()?.Error), features.Get<IHttpRequestIdentifierFeature>()?.TraceIdentifier);
    }

    void IObserver<KeyValuePair<string, object?>>.OnCompleted()
    {
    }

    void IObserver<KeyValuePair<string, object?>>.OnError(Exception error)
    {
    }

    public void Dispose() => _subscription.Dispose();

    /// <summary>Kestrel's reason without the request bytes it may echo after a colon (a target, a length, a coding).</summary>
    internal static string Describe(Exception? error)
    {
        var message = error?.Message is { Length: > 0 } text ? Echoed().Replace(text, string.Empty).Trim() : string.Empty;
        if (message.Length == 0)
        {
            return "The request could not be read as HTTP.";
        }

        return message.EndsWith('.') ? message : message + ".";
    }

    /// <summary>The problem-details response for Kestrel's own bare error response <paramref name="head"/>, or null when it is not one.</summary>
    internal static byte[]? Rewrite(ReadOnlySpan<byte> head, string detail, string? traceId)
    {
        var text = Encoding.Latin1.GetString(head);
        var match = BareErrorHead().Match(text);
        if (!match.Success || !int.TryParse(match.Groups["status"].ValueSpan, out var status))
        {
            return null;
        }

        var headers = text[(text.IndexOf("\r\n", StringComparison.Ordinal) + 2)..^4].Split("\r\n");
        if (headers.Any(h => h.StartsWith("Content-Type:", StringComparison.OrdinalIgnoreCase) || h.StartsWith("Transfer-Encoding:", StringComparison.OrdinalIgnoreCase))
            || !headers.Any(h => h.Equals("Content-Length: 0", StringComparison.OrdinalIgnoreCase)))
        {
            return null;
        }

        var body = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object?>
        {
            ["type"] = ProblemTypes.ForStatus(status),
            ["title"] = match.Groups["reason"].Value.Length > 0 ? match.Groups["reason"].Value : "Bad Request",
            ["status"] = status,
            ["detail"] = detail,
            ["traceId"] = traceId,
        });
        var response = new StringBuilder();
        response.Append(match.Groups["line"].Value).Append("\r\n");
        foreach (var header in headers.Where(h => !h.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase)))
        {
            response.Append(header).Append("\r\n");
        }

        response.Append("Content-Type: application/problem+json\r\n");
        response.Append("Content-Length: ").Append(body.Length).Append("\r\n\r\n");
        return [.. Encoding.Latin1.GetBytes(response.ToString()), .. body];
    }

    [GeneratedRegex(":.*$", RegexOptions.Singleline)]
    private static partial Regex Echoed();

    [GeneratedRegex("^(?<line>HTTP/1\\.[01] (?<status>[45][0-9]{2})(?: (?<reason>[^\\r\\n]*))?)\\r\\n(?:[^\\r\\n]+\\r\\n)*\\r\\n$")]
    private static partial Regex BareErrorHead();

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>
    /// The transport's writer, passed through untouched, except that after Kestrel reported a bad request
    /// the bytes up to the next flush are held: Kestrel's bare error response is replaced, anything else is
    /// written as it came.
    /// </summary>
    private sealed class ProblemWriter(PipeWriter inner) : PipeWriter
    {
        private const int MaxHeld = 16 * 1024;
        private readonly ArrayBufferWriter<byte> _held = new();
        private (string Detail, string? TraceId)? _expected;
        private bool _holding;
        private bool _lentHeld;
        private volatile bool _armed;

        public void Expect(string detail, string? traceId)
        {
            lock (_held)
            {
                _expected = (detail, traceId);
                _armed = true;
            }
        }

        private bool Holding()
        {
            if (!_armed)
            {
                return false; // the path of every response but the one after a bad request: no lock
            }

            lock (_held)
            {
                if (_expected is not null && !_holding && inner.CanGetUnflushedBytes && inner.UnflushedBytes > 0)
                {
                    return false; // bytes of an earlier response are still unflushed: hold from the next flush on
                }

                _holding |= _expected is not null;
                return _holding;
            }
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => (_lentHeld = Holding()) ? _held.GetMemory(sizeHint) : inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => (_lentHeld = Holding()) ? _held.GetSpan(sizeHint) : inner.GetSpan(sizeHint);

        public override void Advance(int bytes)
        {
            if (_lentHeld)
            {
                _lentHeld = false;
                _held.Advance(bytes);
                if (_held.WrittenCount > MaxHeld)
                {
                    Release(); // far longer than any bare error response: it is not one
                }
            }
            else
            {
                inner.Advance(bytes);
            }
        }

        public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            Release();
            return await inner.FlushAsync(cancellationToken);
        }

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes + _held.WrittenCount;

        public override void Complete(Exception? exception = null)
        {
            Release();
            inner.Complete(exception);
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            Release();
            await inner.CompleteAsync(exception);
        }

        private void Release()
        {
            if (!_armed)
            {
                return;
            }

            lock (_held)
            {
                if (!_holding)
                {
                    return;
                }

                var (detail, traceId) = _expected!.Value;
                var bytes = Rewrite(_held.WrittenSpan, detail, traceId) ?? _held.WrittenSpan.ToArray();
                inner.Write(bytes);
                _held.ResetWrittenCount();
                _holding = false;
                _expected = null;
                _armed = false;
            }
        }
    }
}
