using System.Linq.Expressions;
using Hangfire;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace OmsModular.Shared.Infrastructure.Jobs;

public static class RecurringJobs
{
    /// <summary>Registers (or updates) a recurring Hangfire job when the Host starts.</summary>
    public static IServiceCollection AddRecurringJob<TJob>(this IServiceCollection services, string id, Expression<Func<TJob, Task>> call, string cron) =>
        services.AddSingleton<IHostedService>(sp => new Registration<TJob>(sp.GetRequiredService<IRecurringJobManager>(), id, call, cron));

    private sealed class Registration<TJob>(IRecurringJobManager jobs, string id, Expression<Func<TJob, Task>> call, string cron) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            jobs.AddOrUpdate(id, call, cron);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>
/// A Hangfire queue per module: a job of a module's type is enqueued on the queue named after the
/// module's schema, and a process's server takes only the queues of the modules it hosts (plus
/// <c>default</c> for the Host's own jobs). So no process runs a job of a module it does not host.
/// </summary>
public sealed class ModuleJobQueues(IReadOnlyDictionary<System.Reflection.Assembly, string> queueByAssembly) : Hangfire.Common.JobFilterAttribute, Hangfire.States.IElectStateFilter
{
    public const string DefaultQueue = "default";

    public string QueueOf(Type jobType) => queueByAssembly.TryGetValue(jobType.Assembly, out var queue) ? queue : DefaultQueue;

    public void OnStateElection(Hangfire.States.ElectStateContext context)
    {
        // A job that names its queue keeps it (the Host's per-module jobs); the others go to their module's.
        if (context.CandidateState is Hangfire.States.EnqueuedState enqueued && context.BackgroundJob?.Job is { Queue: null, Type: { } type })
        {
            enqueued.Queue = QueueOf(type);
        }
    }
}
