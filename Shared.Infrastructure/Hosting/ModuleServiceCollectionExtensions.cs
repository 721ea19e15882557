using FluentValidation;
using Mediator;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OmsModular.Shared.Infrastructure.Mediation;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Shared.Infrastructure.Hosting;

public static class ModuleServiceCollectionExtensions
{
    public const string ConnectionStringName = "Oms";
    public const string ModulesKey = "Oms:Modules";

    /// <summary>
    /// Registers the backbone and every hosted module: DbContexts (each on its own connection
    /// string when <c>ConnectionStrings:&lt;Module&gt;</c> is set), consumers, module API handlers,
    /// validators, dispatchers and inbox processors.
    /// </summary>
    public static ModuleRegistry AddOmsModules(this IServiceCollection services, IConfiguration configuration, IReadOnlyList<IModule> modules)
    {
        var hosted = (configuration[ModulesKey] ?? "all").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var registry = new ModuleRegistry(modules, hosted);
        var sharedConnection = configuration.GetConnectionString(ConnectionStringName)
            ?? throw new InvalidOperationException($"ConnectionStrings:{ConnectionStringName} is not set.");

        services.AddSingleton(registry);
        services.AddOptions<MessagingOptions>().Bind(configuration.GetSection(MessagingOptions.Section));
        services.TryAddSingleton<MessagingSignals>();
        services.TryAddSingleton<InboxWriter>();
        services.TryAddSingleton<IMessageTransport, InProcessTransport>();
        services.TryAddSingleton<MessagingAdmin>();
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<Jobs.DueWindows>();
        services.TryAddSingleton<MessagingWorkerFactory>();
        services.TryAddTransient<MessagingRetentionJob>();
        services.TryAddSingleton<IModuleClient, InProcessModuleClient>();

        // Pipeline order: logging -> validation -> transaction -> handler. Validators are built once
        // (singletons): their rule trees are costly to build per request; they take only singletons.
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(LoggingBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(ValidationBehaviour<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(TransactionBehaviour<,>));
        services.AddValidatorsFromAssembly(typeof(ModuleServiceCollectionExtensions).Assembly, ServiceLifetime.Singleton, includeInternalTypes: true);

        var databases = new List<ModuleDatabase>();
        foreach (var module in modules.Where(m => registry.IsHosted(m.Manifest)))
        {
            var manifest = module.Manifest;
            var database = new ModuleDatabase(manifest.Name, manifest.Schema, configuration.GetConnectionString(manifest.Name) ?? sharedConnection);
            databases.Add(database);
            manifest.RegisterDbContext(services, database);
            foreach (var consumer in manifest.Consumes)
            {
                services.TryAddScoped(consumer.ConsumerType);
            }

            foreach (var handler in manifest.Handles)
            {
                services.TryAddScoped(handler.HandlerType);
            }

            services.AddValidatorsFromAssembly(module.GetType().Assembly, ServiceLifetime.Singleton, includeInternalTypes: true);
            module.AddServices(services, configuration);
            services.AddSingleton(sp => sp.GetRequiredService<MessagingWorkerFactory>().CreateDispatcher(manifest));
            var processors = configuration.GetValue<int?>($"{MessagingOptions.Section}:Processors:{manifest.Name}")
                              ?? configuration.GetValue($"{MessagingOptions.Section}:{nameof(MessagingOptions.ProcessorsPerModule)}", new MessagingOptions().ProcessorsPerModule);
            if (manifest.Consumes.Count > 0)
            {
                for (var i = 0; i < Math.Max(1, processors); i++)
                {
                    services.AddSingleton(sp => sp.GetRequiredService<MessagingWorkerFactory>().CreateProcessor(manifest));
                }
            }
        }

        services.AddSingleton(new ModuleDatabases(databases));
        // LISTEN needs no rights on any table: on a hosted module's connection (its own role, where provisioned).
        var listening = databases.FirstOrDefault()?.ConnectionString ?? configuration.GetConnectionString(ModuleRoles.Access.Name) ?? sharedConnection;
        services.AddSingleton(sp => new NotificationListener(listening, sp.GetRequiredService<MessagingSignals>(), sp.GetRequiredService<ILogger<NotificationListener>>()));
        services.AddSingleton<IHostedService>(sp => new MessagingWorkers(sp));
        return registry;
    }
}

/// <summary>Starts the dispatchers, inbox processors and listener (unless <c>Oms:Messaging:RunWorkers</c> is false).</summary>
internal sealed class MessagingWorkers(IServiceProvider services) : IHostedService
{
    private IReadOnlyList<BackgroundService> _running = [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!services.GetRequiredService<IOptions<MessagingOptions>>().Value.RunWorkers)
        {
            return;
        }

        _running = [
            .. services.GetServices<OutboxDispatcher>(),
            .. services.GetServices<InboxProcessor>(),
            services.GetRequiredService<NotificationListener>(),
        ];
        foreach (var worker in _running)
        {
            await worker.StartAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken) =>
        await Task.WhenAll(_running.Select(w => w.StopAsync(cancellationToken))).ConfigureAwait(false);
}
