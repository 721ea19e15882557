using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Shared.Infrastructure.Messaging;

/// <summary>Creates the dispatcher and the inbox processor of a hosted module (the Host makes one of each).</summary>
public sealed class MessagingWorkerFactory(IServiceProvider services)
{
    public OutboxDispatcher CreateDispatcher(ModuleManifest module) => new(
        module,
        services.GetRequiredService<ModuleDatabases>().For(module.Name),
        services.GetRequiredService<IMessageTransport>(),
        services.GetRequiredService<MessagingSignals>(),
        services.GetRequiredService<IOptions<MessagingOptions>>(),
        services.GetRequiredService<ILogger<OutboxDispatcher>>());

    public InboxProcessor CreateProcessor(ModuleManifest module) => new(
        module,
        services.GetRequiredService<ModuleDatabases>().For(module.Name),
        services.GetRequiredService<ModuleRegistry>(),
        services.GetRequiredService<IServiceScopeFactory>(),
        services.GetRequiredService<MessagingSignals>(),
        services.GetRequiredService<IOptions<MessagingOptions>>(),
        services.GetRequiredService<ILogger<InboxProcessor>>());
}
