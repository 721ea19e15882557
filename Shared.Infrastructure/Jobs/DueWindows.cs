using System.Collections.Concurrent;

namespace OmsModular.Shared.Infrastructure.Jobs;

/// <summary>
/// Deadlines in windows, so that many items share one delayed job: the first item whose time falls
/// in a window (per kind, in this process) claims it and schedules one job for the whole window;
/// the job handles every item of the window. Scheduling a Hangfire job per item costs a synchronous
/// database transaction on the request path; per window it is at most one per second and kind.
/// A process that dies between an item's commit and the schedule loses nothing as long as the kind
/// also has a recurring sweep (every user of this has one).
/// </summary>
public sealed class DueWindows(TimeProvider clock)
{
    public static readonly TimeSpan Width = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<(string Kind, long Start), byte> _claimed = new();
    private long _pruneAfterTicks;

    /// <summary>The window holding <paramref name="time"/> when this call claims it; null when it was claimed before.</summary>
    public (DateTimeOffset From, DateTimeOffset To)? Claim(string kind, DateTimeOffset time)
    {
        var start = time.UtcTicks - (time.UtcTicks % Width.Ticks);
        if (!_claimed.TryAdd((kind, start), 0))
        {
            return null;
        }

        Prune();
        var from = new DateTimeOffset(start, TimeSpan.Zero);
        return (from, from + Width);
    }

    /// <summary>Forgets windows that ended more than a minute ago (no new item falls in them).</summary>
    private void Prune()
    {
        var now = clock.GetUtcNow().UtcTicks;
        if (now < Interlocked.Read(ref _pruneAfterTicks))
        {
            return;
        }

        Interlocked.Exchange(ref _pruneAfterTicks, now + TimeSpan.FromMinutes(1).Ticks);
        var horizon = now - TimeSpan.FromMinutes(1).Ticks;
        foreach (var key in _claimed.Keys.Where(k => k.Start < horizon))
        {
            _claimed.TryRemove(key, out _);
        }
    }
}
