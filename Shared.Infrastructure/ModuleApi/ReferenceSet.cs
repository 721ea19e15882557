using Microsoft.Extensions.Logging;

namespace OmsModular.Shared.Infrastructure.ModuleApi;

/// <summary>
/// A set of names another module owns (payment methods, service levels, node codes), fetched through
/// its module API and kept for <c>maxAge</c>. A name not in the set fetches it again (at most every
/// <c>minRefresh</c>), so a name added a moment ago is found. When the owner cannot be reached the
/// answer is "unknown" (null): the caller decides whether to go on without the check.
/// </summary>
public sealed class ReferenceSet(Func<CancellationToken, Task<IEnumerable<string>>> fetch, TimeSpan maxAge, TimeSpan minRefresh, TimeProvider clock, ILogger logger)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private volatile Snapshot? _snapshot;

    public async Task<bool?> ContainsAsync(string name, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        var snapshot = _snapshot;
        if (snapshot is not null && now - snapshot.At < maxAge && (snapshot.Names.Contains(name) || now - snapshot.At < minRefresh))
        {
            return snapshot.Names.Contains(name);
        }

        var seen = snapshot;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Another caller may have fetched while this one waited: then its answer counts.
            snapshot = _snapshot;
            if (snapshot is null || (ReferenceEquals(snapshot, seen) && clock.GetUtcNow() - snapshot.At >= minRefresh))
            {
                try
                {
                    snapshot = _snapshot = new Snapshot(new HashSet<string>(await fetch(cancellationToken).ConfigureAwait(false), StringComparer.Ordinal), clock.GetUtcNow());
                }
                catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    logger.LogWarning(exception, "A reference check could not reach its owner; going on without it");
                    return snapshot?.Names.Contains(name) == true ? true : null;
                }
            }

            return snapshot.Names.Contains(name);
        }
        finally
        {
            _gate.Release();
        }
    }

    private sealed record Snapshot(IReadOnlySet<string> Names, DateTimeOffset At);
}
