namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>Settings of the messaging backbone (section <c>Oms:Messaging</c>).</summary>
public sealed class MessagingOptions
{
    public const string Section = "Oms:Messaging";

    /// <summary>Run the outbox dispatchers and inbox processors in this process.</summary>
    public bool RunWorkers { get; set; } = true;

    /// <summary>Rows claimed per round trip by a dispatcher or inbox processor.</summary>
    public int BatchSize { get; set; } = 500;

    /// <summary>
    /// Deliveries an inbox processor claims per transaction (a cap: a batch is what is pending).
    /// Batch consumers pay their fixed costs (a load, module API calls, commits) once per batch, so
    /// under a backlog bigger batches let a processor catch up: at 375 orders/s on two cores, 100
    /// left the Orders inbox thousands behind, 250 kept it within a few hundred.
    /// </summary>
    public int InboxBatchSize { get; set; } = 250;

    /// <summary>
    /// Inbox processors per hosted module in this process (they share the work through SKIP LOCKED).
    /// More than one lets two consumers of one module handle the same order at once; where they
    /// update one aggregate, the optimistic-concurrency loser is retried with backoff.
    /// <c>Oms:Messaging:Processors:&lt;Module&gt;</c> sets it for one module.
    /// </summary>
    public int ProcessorsPerModule { get; set; } = 1;

    /// <summary>Fallback poll when no wake-up arrives (wake-ups are the normal path).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>A worker whose last heartbeat is older than this shows as stalled in readiness (degraded, not down).</summary>
    public TimeSpan WorkerStallAfter { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Attempts per delivery before it becomes a dead letter.</summary>
    public int MaxAttempts { get; set; } = 8;

    /// <summary>First retry delay; doubled per attempt, with jitter, up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan BaseRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// The first pause of a consumer whose deliveries fail because something it depends on is down
    /// (its database, a module API, a time-out); each failed probe doubles it up to
    /// <see cref="MaxOutagePause"/>. Such failures spend no attempts.
    /// </summary>
    public TimeSpan OutagePause { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxOutagePause { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Failed probes in a row after which failures that only may be an outage (time-outs) spend
    /// attempts again (about eight minutes at the default pauses): a message that only looks like an
    /// outage still ends as a dead letter. Certain outages (the database unreachable, a dependency
    /// that says it is unavailable) never spend attempts.
    /// </summary>
    public int OutageProbes { get; set; } = 20;

    /// <summary>How long dispatched outbox rows and processed inbox rows are kept (also the de-duplication window).</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Cron of the recurring retention job.</summary>
    public string RetentionCron { get; set; } = "17 * * * *";

    /// <summary>Exponential backoff with jitter: attempt 1 waits about the base delay.</summary>
    public TimeSpan RetryDelay(int attempt)
    {
        var exponent = Math.Min(Math.Max(attempt - 1, 0), 30);
        var capped = Math.Min(BaseRetryDelay.TotalMilliseconds * Math.Pow(2, exponent), MaxRetryDelay.TotalMilliseconds);
        var jittered = capped * (0.5 + (Random.Shared.NextDouble() * 0.5)); // "equal jitter": half fixed, half random
        return TimeSpan.FromMilliseconds(jittered);
    }
}
