using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Modules.Payments.Consumers;
using OmsModular.Modules.Payments.Features;
using OmsModular.Modules.Payments.Persistence;
using OmsModular.Modules.Payments.Providers;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.Jobs;
using OmsModular.Shared.Infrastructure.Modules;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace OmsModular.Modules.Payments;

/// <summary>The Payments module's registration entry point: its only public type.</summary>
public sealed class PaymentsModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Payments", "payments")
        .UseDbContext<PaymentsDbContext>()
        .Publishes<PaymentAuthorized>()
        .Publishes<PaymentDeclined>()
        .Publishes<PaymentVoided>()
        .Publishes<PaymentCaptured>()
        .Publishes<PaymentRefunded>()
        .Publishes<PaymentReauthorized>()
        .Publishes<PaymentReauthorizationFailed>()
        .Sends<GetOrderLines>()
        .Handles<AuthorizePayment, PaymentAuthorization, PaymentApi>()
        .Handles<AuthorizePaymentBatch, IReadOnlyList<PaymentAuthorization>, PaymentApi>()
        .Handles<GetPaymentTokenKey, PaymentTokenKey, PaymentTokenKeyApi>()
        .Handles<GetPaymentMethods, PaymentMethods, PaymentMethodsApi>()
        .Handles<GetPaymentHold, PaymentHoldState, PaymentHoldApi>()
        .Handles<IncreaseAuthorization, PaymentAuthorization, IncreaseAuthorizationApi>()
        .ConsumesInBatches<OrderChanged, ReduceOnLinesCancelled>("payments.FollowOrderChange")
        .ConsumesInBatches<OrderChangeRefused, ReduceOnLinesCancelled>("payments.RevertRefusedChange")
        .ConsumesInBatches<OrderCancelled, VoidEndedOrders>("payments.VoidEndedOrdersOnCancel")
        .ConsumesInBatches<OrderRejected, VoidEndedOrders>("payments.VoidEndedOrdersOnReject")
        .ConsumesInBatches<CaptureRequested, CaptureOnRequest>()
        .ConsumesInBatches<OrderLinesCancelled, ReduceOnLinesCancelled>()
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<AuthorizationExpiry>();
        services.AddSingleton<SandboxPaymentProvider>();
        services.AddScoped<ReauthorizationJob>();
        services.AddScoped<ReauthorizationRunner>();
        services.AddRecurringJob<ReauthorizationJob>(ReauthorizationJob.JobId, job => job.RunAsync(CancellationToken.None), Hangfire.Cron.Hourly());
        services.AddSingleton<PaymentTokens>();
        services.AddScoped<RetryVoidsJob>();
        services.AddRecurringJob<RetryVoidsJob>(RetryVoidsJob.JobId, job => job.RunAsync(CancellationToken.None), Hangfire.Cron.Minutely());
        services.AddSingleton<IPaymentProvider>(sp => sp.GetRequiredService<SandboxPaymentProvider>());
        var retryDelay = configuration.GetValue("Oms:Payments:RetryDelay", TimeSpan.FromMilliseconds(200));
        services.AddResiliencePipeline(PaymentsResilience.Provider, pipeline => pipeline
            .AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<ProviderUnavailableException>().Handle<TimeoutException>().Handle<Polly.Timeout.TimeoutRejectedException>(),
                MaxRetryAttempts = 3,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = retryDelay,
            })
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<ProviderUnavailableException>().Handle<TimeoutException>().Handle<Polly.Timeout.TimeoutRejectedException>(),
                FailureRatio = 0.5,
                MinimumThroughput = configuration.GetValue("Oms:Payments:CircuitBreaker:MinimumThroughput", 20),
                SamplingDuration = TimeSpan.FromSeconds(30),
                BreakDuration = TimeSpan.FromSeconds(15),
            })
            .AddTimeout(TimeSpan.FromSeconds(10)));
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints) => PaymentEndpoints.Map(endpoints);
}
