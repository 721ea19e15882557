using System.Collections.Concurrent;
using System.Reflection;
using OmsModular.Shared.Contracts;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>Reads the stable wire name (<c>orders.order-placed.v1</c>) of an event contract.</summary>
public static class WireNames
{
    private static readonly ConcurrentDictionary<Type, string> Cache = new();

    public static string Of(Type eventType) => Cache.GetOrAdd(eventType, static type =>
    {
        var attribute = type.GetCustomAttribute<IntegrationEventAttribute>()
            ?? throw new InvalidOperationException(
                $"Event contract {type.FullName} has no [IntegrationEvent(name, version)] attribute; the wire name must be explicit.");
        if (!typeof(IIntegrationEvent).IsAssignableFrom(type))
        {
            throw new InvalidOperationException($"Event contract {type.FullName} must implement IIntegrationEvent.");
        }

        return attribute.WireName;
    });

    public static string Of<TEvent>()
        where TEvent : IIntegrationEvent => Of(typeof(TEvent));
}
