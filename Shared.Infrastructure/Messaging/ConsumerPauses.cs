using System.Collections.Concurrent;
using System.Net.Http;
using System.Net.Sockets;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>Why a delivery failed, as far as retrying it is concerned.</summary>
public enum FailureKind
{
    /// <summary>The message fails on its own (a bug, bad data): its attempts count, the last makes it a dead letter.</summary>
    Message,

    /// <summary>
    /// Something the consumer depends on is down (its database, a module API that is unreachable,
    /// a time-out): the consumer pauses and probes; no attempt is spent.
    /// </summary>
    Outage,

    /// <summary>Another writer won a race (an optimistic-concurrency conflict, a serialisation failure, a deadlock): retried soon; no attempt is spent.</summary>
    Contention,
}

/// <summary>Classifies a consumer's failure: an outage is not a poison message.</summary>
public static class Failures
{
    public static FailureKind Classify(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case DbUpdateConcurrencyException:
                case PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected }:
                    return FailureKind.Contention;
                case PostgresException postgres:
                    return postgres.IsTransient || postgres.SqlState == PostgresErrorCodes.QueryCanceled ? FailureKind.Outage : FailureKind.Message;
                case NpgsqlException npgsql when npgsql.IsTransient:
                case TimeoutException:
                case HttpRequestException:
                case SocketException:
                case ModuleNotAvailableException:
                case TaskCanceledException:
                    return FailureKind.Outage;
            }
        }

        return FailureKind.Message;
    }
}

/// <summary>
/// The consumers of this process that are paused because what they depend on is down. A paused
/// consumer's deliveries are not claimed until its pause ends; the next claim is the probe: if it
/// fails for an outage again the pause doubles (with jitter) up to the maximum, if it succeeds the
/// consumer runs normally again. Deliveries spend no attempts meanwhile, so an outage of any
/// length leaves no dead letters and needs no person afterwards.
/// </summary>
public sealed class ConsumerPauses
{
    private readonly ConcurrentDictionary<string, PauseState> _paused = new(StringComparer.Ordinal);

    /// <summary>Pauses the consumer (or lengthens its pause when a probe failed); returns how long.</summary>
    public TimeSpan Pause(string consumer, string reason, TimeSpan min, TimeSpan max)
    {
        var pause = _paused.AddOrUpdate(
            consumer,
            _ => new PauseState(DateTimeOffset.UtcNow + min, min, reason),
            (_, current) =>
            {
                if (current.Until > DateTimeOffset.UtcNow)
                {
                    return current; // another processor paused it already
                }

                var next = TimeSpan.FromTicks(Math.Min(current.Length.Ticks * 2, max.Ticks));
                var jittered = next * (0.75 + (Random.Shared.NextDouble() * 0.5));
                return new PauseState(DateTimeOffset.UtcNow + jittered, next, reason);
            });
        return pause.Until - DateTimeOffset.UtcNow;
    }

    /// <summary>A delivery of the consumer succeeded: it is not paused any more.</summary>
    public void Resume(string consumer) => _paused.TryRemove(consumer, out _);

    /// <summary>The consumers whose pause has not ended.</summary>
    public string[] PausedNow()
    {
        if (_paused.IsEmpty)
        {
            return [];
        }

        var now = DateTimeOffset.UtcNow;
        return _paused.Where(p => p.Value.Until > now).Select(p => p.Key).ToArray();
    }

    /// <summary>The consumers that are paused or probing, with why and until when (for the backlog view and readiness).</summary>
    public IReadOnlyDictionary<string, (DateTimeOffset Until, string Reason)> Snapshot() =>
        _paused.ToDictionary(p => p.Key, p => (p.Value.Until, p.Value.Reason), StringComparer.Ordinal);

    /// <summary>When the next pause ends, if any consumer is paused.</summary>
    public DateTimeOffset? NextProbe()
    {
        var now = DateTimeOffset.UtcNow;
        var pending = _paused.Values.Where(p => p.Until > now).Select(p => p.Until).ToArray();
        return pending.Length == 0 ? null : pending.Min();
    }

    private sealed record PauseState(DateTimeOffset Until, TimeSpan Length, string Reason);
}
