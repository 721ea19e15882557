using System.Diagnostics;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Tests.Infrastructure;

namespace OmsModular.Tests.Messaging;

/// <summary>The outbox → dispatcher → transport → inbox → consumer path against real PostgreSQL.</summary>
public sealed class BackboneTests
{
    private static SomethingHappened[] Events(string key, int count) =>
        Enumerable.Range(0, count).Select(i => new SomethingHappened(Guid.CreateVersion7(), key, i)).ToArray();

    [Fact]
    public async Task An_event_reaches_every_consumer_once_and_a_follow_up_hop_carries_the_trace()
    {
        using var listener = TraceListener.Start();
        await using var harness = await MessagingHarness.CreateAsync();
        harness.Behaviour.PublishFollowUp = true;
        await harness.StartWorkersAsync();

        using var activity = new ActivitySource("OmsModular.Tests").StartActivity("place something");
        Assert.NotNull(activity);
        SomethingHappened message;
        using (MessagingAmbient.Begin(new MessagingAmbient("corr-42", "request-7")))
        {
            message = Events("k1", 1)[0];
            await harness.PublishAsync(message);
        }

        await MessagingHarness.WaitUntilAsync(async () => (await harness.EffectsAsync(harness.A)).Count == 1);
        await harness.SettleAsync();

        var inB = Assert.Single(await harness.EffectsAsync(harness.B));
        var inC = Assert.Single(await harness.EffectsAsync(harness.C));
        var followUp = Assert.Single(await harness.EffectsAsync(harness.A));
        Assert.Equal(message.Id, inB.EventId);
        Assert.Equal(message.Id, inC.EventId);
        Assert.Equal(inB.MessageId, inC.MessageId); // one message, two deliveries
        Assert.Equal(message.Id, followUp.EventId);

        // one trace spans publish → B → follow-up → A; correlation travels, causation chains
        var traceId = activity.TraceId.ToString();
        Assert.Equal(traceId, inB.TraceId);
        Assert.Equal(traceId, inC.TraceId);
        Assert.Equal(traceId, followUp.TraceId);
        Assert.Equal("corr-42", inB.CorrelationId);
        Assert.Equal("corr-42", followUp.CorrelationId);
        Assert.Equal("request-7", inB.CausationId);
        Assert.Equal(inB.MessageId.ToString(), followUp.CausationId);
    }

    [Fact]
    public async Task A_batch_consumer_gets_a_batch_in_one_call_and_a_failing_message_is_retried_alone()
    {
        await using var harness = await MessagingHarness.CreateAsync(batchConsumerInC: true);
        var failed = 0;
        harness.Behaviour.Fail = (consumer, message, attempt) =>
            consumer.Contains("_c.", StringComparison.Ordinal) && message.Sequence == 7 && attempt == 1 && Interlocked.Increment(ref failed) > 0;
        var messages = Events("batched", 40).Select((m, i) => m with { Key = $"batched-{i % 20}" }).ToArray();
        using (MessagingAmbient.Begin(new MessagingAmbient("corr-batch", "request-9")))
        {
            await harness.PublishAsync(messages); // before the workers start: the deliveries pile up into one claim
        }

        await harness.StartWorkersAsync();
        await MessagingHarness.WaitUntilAsync(async () => (await harness.EffectsAsync(harness.C)).Count == 40);
        await harness.SettleAsync();

        var effects = await harness.EffectsAsync(harness.C);
        Assert.True(harness.Behaviour.LargestBatch > 1, $"largest batch {harness.Behaviour.LargestBatch}");
        Assert.Equal(2, failed); // message 7 failed its batch (rolled back), then alone (recorded; the others of the batch went through) ...
        Assert.Equal(messages.Select(m => m.Id).Order(), effects.Select(e => e.EventId).Order()); // ... and every message took effect exactly once
        foreach (var partition in effects.GroupBy(e => e.Key))
        {
            Assert.Equal(partition.Select(e => e.Sequence).Order(), partition.Select(e => e.Sequence)); // per partition in order
        }

        Assert.All(effects, e => Assert.Equal("corr-batch", e.CorrelationId));
        Assert.All(effects, e => Assert.Equal(e.MessageId.ToString(), e.CausationId)); // each message is the cause of what it does
        Assert.Empty(await harness.Admin.ListDeadLettersAsync(null, null, 100, CancellationToken.None));
    }

