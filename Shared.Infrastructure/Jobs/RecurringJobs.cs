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
