using System.Text.Json;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;

namespace OmsModular.Host;

/// <summary>
/// What no request may carry anywhere, checked before it is bound: control characters in strings
/// (C0 other than tab, line feed and carriage return, and DEL; PostgreSQL refuses NUL), a null
/// element inside an array (no list of this API holds nulls), JSON nested deeper than the API's
/// bodies go, in the query string and route values too. The answer is a 400 problem naming the
/// field; nothing of the request runs.
/// </summary>
internal sealed class InputGuard(RequestDelegate next, IProblemDetailsService problems)
{
    public const int MaxDepth = 16;
    public const int MaxBufferedBody = 16 * 1024 * 1024;

    public async Task InvokeAsync(HttpContext context)
    {
        if (!context.Request.Path.StartsWithSegments("/api"))
        {
            await next(context);
            return;
        }

        var error = Check(context.Request.Query) ?? CheckRoute(context);
        var status = StatusCodes.Status400BadRequest;
        if (error is null && IsJson(context.Request) && context.Request.ContentLength is not 0)
        {
            if (context.Request.ContentType is { } type
                && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(type, out var media)
                && media.Charset.HasValue && !media.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase))
            {
                (error, status) = (("Content-Type", "The body must be UTF-8 JSON (Content-Type: application/json; charset=utf-8)."), StatusCodes.Status415UnsupportedMediaType);
            }
            else
            {
                (error, status) = await CheckBodyAsync(context);
            }
        }

        if (error is null)
        {
            await next(context);
            return;
        }

        context.Response.StatusCode = status;
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = new HttpValidationProblemDetails(new Dictionary<string, string[]> { [error.Value.Field] = [error.Value.Reason] })
            {
                Status = status,
                Type = status == StatusCodes.Status400BadRequest ? ProblemTypes.Validation : $"urn:oms:problem:http-{status}",
                Title = status switch
                {
                    StatusCodes.Status413PayloadTooLarge => "The body is too large",
                    StatusCodes.Status415UnsupportedMediaType => "The body is not UTF-8 JSON",
                    _ => "The request is not valid",
                },
                Detail = "See errors for the fields and the reasons.",
            },
        });
    }

    private static bool IsJson(HttpRequest request) =>
        request.ContentType is { } type && (type.Contains("json", StringComparison.OrdinalIgnoreCase));

    private static (string Field, string Reason)? Check(IQueryCollection query)
    {
        foreach (var (name, values) in query)
        {
            if (HasControl(name) || values.Any(v => v is not null && HasControl(v)))
            {
                return (Printable(name), ControlReason);
            }
        }

        return null;
    }

    private static (string Field, string Reason)? CheckRoute(HttpContext context)
    {
        // Route values are bound later; the raw path is what they come from.
        var path = context.Request.Path.Value ?? string.Empty;
        return HasControl(path) ? ("path", ControlReason) : null;
    }

    private const string ControlReason = "Control characters (such as NUL) are not allowed; only tab and line breaks may appear in text.";

    private static async Task<((string Field, string Reason)? Error, int Status)> CheckBodyAsync(HttpContext context)
    {
        var limit = context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? MaxBufferedBody;
        if (context.Request.ContentLength > Math.Min(limit, MaxBufferedBody))
        {
            return (("body", $"A body may hold at most {Math.Min(limit, MaxBufferedBody) / (1024 * 1024)} MiB."), StatusCodes.Status413PayloadTooLarge);
        }

        context.Request.EnableBuffering(bufferThreshold: 64 * 1024, bufferLimit: Math.Min(limit, MaxBufferedBody));
        byte[] body;
        try
        {
            using var copy = new MemoryStream();
            await context.Request.Body.CopyToAsync(copy, context.RequestAborted);
            body = copy.ToArray();
        }
        catch (Exception exception) when (exception is BadHttpRequestException or IOException)
        {
            // Larger than the limit while reading (a body without Content-Length), or cut off.
            return (("body", $"The body could not be read in full (at most {Math.Min(limit, MaxBufferedBody) / (1024 * 1024)} MiB)."), StatusCodes.Status413PayloadTooLarge);
        }

        context.Request.Body.Position = 0;
        var json = body.AsSpan();
        if (json.StartsWith("\uFEFF"u8))
        {
            json = json[3..]; // the binder skips a byte-order mark too
        }

        return (Walk(json), StatusCodes.Status400BadRequest);
    }

    /// <summary>Walks the JSON tokens; malformed JSON is left to the binder, which names the position.</summary>
    internal static (string Field, string Reason)? Walk(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 64 });
        var frames = new Stack<Frame>();
        string? property = null;
        string Here() => frames.Count == 0 ? "body"
            : frames.Peek().IsArray ? $"{frames.Peek().Path}[{frames.Peek().Index}]"
            : frames.Peek().Path.Length == 0 ? property ?? "body" : $"{frames.Peek().Path}.{property}";
        void Done()
        {
            property = null;
            if (frames.Count > 0 && frames.Peek().IsArray)
            {
                frames.Peek().Index++;
            }
        }

        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject or JsonTokenType.StartArray:
                        var path = frames.Count == 0 ? string.Empty : Here();
                        if (frames.Count >= MaxDepth)
                        {
                            return (path, $"The body nests deeper than {MaxDepth} levels.");
                        }

                        frames.Push(new Frame(path, reader.TokenType == JsonTokenType.StartArray));
                        property = null;
                        break;
                    case JsonTokenType.EndObject or JsonTokenType.EndArray:
                        frames.Pop();
                        Done();
                        break;
                    case JsonTokenType.PropertyName:
                        property = reader.GetString()!;
                        if (HasControl(property))
                        {
                            return (frames.Peek().Path is { Length: > 0 } parent ? parent : "body", ControlReason);
                        }

                        break;
                    case JsonTokenType.Null when frames.Count > 0 && frames.Peek().IsArray:
                        return (Here(), "A list may not hold null elements.");
                    case JsonTokenType.String when HasControl(reader.GetString()!):
                        return (Here(), ControlReason);
                    default:
                        Done();
                        break;
                }
            }
        }
        catch (JsonException)
        {
            return null; // malformed JSON: the binder answers with the position
        }
        catch (InvalidOperationException)
        {
            return (Here(), "The text is not valid UTF-8 (or holds a lone surrogate escape).");
        }

        return null;
    }

    private sealed class Frame(string path, bool isArray)
    {
        public string Path { get; } = path;

        public bool IsArray { get; } = isArray;

        public int Index { get; set; }
    }

    private static bool HasControl(string value)
    {
        foreach (var c in value)
        {
            if ((c < 0x20 && c is not '\t' and not '\n' and not '\r') || c == 0x7F)
            {
                return true;
            }
        }

        return false;
    }

    private static string Printable(string value) => new(value.Take(50).Select(c => char.IsControl(c) ? '?' : c).ToArray());
}
