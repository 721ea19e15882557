using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using FluentValidation;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Mvc;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Host;

/// <summary>Machine-readable problem types (RFC 9457 <c>type</c>).</summary>
internal static class ProblemTypes
{
    public const string Validation = "urn:oms:problem:validation-error";
    public const string MalformedRequest = "urn:oms:problem:malformed-request";
    public const string NotFound = "urn:oms:problem:not-found";
    public const string ModuleUnavailable = "urn:oms:problem:module-unavailable";

    public const string DependencyUnavailable = "urn:oms:problem:dependency-unavailable";

    public const string Unavailable = "urn:oms:problem:unavailable";
    public const string ConcurrentChange = "urn:oms:problem:concurrent-change";
    public const string Internal = "urn:oms:problem:internal-error";

    /// <summary>The type of a problem known only by its status code.</summary>
    public static string ForStatus(int? status) => status switch
    {
        StatusCodes.Status404NotFound => NotFound,
        StatusCodes.Status400BadRequest => MalformedRequest,
        StatusCodes.Status500InternalServerError => Internal,
        _ => $"urn:oms:problem:http-{status}",
    };
}

internal static class ProblemDetailsSetup
{
    /// <summary>Every problem carries the trace id; bare status codes get a type.</summary>
    public static void Customize(ProblemDetailsContext context)
    {
        context.ProblemDetails.Extensions["traceId"] = Activity.Current?.TraceId.ToString() ?? context.HttpContext.TraceIdentifier;
        if (context.HttpContext.Items.TryGetValue(CorrelationMiddleware.Header, out var correlationId))
        {
            context.ProblemDetails.Extensions["correlationId"] = correlationId;
        }

        if (context.ProblemDetails.Type is null or "" || context.ProblemDetails.Type.StartsWith("https://tools.ietf.org", StringComparison.Ordinal))
        {
            context.ProblemDetails.Type = ProblemTypes.ForStatus(context.ProblemDetails.Status);
        }
    }
}

