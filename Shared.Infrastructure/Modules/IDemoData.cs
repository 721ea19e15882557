namespace OmsModular.Shared.Infrastructure.Modules;

/// <summary>
/// A module's contribution to the demo data set (<c>OmsModular.Host seed-demo</c>), written
/// through the module's own features. Lower <see cref="Order"/> runs first.
/// </summary>
public interface IDemoData
{
    int Order { get; }

    Task SeedAsync(IServiceProvider services, CancellationToken cancellationToken);
}

/// <summary>The demo catalogue every module agrees on: node codes and SKUs are data, not code coupling.</summary>
public static class DemoCatalogue
{
    public static readonly IReadOnlyList<(string Code, string Name, string Kind, double Latitude, double Longitude)> Nodes =
    [
        ("WH-BER", "Warehouse Berlin", "warehouse", 52.4345, 13.5398),
        ("WH-HAM", "Warehouse Hamburg", "warehouse", 53.5511, 9.9937),
        ("WH-MUC", "Warehouse Munich", "warehouse", 48.1351, 11.5820),
        ("STORE-BER-MITTE", "Store Berlin Mitte", "store", 52.5200, 13.4050),
        ("STORE-KOELN", "Store Cologne", "store", 50.9375, 6.9603),
    ];

    public static IEnumerable<string> Skus => Enumerable.Range(1, 300).Select(i => $"DEMO-{i:0000}");

    /// <summary>Deterministic demo stock: some SKUs everywhere, some only in one place, a few nowhere.</summary>
    public static int StockOf(string sku, string node)
    {
        var n = int.Parse(sku[5..], System.Globalization.CultureInfo.InvariantCulture);
        var hash = (n * 31) + node.Length;
        return n % 50 == 0 ? 0 : node.StartsWith("STORE", StringComparison.Ordinal) ? hash % 5 : 20 + (hash % 80);
    }

    public static decimal PriceOf(string sku) => 4.99m + (int.Parse(sku[5..], System.Globalization.CultureInfo.InvariantCulture) % 40);
}
