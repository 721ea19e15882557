namespace OmsModular.Modules.Fulfillment.Domain;

internal enum NodeKind
{
    Warehouse,
    Store,
}

/// <summary>A fulfilment node: a warehouse or a store, known to Inventory by its code.</summary>
internal sealed class Node
{
    public required string Code { get; init; }

    public required string Name { get; set; }

    public NodeKind Kind { get; set; }

    public required string CountryCode { get; set; }

    public double Latitude { get; set; }

    public double Longitude { get; set; }

    public bool CanShip { get; set; }

    public bool CanPickup { get; set; }

    /// <summary>Orders the node can take per day (UTC); 0 means no limit.</summary>
    public int DailyCapacity { get; set; }

    /// <summary>Lower is preferred when distances tie.</summary>
    public int Priority { get; set; }

    public bool Active { get; set; }

    public DateTimeOffset UpdatedAt { get; set; }
}

/// <summary>Orders assigned to a node on one day (its capacity use).</summary>
internal sealed class NodeDailyLoad
{
    public required string NodeCode { get; init; }

    public DateOnly Day { get; init; }

    public int Orders { get; set; }
}

/// <summary>A routing decision with its explanation (candidates, what ruled each out, the scores).</summary>
internal sealed class RoutingDecision
{
    public Guid Id { get; init; }

    public Guid OrderId { get; init; }

    public bool Success { get; init; }

    public string? FailureReason { get; init; }

    public required string Strategy { get; init; }

    public int Attempts { get; init; }

    /// <summary>JSON: allocations and candidates of the final attempt, and the nodes excluded by earlier attempts.</summary>
    public required string Explanation { get; init; }

    public DateTimeOffset DecidedAt { get; init; }
}

