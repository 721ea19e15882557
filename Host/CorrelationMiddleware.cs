using System.Diagnostics;
using OmsModular.Shared.Infrastructure.Messaging;
using Serilog;
using Serilog.Context;

namespace OmsModular.Host;

/// <summary>
/// Gives every request a correlation id (the caller's <c>X-Correlation-Id</c> when it is sane,
/// else the trace id), echoes it, logs it, and stamps it on every event the request publishes.
/// </summary>
internal sealed class CorrelationMiddleware(RequestDelegate next)
{
    public const string Header = "X-Correlation-Id";

    public async Task InvokeAsync(HttpContext context)
    {
        var correlationId = context.Request.Headers[Header].ToString();
        if (!IsSane(correlationId))
        {
            correlationId = Activity.Current?.TraceId.ToString() ?? context.TraceIdentifier;
        }

        context.Items[Header] = correlationId;
        context.Response.Headers[Header] = correlationId;
        using var ambient = MessagingAmbient.Begin(new MessagingAmbient(correlationId, context.TraceIdentifier));
        using var property = LogContext.PushProperty("CorrelationId", correlationId);
        await next(context);
    }

    public static void EnrichRequestLog(IDiagnosticContext diagnostics, HttpContext context)
    {
        if (context.Items.TryGetValue(Header, out var correlationId))
        {
            diagnostics.Set("CorrelationId", correlationId);
        }
    }

    private static bool IsSane(string value) =>
        value.Length is > 0 and <= 100 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or ':');
}
