using System.Reflection;
using System.Text;
using System.Text.Json.Serialization.Metadata;
using OmsModular.Shared.Contracts;
using OmsModular.Shared.Infrastructure.Messaging;
using Snapshooter.Xunit;

namespace OmsModular.Tests.Contracts;

/// <summary>
/// The wire shape of every integration event (wire name, then each JSON property with its type,
/// nested records expanded) is a snapshot: a renamed, removed or retyped field fails here and must
/// become a new event version; an added field shows up for review.
/// </summary>
public sealed class WireShapeTests
{
    private static readonly System.Text.Json.JsonSerializerOptions Wire =
        new(MessageSerialization.Options) { TypeInfoResolver = new DefaultJsonTypeInfoResolver() };

    [Fact]
    public void The_wire_shape_of_every_integration_event_does_not_change_by_accident()
    {
        var events = typeof(IIntegrationEvent).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IIntegrationEvent).IsAssignableFrom(t))
            .Select(t => (Type: t, Wire: t.GetCustomAttribute<IntegrationEventAttribute>()!.WireName))
            .OrderBy(e => e.Wire, StringComparer.Ordinal)
            .ToArray();
        Assert.NotEmpty(events);

        var text = new StringBuilder();
        foreach (var (type, wire) in events)
        {
            text.Append(wire).Append('\n');
            Describe(type, "  ", text, []);
        }

        text.ToString().MatchSnapshot();
    }

    private static void Describe(Type type, string indent, StringBuilder text, HashSet<Type> seen)
    {
        var info = Wire.GetTypeInfo(type);
        foreach (var property in info.Properties.OrderBy(p => p.Name, StringComparer.Ordinal))
        {
            var (shape, nested) = Shape(property.PropertyType);
            text.Append(indent).Append(property.Name).Append(": ").Append(shape).Append('\n');
            if (nested is not null && seen.Add(nested))
            {
                Describe(nested, indent + "  ", text, seen);
                seen.Remove(nested);
            }
        }
    }

    /// <summary>A readable type name, and the record to expand beneath it (if any).</summary>
    private static (string Shape, Type? Nested) Shape(Type type)
    {
        if (Nullable.GetUnderlyingType(type) is { } underlying)
        {
            var (inner, nested) = Shape(underlying);
            return (inner + "?", nested);
        }

        if (type != typeof(string) && type.GetInterfaces().Append(type).FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>)) is { } enumerable)
        {
            var (inner, nested) = Shape(enumerable.GetGenericArguments()[0]);
            return ($"[{inner}]", nested);
        }

        var kind = Wire.GetTypeInfo(type).Kind;
        return kind == JsonTypeInfoKind.Object ? (type.Name, type) : (type.Name, null);
    }
}