/// <summary>Turns every exception into problem details: field errors for bad input, no stack traces outside Development.</summary>
internal sealed partial class ProblemExceptionHandler(IProblemDetailsService problems, IHostEnvironment environment, ILogger<ProblemExceptionHandler> logger)
    : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var problem = exception switch
        {
            ValidationException validation => Validation(validation),
            BadHttpRequestException badRequest => Malformed(badRequest),
            ProblemException business => Business(business),
            UnknownModuleException unknown => new ProblemDetails
            {
                Status = StatusCodes.Status404NotFound,
                Type = ProblemTypes.NotFound,
                Title = "Unknown module",
                Detail = unknown.Message,
            },
            Microsoft.EntityFrameworkCore.DbUpdateConcurrencyException => new ProblemDetails
            {
                Status = StatusCodes.Status409Conflict,
                Type = ProblemTypes.ConcurrentChange,
                Title = "The resource changed while the request was handled",
                Detail = "Another change to the same resource was committed first; nothing of this request was written. Read it again and retry if the request still applies.",
            },
            ModuleNotAvailableException unavailable => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Type = ProblemTypes.ModuleUnavailable,
                Title = "A module this request needs is not available",
                Detail = unavailable.Message,
            },
            DependencyUnavailableException dependency => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Type = ProblemTypes.DependencyUnavailable,
                Title = "A service this request depends on did not answer",
                Detail = $"{dependency.Message} Nothing of this request was written; repeating it (with the same Idempotency-Key where it takes one) is safe.",
            },
            // Backstops for what the edge checks should have caught: a value PostgreSQL refuses (class 22)
            // is the request's fault, a unique violation (23505) a conflict; neither is an internal error.
            _ when PostgresStateOf(exception) is { } state && state.StartsWith("22", StringComparison.Ordinal) => new ProblemDetails
            {
                Status = StatusCodes.Status400BadRequest,
                Type = ProblemTypes.Validation,
                Title = "A value of the request cannot be stored",
                Detail = "A value is out of range or not valid text for the database; nothing of this request was written.",
            },
            _ when PostgresStateOf(exception) == "23505" => new ProblemDetails
            {
                Status = StatusCodes.Status409Conflict,
                Type = ProblemTypes.ConcurrentChange,
                Title = "The resource exists already",
                Detail = "Another request created the same resource first; nothing of this request was written. Read it and retry if the request still applies.",
            },
            _ when Failures.Classify(exception) == FailureKind.Contention => new ProblemDetails
            {
                Status = StatusCodes.Status409Conflict,
                Type = ProblemTypes.ConcurrentChange,
                Title = "The resource changed while the request was handled",
                Detail = "A concurrent change won (a serialization failure or deadlock); nothing of this request was written. Retry it.",
            },
            _ when Failures.Classify(exception) == FailureKind.Outage => new ProblemDetails
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Type = ProblemTypes.Unavailable,
                Title = "The system could not serve this request now",
                Detail = "Nothing of this request is known to be written. Repeating it is safe: with the same Idempotency-Key where it takes one, a request that did commit answers as the first time.",
            },
            _ => null,
        };

        if (problem is null)
        {
            logger.LogError(exception, "Unhandled exception on {Method} {Path}", httpContext.Request.Method, httpContext.Request.Path);
            problem = new ProblemDetails
            {
                Status = StatusCodes.Status500InternalServerError,
                Type = ProblemTypes.Internal,
                Title = "An unexpected error occurred",
                Detail = environment.IsDevelopment() ? exception.ToString() : "The error was logged; quote the trace id when reporting it.",
            };
        }

        httpContext.Response.StatusCode = problem.Status!.Value;
        if (problem.Status == StatusCodes.Status503ServiceUnavailable)
        {
            httpContext.Response.Headers.RetryAfter = "5";
        }
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails = problem,
            Exception = exception,
        });
    }

    private static string? PostgresStateOf(Exception exception)
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is Npgsql.PostgresException postgres)
            {
                return postgres.SqlState;
            }
        }

        return null;
    }

    private static ProblemDetails Business(ProblemException exception)
    {
        var problem = exception.Field is null
            ? new ProblemDetails()
            : new HttpValidationProblemDetails(new Dictionary<string, string[]> { [exception.Field] = [exception.Message] });
        problem.Status = exception.Status;
        problem.Type = exception.Type;
        problem.Title = exception.Title;
        problem.Detail = exception.Message;
        return problem;
    }

    private static HttpValidationProblemDetails Validation(ValidationException exception) => new(
        exception.Errors
            .GroupBy(e => ToCamelPath(e.PropertyName))
            .ToDictionary(g => g.Key, g => g.Select(e => e.ErrorMessage).Distinct().ToArray()))
    {
        Status = StatusCodes.Status400BadRequest,
        Type = ProblemTypes.Validation,
        Title = "The request is not valid",
        Detail = "See errors for the fields and the reasons.",
    };

    private static ProblemDetails Malformed(BadHttpRequestException exception)
    {
        var errors = new Dictionary<string, string[]>();
        if (exception.InnerException is JsonException json)
        {
            foreach (var (field, reason) in JsonErrors.Explain(json))
            {
                errors[field] = [reason];
            }
        }
        else if (exception.Message.Contains("no body was provided", StringComparison.Ordinal))
        {
            errors["body"] = ["This operation needs a JSON body."];
        }
        else if (ParameterPattern().Match(exception.Message) is { Success: true } match)
        {
            var name = match.Groups["name"].Value;
            errors[name] = [exception.Message.Contains("was not provided", StringComparison.Ordinal)
                ? $"'{name}' is required."
                : $"'{name}' has a value that cannot be read: {JsonErrors.WithoutTypeNames(exception.Message)}"];
        }

        if (errors.Count == 0)
        {
            return new ProblemDetails
            {
                Status = exception.StatusCode,
                Type = ProblemTypes.MalformedRequest,
                Title = "The request could not be read",
                Detail = JsonErrors.WithoutTypeNames(exception.Message),
            };
        }

        return new HttpValidationProblemDetails(errors)
        {
            Status = exception.StatusCode,
            Type = ProblemTypes.Validation,
            Title = "The request is not valid",
            Detail = "See errors for the fields and the reasons.",
        };
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();

    private static string ToCamelPath(string propertyName) =>
        string.Join('.', propertyName.Split('.').Select(p => p.Length == 0 || p.Contains('-', StringComparison.Ordinal) ? p : char.ToLowerInvariant(p[0]) + p[1..]));

    [GeneratedRegex("parameter \"[^\"]*? (?<name>[A-Za-z_][A-Za-z0-9_]*)\"")]
    private static partial Regex ParameterPattern();
}

