using Microsoft.EntityFrameworkCore;
using Npgsql;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Tests.Messaging;

/// <summary>What the inbox processor takes for an outage, a lost race or a message's own failure, and how a pause grows.</summary>
public sealed class FailureClassificationTests
{
    public static TheoryData<Exception, FailureKind> Cases => new()
    {
        { new PostgresException("down", "FATAL", "FATAL", PostgresErrorCodes.CannotConnectNow), FailureKind.Outage },
        { new PostgresException("shutdown", "FATAL", "FATAL", PostgresErrorCodes.AdminShutdown), FailureKind.Outage },
        { new PostgresException("broken", "FATAL", "FATAL", PostgresErrorCodes.ConnectionFailure), FailureKind.Outage },
        { new PostgresException("full", "ERROR", "ERROR", PostgresErrorCodes.DiskFull), FailureKind.Outage },
        { new PostgresException("race", "ERROR", "ERROR", PostgresErrorCodes.SerializationFailure), FailureKind.Contention },
        { new PostgresException("deadlock", "ERROR", "ERROR", PostgresErrorCodes.DeadlockDetected), FailureKind.Contention },
        { new DbUpdateConcurrencyException("changed"), FailureKind.Contention },
        { new PostgresException("bug", "ERROR", "ERROR", PostgresErrorCodes.UndefinedColumn), FailureKind.Message },
        { new PostgresException("guard", "ERROR", "ERROR", PostgresErrorCodes.ObjectNotInPrerequisiteState), FailureKind.Message },
        { new PostgresException("lock", "ERROR", "ERROR", PostgresErrorCodes.LockNotAvailable), FailureKind.Contention },
        { new PostgresException("statement timeout", "ERROR", "ERROR", PostgresErrorCodes.QueryCanceled), FailureKind.Outage },
        { new PostgresException("raised", "ERROR", "ERROR", PostgresErrorCodes.RaiseException), FailureKind.Message },
        { new TimeoutException("slow"), FailureKind.Outage },
        { new HttpRequestException("refused"), FailureKind.Outage },
        { new DependencyUnavailableException("provider down"), FailureKind.Outage },
        { new ModuleNotAvailableException("not hosted"), FailureKind.Outage },
        { new InvalidOperationException("wrapped", new TimeoutException("slow")), FailureKind.Outage },
        { new TaskCanceledException("cancelled"), FailureKind.Message },
        { new InvalidOperationException("a bug"), FailureKind.Message },
        { new System.Text.Json.JsonException("bad payload"), FailureKind.Message },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Failures_are_classified(Exception exception, FailureKind expected) =>
        Assert.Equal(expected, Failures.Classify(exception));

    [Theory]
    [InlineData(PostgresErrorCodes.CannotConnectNow, true)]
    [InlineData(PostgresErrorCodes.ConnectionFailure, true)]
    [InlineData(PostgresErrorCodes.AdminShutdown, true)]
    [InlineData(PostgresErrorCodes.DiskFull, false)]
    [InlineData(PostgresErrorCodes.QueryCanceled, false)]
    public void Only_an_unreachable_database_is_a_certain_outage_among_database_errors(string sqlState, bool certain) =>
        Assert.Equal(certain, Failures.IsCertainOutage(new PostgresException("x", "ERROR", "ERROR", sqlState)));

    [Fact]
    public void An_unreachable_module_is_a_certain_outage_and_a_time_out_or_a_silent_dependency_only_a_possible_one()
    {
        Assert.True(Failures.IsCertainOutage(new InvalidOperationException("wrapped", new ModuleNotAvailableException("not hosted"))));
        Assert.False(Failures.IsCertainOutage(new DependencyUnavailableException("provider down")));
        Assert.False(Failures.IsCertainOutage(new TimeoutException("slow")));
        Assert.False(Failures.IsCertainOutage(new HttpRequestException("refused")));
    }

    [Fact]
    public void A_pause_doubles_per_failed_probe_up_to_the_maximum_and_a_success_ends_it()
    {
        var pauses = new ConsumerPauses();
        var (min, max) = (TimeSpan.FromMilliseconds(200), TimeSpan.FromMilliseconds(400)); // long enough to be seen as paused on a busy machine
        pauses.Pause("c", "down", min, max);
        Assert.Equal(["c"], pauses.PausedNow());
        Assert.Equal(1, pauses.FailedProbes("c"));
        Assert.Equal(1, pauses.FailedProbes("c")); // asking does not count

        var lengths = new List<TimeSpan>();
        for (var probe = 0; probe < 4; probe++)
        {
            SpinUntil(() => pauses.PausedNow().Length == 0); // the pause ends: the next claim is the probe
            lengths.Add(pauses.Pause("c", "still down", min, max));
        }

        Assert.Equal(5, pauses.FailedProbes("c"));
        Assert.All(lengths, l => Assert.True(l <= max * 1.25, $"a pause of {l} is above the maximum"));
        pauses.Resume("c");
        Assert.Empty(pauses.PausedNow());
        Assert.Equal(0, pauses.FailedProbes("c"));
    }

    [Fact]
    public void A_second_processor_pausing_during_a_pause_does_not_lengthen_it()
    {
        var pauses = new ConsumerPauses();
        pauses.Pause("c", "down", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5));
        pauses.Pause("c", "down", TimeSpan.FromMinutes(1), TimeSpan.FromMinutes(5));
        Assert.Equal(1, pauses.FailedProbes("c"));
    }

    private static void SpinUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the pause did not end");
            Thread.Yield();
        }
    }
}
