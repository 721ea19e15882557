namespace OmsModular.Shared.Contracts;

/// <summary>
/// Gives an integration event its stable wire name and version, e.g. <c>orders.order-placed.v1</c>.
/// The CLR type name never travels on the wire; renaming a record does not break consumers.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false, AllowMultiple = false)]
public sealed class IntegrationEventAttribute(string name, int version) : Attribute
{
    public string Name { get; } = name;

    public int Version { get; } = version;

    public string WireName => $"{Name}.v{Version}";
}

/// <summary>Marker for an integration event contract: a plain immutable record.</summary>
public interface IIntegrationEvent;

/// <summary>
/// A synchronous module API request handled by exactly one module. The caller does not know
/// whether the handling module runs in this process.
/// </summary>
public interface IModuleRequest<TResponse>;
