using System.Collections.Concurrent;
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
    /// an external dependency, a time-out): the consumer pauses and probes; no attempt is spent.
    /// </summary>
    Outage,

    /// <summary>
    /// Another writer won a race (an optimistic-concurrency conflict, a serialisation failure, a
    /// deadlock): retried with backoff against a larger budget of attempts (four times the usual).
    /// </summary>
    Contention,
}

/// <summary>
/// Classifies a consumer's failure: an outage is not a poison message. A certain outage
/// (<see cref="IsCertainOutage"/>) pauses the consumer without spending attempts however long it
/// lasts; a possible one (a time-out) is taken for the message's own when another delivery of the
/// consumer succeeds meanwhile, or after the consumer's probes kept failing for a while.
/// </summary>
public static class Failures
{
    /// <summary>
    /// PostgreSQL errors that mean the database cannot serve now: connection failures (class 08),
    /// insufficient resources (53), operator intervention such as a shutdown or a server that
    /// cannot accept connections yet (57P01-57P03), system and I/O errors (58).
    /// </summary>
    private static bool IsUnavailable(string sqlState) =>
        sqlState.StartsWith("08", StringComparison.Ordinal)
        || sqlState.StartsWith("53", StringComparison.Ordinal)
        || sqlState.StartsWith("58", StringComparison.Ordinal)
        || sqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow;

    /// <summary>
    /// An outage beyond doubt: the database cannot be reached or refuses to serve (connection errors,
    /// shutdown, cannot connect now), or a module that is not reachable. Such failures never spend
    /// attempts, however long they last. A time-out, a statement cancelled, an HTTP error or an
    /// external dependency that did not answer (<see cref="DependencyUnavailableException"/>: it may
    /// fail for one order only) only may be one.
    /// </summary>
    public static bool IsCertainOutage(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case ModuleNotAvailableException or SocketException:
                case PostgresException postgres when postgres.SqlState.StartsWith("08", StringComparison.Ordinal)
                                                     || postgres.SqlState is PostgresErrorCodes.AdminShutdown or PostgresErrorCodes.CrashShutdown or PostgresErrorCodes.CannotConnectNow:
                    return true;
            }
        }

        return false;
    }

    public static FailureKind Classify(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case DbUpdateConcurrencyException:
                case MessageWaitsException:
                case PostgresException { SqlState: PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.LockNotAvailable }:
                    return FailureKind.Contention;
                case PostgresException postgres:
                    return IsUnavailable(postgres.SqlState) || postgres.SqlState == PostgresErrorCodes.QueryCanceled ? FailureKind.Outage : FailureKind.Message;
                case NpgsqlException npgsql when npgsql.IsTransient:
                case TimeoutException:
                case HttpRequestException:
                case SocketException:
                case ModuleNotAvailableException:
                case DependencyUnavailableException:
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
/// consumer runs normally again. Deliveries spend no attempts meanwhile, so a certain outage leaves no
/// dead letters however long it lasts (one longer than the order step time-out still times orders
/// out, by that rule).
/// </summary>
public sealed class ConsumerPauses
{
    private readonly ConcurrentDictionary<string, PauseState> _paused = new(StringComparer.Ordinal);

    /// <summary>Pauses the consumer (or lengthens its pause when a probe failed); returns how long.</summary>
    public TimeSpan Pause(string consumer, string reason, TimeSpan min, TimeSpan max)
    {
        var pause = _paused.AddOrUpdate(
            consumer,
            _ => new PauseState(DateTimeOffset.UtcNow + min, min, reason, 1),
            (_, current) =>
            {
                if (current.Until > DateTimeOffset.UtcNow)
                {
                    return current; // another processor paused it already
                }

                var next = TimeSpan.FromTicks(Math.Min(current.Length.Ticks * 2, max.Ticks));
                var jittered = next * (0.75 + (Random.Shared.NextDouble() * 0.5));
                return new PauseState(DateTimeOffset.UtcNow + jittered, next, reason, current.Pauses + 1);
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

    /// <summary>The consumers that are paused or probing, with why and until when (shown by the backlog view).</summary>
    public IReadOnlyDictionary<string, (DateTimeOffset Until, int Pauses, string Reason)> Snapshot() =>
        _paused.ToDictionary(p => p.Key, p => (p.Value.Until, p.Value.Pauses, p.Value.Reason), StringComparer.Ordinal);

    /// <summary>When the next pause ends, if any consumer is paused.</summary>
    public DateTimeOffset? NextProbe()
    {
        var now = DateTimeOffset.UtcNow;
        var pending = _paused.Values.Where(p => p.Until > now).Select(p => p.Until).ToArray();
        return pending.Length == 0 ? null : pending.Min();
    }

    /// <summary>How many pauses in a row the consumer has had (0 when it runs normally).</summary>
    public int FailedProbes(string consumer) => _paused.TryGetValue(consumer, out var pause) ? pause.Pauses : 0;

    private sealed record PauseState(DateTimeOffset Until, TimeSpan Length, string Reason, int Pauses);
}

/// <summary>
/// The message cannot be handled yet because what it needs is on its way (another message of its
/// order has not been handled): it is retried with backoff like a lost race, against four times the
/// usual attempts, and never judged a poison message early.
/// </summary>
public sealed class MessageWaitsException(string message) : Exception(message);
