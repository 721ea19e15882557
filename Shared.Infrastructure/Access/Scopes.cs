namespace OmsModular.Shared.Infrastructure.Access;

/// <summary>
/// What a credential may do. Every endpoint names the one scope it needs; a <c>…:write</c> scope
/// also grants the <c>…:read</c> scope of the same area.
/// </summary>
public static class Scopes
{
    public const string OrdersRead = "orders:read";
    public const string OrdersWrite = "orders:write";

    /// <summary>Releasing orders from a hold (a review decision: never a sales channel's own).</summary>
    public const string OrdersReview = "orders:review";
    public const string InventoryRead = "inventory:read";
    public const string InventoryWrite = "inventory:write";

    /// <summary>Price lists, tax and shipping rates, promotions and coupons (read, and quotes).</summary>
    public const string CatalogRead = "catalog:read";
    public const string CatalogWrite = "catalog:write";
    public const string FulfillmentRead = "fulfillment:read";
    public const string FulfillmentWrite = "fulfillment:write";
    public const string PaymentsRead = "payments:read";

    /// <summary>Refunds.</summary>
    public const string PaymentsWrite = "payments:write";

    /// <summary>Templates, e-mail and webhook delivery logs, webhook endpoints, the event feed.</summary>
    public const string NotificationsRead = "notifications:read";
    public const string NotificationsWrite = "notifications:write";

    /// <summary>Messaging administration, jobs and API keys.</summary>
    public const string Admin = "admin";

    /// <summary>Module API requests from another process of the system (the service credential of a topology).</summary>
    public const string ModulesCall = "modules:call";

    public static IReadOnlyList<string> All { get; } =
    [
        OrdersRead, OrdersWrite, OrdersReview, InventoryRead, InventoryWrite, CatalogRead, CatalogWrite,
        FulfillmentRead, FulfillmentWrite, PaymentsRead, PaymentsWrite, NotificationsRead, NotificationsWrite, Admin, ModulesCall,
    ];

    /// <summary>
    /// The scopes a channel-bound credential may hold: those whose endpoints confine what they
    /// read and change to the credential's channel (or hold nothing specific to an order).
    /// </summary>
    public static IReadOnlySet<string> ChannelBindable { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        OrdersRead, OrdersWrite, CatalogRead, InventoryRead,
    };

    public static bool IsKnown(string scope) => All.Contains(scope, StringComparer.Ordinal);

    /// <summary>Whether holding <paramref name="held"/> grants <paramref name="required"/>.</summary>
    public static bool Grants(IReadOnlySet<string> held, string required)
    {
        if (held.Contains(required))
        {
            return true;
        }

        return required.EndsWith(":read", StringComparison.Ordinal)
               && held.Contains(string.Concat(required.AsSpan(0, required.Length - ":read".Length), ":write"));
    }
}
