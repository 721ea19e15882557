namespace OmsModular.Shared.Contracts.Fulfillment;

/// <summary>What one node ships (or hands over) for an order.</summary>
public sealed record NodeAllocation(string Node, IReadOnlyList<AllocatedLine> Lines, double? DistanceKm);

public sealed record AllocatedLine(string Sku, int Quantity);

/// <summary>The order's lines are planned at one or more nodes and reserved there.</summary>
[IntegrationEvent("fulfillment.order-routed", 1)]
public sealed record OrderRouted(Guid OrderId, Guid DecisionId, IReadOnlyList<NodeAllocation> Allocations) : IIntegrationEvent;

/// <summary>No plan could be made or reserved (reason: <c>out-of-stock</c>, <c>pickup-location-short</c>, <c>no-node</c>).</summary>
[IntegrationEvent("fulfillment.order-routing-failed", 1)]
public sealed record OrderRoutingFailed(Guid OrderId, Guid DecisionId, string Reason, string Detail) : IIntegrationEvent;

/// <summary>Which of these codes name a fulfilment node (active or not): stock can be kept only at a node.</summary>
public sealed record FindNodes(IReadOnlyList<string> Codes) : IModuleRequest<FoundNodes>;

public sealed record FoundNodes(IReadOnlyList<string> Codes);
