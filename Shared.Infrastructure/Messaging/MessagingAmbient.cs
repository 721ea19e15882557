using System.Text.Json;
using System.Text.Json.Serialization;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>
/// The correlation of the flow this code runs in: set by the HTTP pipeline for a request and by
/// the inbox processor around a consumer, read when an event is published.
/// </summary>
public sealed record MessagingAmbient(string? CorrelationId, string? CausationId, string? TraceParent = null, string? TraceState = null)
{
    private static readonly AsyncLocal<MessagingAmbient?> Slot = new();

    public static MessagingAmbient? Current => Slot.Value;

    public static IDisposable Begin(MessagingAmbient ambient)
    {
        var previous = Slot.Value;
        Slot.Value = ambient;
        return new Restore(previous);
    }

    private sealed class Restore(MessagingAmbient? previous) : IDisposable
    {
        public void Dispose() => Slot.Value = previous;
    }
}

/// <summary>The one JSON shape of every event on the wire (camelCase, enums as strings).</summary>
public static class MessageSerialization
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower) },
    };
}

/// <summary>How an enum value reads on the wire, in URLs and on timelines: <c>OnHold</c> is <c>on-hold</c> (the rule of <see cref="MessageSerialization"/>).</summary>
public static class EnumNames
{
    public static string Kebab<T>(this T value)
        where T : struct, Enum => JsonNamingPolicy.KebabCaseLower.ConvertName(value.ToString());
}
