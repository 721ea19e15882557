using Npgsql;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Tests.Messaging;

/// <summary>How the inbox processor tells an outage from a poison message, through the real backbone.</summary>
public sealed class OutageTests
{
    private static SomethingHappened[] Events(string key, int count) =>
        Enumerable.Range(0, count).Select(i => new SomethingHappened(Guid.CreateVersion7(), $"{key}-{i}", i)).ToArray();

    private static Action<IDictionary<string, string?>> Pauses(int probes = 20) => s =>
    {
        s["Oms:Messaging:OutagePause"] = "00:00:00.050";
        s["Oms:Messaging:MaxOutagePause"] = "00:00:00.200";
        s["Oms:Messaging:OutageProbes"] = probes.ToString(System.Globalization.CultureInfo.InvariantCulture);
    };

    [Fact]
    public async Task A_certain_outage_spends_no_attempts_however_long_and_everything_arrives_once_it_ends()
    {
        await using var harness = await MessagingHarness.CreateAsync(settings: Pauses(probes: 2));
        var down = true;
        harness.Behaviour.Fail = (consumer, _, _) => down && consumer.Contains("_c.", StringComparison.Ordinal);
        harness.Behaviour.FailWith = d => new PostgresException(d, "FATAL", "FATAL", PostgresErrorCodes.CannotConnectNow);
        await harness.StartWorkersAsync();
        var messages = Events("down", 10);
        await harness.PublishAsync(messages);

        // Many probes, far past MaxAttempts (3) and past the probe cap (2): still no dead letter, nothing lost.
        await MessagingHarness.WaitUntilAsync(async () => harness.Behaviour.Invocations >= 30 && (await harness.EffectsAsync(harness.B)).Count == 10);
        var backlog = (await harness.Admin.GetBacklogAsync(CancellationToken.None)).Single(b => b.Module == harness.C.Name);
        Assert.Equal(0, backlog.DeadLetters);
        Assert.Equal(10, backlog.InboxPending);
        Assert.Single(backlog.PausedConsumers);

        down = false;
        await MessagingHarness.WaitUntilAsync(async () => (await harness.EffectsAsync(harness.C)).Count == 10);
        await harness.SettleAsync();
        Assert.Empty((await harness.Admin.GetBacklogAsync(CancellationToken.None)).Single(b => b.Module == harness.C.Name).PausedConsumers);
    }

    [Fact]
    public async Task A_possible_outage_of_one_message_while_its_neighbours_in_the_batch_succeed_spends_an_attempt()
    {
        await using var harness = await MessagingHarness.CreateAsync(settings: Pauses(probes: 100_000)); // the probe cap does not end it here
        harness.Behaviour.Fail = (consumer, message, _) => consumer.Contains("_c.", StringComparison.Ordinal) && message.Sequence == 0;
        harness.Behaviour.FailWith = d => new TimeoutException(d);
        var messages = Events("one-slow", 10);
        await harness.PublishAsync(messages); // published before the workers start: the ten arrive in one batch
        await harness.StartWorkersAsync();

        await MessagingHarness.WaitUntilAsync(async () => (await harness.EffectsAsync(harness.C)).Count == 9);
        var attempts = await AttemptsAsync(harness, messages[0].Id);
        Assert.True(attempts >= 1, "the failure next to nine successes is the message's own: it spends an attempt");
    }

    private static async Task<int> AttemptsAsync(MessagingHarness harness, Guid messageId)
    {
        await using var connection = new NpgsqlConnection(await Infrastructure.TestDatabase.GetConnectionStringAsync());
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT attempts FROM \"{harness.C.Schema}\".inbox_messages WHERE payload->>'id' = $1::text", connection)
        {
            Parameters = { new NpgsqlParameter<string> { TypedValue = messageId.ToString() } },
        };
        return (int)(await command.ExecuteScalarAsync())!;
    }

    [Fact]
    public async Task A_lone_message_that_only_looks_like_an_outage_ends_as_a_dead_letter_after_the_probe_cap()
    {
        await using var harness = await MessagingHarness.CreateAsync(settings: Pauses(probes: 3));
        harness.Behaviour.Fail = (consumer, _, _) => consumer.Contains("_c.", StringComparison.Ordinal);
        harness.Behaviour.FailWith = d => new DependencyUnavailableException(d);
        await harness.StartWorkersAsync();
        await harness.PublishAsync(Events("lone", 1));

        await MessagingHarness.WaitUntilAsync(async () => (await harness.Admin.GetBacklogAsync(CancellationToken.None)).Single(b => b.Module == harness.C.Name).DeadLetters == 1);
        Assert.True(harness.Behaviour.Invocations > 3, $"{harness.Behaviour.Invocations} calls: the probes should come before the attempts");
    }
}
