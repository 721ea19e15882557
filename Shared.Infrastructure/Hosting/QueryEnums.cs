using FluentValidation;
using FluentValidation.Results;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Shared.Infrastructure.Hosting;

/// <summary>Enum values in query strings, as the API writes them (kebab case, any letter case).</summary>
public static class QueryEnums
{
    /// <summary>The value, null when none is given, or a 400 naming the field and the values it takes.</summary>
    public static T? ParseOrNull<T>(string? value, string field)
        where T : struct, Enum
    {
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        return Enum.TryParse<T>(value.Replace("-", string.Empty, StringComparison.Ordinal), ignoreCase: true, out var parsed) && Enum.IsDefined(parsed)
            ? parsed
            : throw new ValidationException([new ValidationFailure(field, $"'{field}' must be one of {string.Join(", ", Enum.GetValues<T>().Select(n => n.Kebab()))}.")]);
    }
}