    [Fact]
    public async Task A_module_that_partitions_across_consumers_never_handles_one_partition_twice_at_once_with_two_processors()
    {
        var prefix = "t" + Guid.NewGuid().ToString("N")[..10];
        await using var harness = await MessagingHarness.CreateAsync(prefix, secondConsumerInB: true, settings: s => s["Oms:Messaging:InboxBatchSize"] = "1"); // one delivery per claim, so both processors are busy at once
        harness.Behaviour.HoldFor = TimeSpan.FromMilliseconds(15);
        var messages = Events("across", 40).Select((m, i) => m with { Key = $"across-{i % 4}", Sequence = i / 4 }).ToArray();
        await harness.PublishAsync(messages);
        await harness.StartWorkersAsync(processorsPerModule: 2);

        await MessagingHarness.WaitUntilAsync(async () => (await harness.EffectsAsync(harness.B)).Count == 80, TimeSpan.FromSeconds(60));
        await harness.SettleAsync();

        var effects = await harness.EffectsAsync(harness.B);
        Assert.Equal(0, harness.Behaviour.Overlaps); // both consumers, two processors: one delivery of a partition at a time
        foreach (var consumer in effects.GroupBy(e => e.Consumer))
        {
            Assert.Equal(40, consumer.Count());
            foreach (var partition in consumer.GroupBy(e => e.Key))
            {
                Assert.Equal(partition.Select(e => e.Sequence).Order(), partition.Select(e => e.Sequence));
            }
        }
    }

