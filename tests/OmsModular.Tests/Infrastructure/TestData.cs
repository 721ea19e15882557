namespace OmsModular.Tests.Infrastructure;

/// <summary>Each test owns its data: codes no other test (or run against the same database) uses.</summary>
internal static class TestData
{
    public static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid().ToString("N")[..8].ToUpperInvariant()}";
}