/// <summary>System.Text.Json's errors in the API's terms: the field (JSON path) and what it must be, never a CLR type name.</summary>
internal static partial class JsonErrors
{
    public static IEnumerable<(string Field, string Reason)> Explain(JsonException json)
    {
        var path = json.Path is { Length: > 1 } p ? p.TrimStart('$').TrimStart('.') : string.Empty;
        string Under(string name) => path.Length == 0 ? name : $"{path}.{name}";
        var message = json.Message;
        if (MissingRequired().Match(message) is { Success: true } missing)
        {
            foreach (var name in missing.Groups["names"].Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var field = name.Trim('\'');
                yield return (Under(field), $"'{field}' is required.");
            }

            yield break;
        }

        if (Unmapped().Match(message) is { Success: true } unmapped)
        {
            var field = unmapped.Groups["name"].Value;
            yield return (path.Length == 0 || path.EndsWith(field, StringComparison.Ordinal) ? path is { Length: > 0 } ? path : field : Under(field), $"'{field}' is not a field of this request.");
            yield break;
        }

        if (NullNotAllowed().Match(message) is { Success: true } nulled)
        {
            var field = JsonNamingPolicy.CamelCase.ConvertName(nulled.Groups["name"].Value);
            yield return (path.EndsWith(field, StringComparison.OrdinalIgnoreCase) ? path : Under(field), $"'{field}' may not be null.");
            yield break;
        }

        if (NotConvertible().Match(message) is { Success: true } converted)
        {
            yield return (path.Length == 0 ? "body" : path, $"Expected {Describe(converted.Groups["type"].Value)}.");
            yield break;
        }

        yield return (path.Length == 0 ? "body" : path, $"The body is not valid JSON here: {WithoutTypeNames(message.Split('\n')[0].Trim())}");
    }

    public static string WithoutTypeNames(string message) => TypeName().Replace(message, "the expected type");

    private static string Describe(string type)
    {
        var name = NullableOf().Match(type) is { Success: true } nullable ? nullable.Groups["inner"].Value : type;
        switch (name)
        {
            case "System.Int16" or "System.Int32" or "System.Int64" or "System.Byte":
                return "an integer (a JSON number without a fraction, not a string)";
            case "System.Decimal" or "System.Double" or "System.Single":
                return "a number (a JSON number, not a string)";
            case "System.String":
                return "a string";
            case "System.Boolean":
                return "true or false";
            case "System.Guid":
                return "a UUID string";
            case "System.DateTimeOffset" or "System.DateTime":
                return "an ISO 8601 date and time string, such as 2026-12-01T10:00:00Z";
        }

        if (name.Contains("List", StringComparison.Ordinal) || name.EndsWith("[]", StringComparison.Ordinal))
        {
            return "a list";
        }

        var resolved = AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => a.GetName().Name?.StartsWith("OmsModular", StringComparison.Ordinal) == true)
            .Select(a => a.GetType(name, throwOnError: false))
            .FirstOrDefault(t => t is not null);
        if (resolved is { IsEnum: true })
        {
            var values = Enum.GetNames(resolved).Select(n => JsonNamingPolicy.KebabCaseLower.ConvertName(n));
            return $"one of {string.Join(", ", values)} (a string)";
        }

        return "an object";
    }

    [GeneratedRegex("missing required properties including: (?<names>.+?)\\.?$", RegexOptions.Multiline)]
    private static partial Regex MissingRequired();

    [GeneratedRegex("The JSON property '(?<name>[^']*)' could not be mapped")]
    private static partial Regex Unmapped();

    [GeneratedRegex("(?:parameter|property or field) '(?<name>[^']*)' on type '[^']*' doesn't allow")]
    private static partial Regex NullNotAllowed();

    [GeneratedRegex("could not be converted to (?<type>[^ ]+?)\\. Path")]
    private static partial Regex NotConvertible();

    [GeneratedRegex("System\\.Nullable`1\\[\\[(?<inner>[^,\\]]+)")]
    private static partial Regex NullableOf();

    [GeneratedRegex("'?(?:OmsModular|System|Microsoft)\\.[A-Za-z0-9_.`+\\[\\], =]+'?")]
    private static partial Regex TypeName();
}