    [Fact]
    public async Task A_commit_in_another_instance_wakes_this_instances_workers_through_listen_notify()
    {
        var prefix = "t" + Guid.NewGuid().ToString("N")[..10];
        // The fallback poll is far longer than the test: only LISTEN/NOTIFY can wake the workers.
        await using var workers = await MessagingHarness.CreateAsync(prefix, settings: s => s["Oms:Messaging:PollInterval"] = "00:10:00");
        await using var publisher = await MessagingHarness.CreateAsync(prefix, createTables: false);
        await workers.StartHostedWorkersAsync();
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            // the LISTEN connection may need a moment; publish until the first event is through
            await publisher.PublishAsync(Events("notify", 1));
            return (await workers.EffectsAsync(workers.B)).Count > 0;
        });

        var message = Events("notify-2", 1)[0];
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await publisher.PublishAsync(message);
        await MessagingHarness.WaitUntilAsync(async () => (await workers.EffectsAsync(workers.C)).Any(e => e.EventId == message.Id), TimeSpan.FromSeconds(20));
        Assert.True(System.Diagnostics.Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_redelivered_message_has_exactly_one_effect()
    {
        await using var harness = await MessagingHarness.CreateAsync();
        var messages = Events("redelivery", 5);
        await harness.PublishAsync(messages);
        var dispatcher = harness.NewDispatcher(harness.A);
        Assert.Equal(5, await dispatcher.DispatchPendingAsync(CancellationToken.None));

        // A crash after the transport delivered and before the outbox was marked: the rows come
        // back and are delivered again (at least once)...
        await using (var connection = new NpgsqlConnection(await TestDatabase.GetConnectionStringAsync()))
        {
            await connection.OpenAsync();
            await using var reset = new NpgsqlCommand($"UPDATE \"{harness.A.Schema}\".outbox_messages SET dispatched_at = NULL", connection);
            Assert.Equal(5, await reset.ExecuteNonQueryAsync());
        }

        Assert.Equal(5, await dispatcher.DispatchPendingAsync(CancellationToken.None));
        Assert.All(harness.Transport.Sends.Values, n => Assert.Equal(2, n));

        // ...and processed once, even when the processor runs again.
        var processor = harness.NewProcessor(harness.B);
        Assert.Equal(5, await processor.ProcessPendingAsync(CancellationToken.None));
        Assert.Equal(0, await processor.ProcessPendingAsync(CancellationToken.None));
        var effects = await harness.EffectsAsync(harness.B);
        Assert.Equal(messages.Select(m => m.Id).Order(), effects.Select(e => e.EventId).Order());
    }

    [Fact]
    public async Task A_crash_after_commit_and_before_dispatch_still_delivers()
    {
        var prefix = "t" + Guid.NewGuid().ToString("N")[..10];
        var messages = Events("crash", 3);
        await using (var crashed = await MessagingHarness.CreateAsync(prefix))
        {
            await crashed.PublishAsync(messages); // committed; no dispatcher ran before the "crash"
            Assert.Empty(crashed.Transport.Sends);
        }

        await using var restarted = await MessagingHarness.CreateAsync(prefix, createTables: false);
        await restarted.StartWorkersAsync();
        await MessagingHarness.WaitUntilAsync(async () => (await restarted.EffectsAsync(restarted.C)).Count == 3);
        await restarted.SettleAsync();
        Assert.Equal(messages.Select(m => m.Id), (await restarted.EffectsAsync(restarted.B)).Select(e => e.EventId));
    }

    [Fact]
    public async Task A_failing_consumer_does_not_block_another_consumer_of_the_same_message()
    {
        await using var harness = await MessagingHarness.CreateAsync(settings: s => s["Oms:Messaging:MaxAttempts"] = "1000");
        harness.Behaviour.Fail = (consumer, _, _) => consumer.EndsWith("_c.RecordingConsumer`1", StringComparison.Ordinal);
        await harness.StartWorkersAsync();
        var messages = Events("blocked", 20);
        await harness.PublishAsync(messages);

        await MessagingHarness.WaitUntilAsync(async () => (await harness.EffectsAsync(harness.B)).Count == 20);
        Assert.Equal(messages.Select(m => m.Id), (await harness.EffectsAsync(harness.B)).Select(e => e.EventId));
        Assert.Empty(await harness.EffectsAsync(harness.C));
        var backlog = await harness.Admin.GetBacklogAsync(CancellationToken.None);
        Assert.Equal(20, backlog.Single(b => b.Module == harness.C.Name).InboxPending);
    }

    [Fact]
    public async Task A_delivery_becomes_a_dead_letter_after_the_last_attempt_and_replays()
    {
        await using var harness = await MessagingHarness.CreateAsync();
        var healed = false;
        harness.Behaviour.Fail = (consumer, message, _) => !healed && consumer.Contains("_c.", StringComparison.Ordinal) && message.Sequence % 2 == 0;
        await harness.StartWorkersAsync();
        var messages = Events("dead", 6).Select((m, i) => m with { Key = $"dead-{i}" }).ToArray();
        await harness.PublishAsync(messages);
        await harness.SettleAsync();

        var dead = await harness.Admin.ListDeadLettersAsync(harness.C.Name, consumer: null, limit: 100, CancellationToken.None);
        Assert.Equal(3, dead.Count);
        Assert.All(dead, d =>
        {
            Assert.Equal(3, d.Attempts); // MaxAttempts
            Assert.Contains("fails", d.LastError, StringComparison.Ordinal);
            Assert.Equal("test.something-happened.v1", d.MessageType);
        });
        Assert.Equal(3, (await harness.EffectsAsync(harness.C)).Count);
        Assert.Equal(6, (await harness.EffectsAsync(harness.B)).Count);

        healed = true;
        Assert.Equal(1, await harness.Admin.ReplayAsync(harness.C.Name, dead[0].Id, consumer: null, CancellationToken.None));
        await MessagingHarness.WaitUntilAsync(async () => (await harness.EffectsAsync(harness.C)).Count == 4);
        Assert.Equal(2, await harness.Admin.ReplayAsync(module: null, id: null, consumer: null, CancellationToken.None));
        await MessagingHarness.WaitUntilAsync(async () => (await harness.EffectsAsync(harness.C)).Count == 6);
        await harness.SettleAsync();
        Assert.Empty(await harness.Admin.ListDeadLettersAsync(null, null, 100, CancellationToken.None));
        Assert.Equal(messages.Select(m => m.Id).Order(), (await harness.EffectsAsync(harness.C)).Select(e => e.EventId).Order());
    }

    [Fact]
    public async Task Messages_of_one_partition_reach_each_consumer_in_commit_order_with_two_dispatchers()
    {
        await using var harness = await MessagingHarness.CreateAsync(settings: s => s["Oms:Messaging:BatchSize"] = "7");
        // A few transient failures in C shake the order up unless the partition guard holds.
        harness.Behaviour.Fail = (consumer, message, attempt) => consumer.Contains("_c.", StringComparison.Ordinal) && message.Sequence % 5 == 3 && attempt == 1;
        const int partitions = 12;
        const int perPartition = 25;

        // Publish concurrently across partitions, in order within each partition.
        var publishing = Enumerable.Range(0, partitions).Select(p => Task.Run(async () =>
        {
            foreach (var message in Events($"p{p}", perPartition))
            {
                await harness.PublishAsync(message);
            }
        })).ToArray();
        await harness.StartWorkersAsync(dispatchersPerModule: 2, processorsPerModule: 2);
        await Task.WhenAll(publishing);
        await MessagingHarness.WaitUntilAsync(async () => (await harness.EffectsAsync(harness.C)).Count == partitions * perPartition, TimeSpan.FromSeconds(60));
        await harness.SettleAsync();

        foreach (var module in new[] { harness.B, harness.C })
        {
            var effects = await harness.EffectsAsync(module);
            Assert.Equal(partitions * perPartition, effects.Count);
            foreach (var partition in effects.GroupBy(e => e.Key))
            {
                Assert.Equal(Enumerable.Range(0, perPartition), partition.Select(e => e.Sequence));
            }
        }
    }

    [Fact]
    public async Task Events_published_in_one_transaction_keep_their_publish_order()
    {
        await using var harness = await MessagingHarness.CreateAsync();
        var messages = Events("one-transaction", 200);
        await using (var scope = harness.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TestDbContext<TagA>>();
            foreach (var message in messages)
            {
                db.Publish(message, message.Key);
            }

            await db.SaveChangesAsync();
        }

        await harness.StartWorkersAsync();
        await MessagingHarness.WaitUntilAsync(async () => (await harness.EffectsAsync(harness.B)).Count == messages.Length);
        Assert.Equal(Enumerable.Range(0, messages.Length), (await harness.EffectsAsync(harness.B)).Select(e => e.Sequence));
    }

    [Fact]
    public void Outbox_ids_increase_strictly_in_creation_order()
    {
        var ids = Enumerable.Range(0, 10_000).Select(_ => MonotonicUuid.Next()).ToArray();
        Assert.Equal(ids, ids.Order());
        Assert.Equal(ids.Length, ids.Distinct().Count());
        Assert.All(ids, id => Assert.Equal(7, id.Version));
    }

    [Fact]
    public async Task Two_dispatchers_claiming_concurrently_never_dispatch_a_message_twice()
    {
        await using var harness = await MessagingHarness.CreateAsync(settings: s => s["Oms:Messaging:BatchSize"] = "50");
        var messages = Enumerable.Range(0, 40).SelectMany(p => Events($"d{p}", 25)).ToArray();
        await using (var scope = harness.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TestDbContext<TagA>>();
            foreach (var message in messages)
            {
                db.Publish(message, message.Key);
            }

            await db.SaveChangesAsync();
        }

        harness.Transport.Latency = TimeSpan.FromMilliseconds(20); // both dispatchers hold claims at once
        var first = harness.NewDispatcher(harness.A);
        var second = harness.NewDispatcher(harness.A);
        var dispatched = await Task.WhenAll(
            Task.Run(() => DrainAsync(first)),
            Task.Run(() => DrainAsync(second)));

        Assert.Equal(messages.Length, dispatched.Sum());
        Assert.True(dispatched.All(n => n > 0), $"both dispatchers should have worked: {string.Join(", ", dispatched)}");
        Assert.Equal(messages.Length, harness.Transport.Sends.Count);
        Assert.All(harness.Transport.Sends.Values, n => Assert.Equal(1, n));

        static async Task<int> DrainAsync(OutboxDispatcher dispatcher)
        {
            var total = 0;
            for (var idle = 0; idle < 3;)
            {
                var n = await dispatcher.DispatchPendingAsync(CancellationToken.None);
                total += n;
                idle = n == 0 ? idle + 1 : 0;
            }

            return total;
        }
    }

    [Fact]
    public async Task A_transport_failure_keeps_the_messages_for_a_later_attempt()
    {
        await using var harness = await MessagingHarness.CreateAsync();
        var messages = Events("transport", 4);
        await harness.PublishAsync(messages);
        harness.Transport.Refuse = _ => true;
        var dispatcher = harness.NewDispatcher(harness.A);
        Assert.Equal(0, await dispatcher.DispatchPendingAsync(CancellationToken.None));

        harness.Transport.Refuse = _ => false;
        await MessagingHarness.WaitUntilAsync(async () => await dispatcher.DispatchPendingAsync(CancellationToken.None) == 4);
        Assert.Equal(4, await harness.NewProcessor(harness.B).ProcessPendingAsync(CancellationToken.None));
        Assert.Equal(4, (await harness.EffectsAsync(harness.B)).Count);
    }

    [Fact]
    public async Task Retention_removes_processed_rows_and_keeps_pending_and_dead_ones()
    {
        await using var harness = await MessagingHarness.CreateAsync(settings: s => s["Oms:Messaging:MaxAttempts"] = "1");
        harness.Behaviour.Fail = (consumer, message, _) => consumer.Contains("_c.", StringComparison.Ordinal) && message.Sequence == 0;
        await harness.StartWorkersAsync();
        await harness.PublishAsync(Events("retention", 3));
        await MessagingHarness.WaitUntilAsync(async () => (await harness.EffectsAsync(harness.C)).Count == 2);
        await harness.SettleAsync();

        var removed = await harness.Admin.PurgeProcessedAsync(TimeSpan.Zero, CancellationToken.None);
        Assert.Equal(3 + 3 + 2, removed); // A's outbox, B's inbox, C's processed inbox rows
        var backlog = await harness.Admin.GetBacklogAsync(CancellationToken.None);
        Assert.Equal(1, backlog.Single(b => b.Module == harness.C.Name).DeadLetters);
    }

    [Fact]
    public async Task A_module_api_request_runs_in_the_owning_module()
    {
        await using var harness = await MessagingHarness.CreateAsync();
        var client = harness.Services.GetRequiredService<IModuleClient>();
        var answer = await client.SendAsync(new AskQuestion("where is my order?"));
        Assert.Equal(new Answer("WHERE IS MY ORDER?", harness.B.Schema), answer);
    }

    [Fact]
    public async Task Publishing_and_state_change_commit_or_roll_back_together()
    {
        await using var harness = await MessagingHarness.CreateAsync();
        await using (var scope = harness.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<TestDbContext<TagA>>();
            await using var transaction = await db.Database.BeginTransactionAsync();
            db.Effects.Add(new Effect { Consumer = "test", Key = "rolled-back" });
            db.Publish(Events("rolled-back", 1)[0]);
            await db.SaveChangesAsync();
            await transaction.RollbackAsync();
        }

        var backlog = await harness.Admin.GetBacklogAsync(CancellationToken.None);
        Assert.Equal(0, backlog.Single(b => b.Module == harness.A.Name).OutboxPending);
        Assert.Empty(await harness.EffectsAsync(harness.A));
    }
}

/// <summary>Samples every activity so that spans (and trace ids) exist in the test.</summary>
internal sealed class TraceListener : IDisposable
{
    private readonly ActivityListener _listener;

    private TraceListener()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is MessagingTelemetry.Name or "OmsModular.Tests",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public static TraceListener Start() => new();

    public void Dispose() => _listener.Dispose();
}
