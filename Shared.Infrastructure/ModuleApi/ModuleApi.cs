using Microsoft.Extensions.DependencyInjection;
using OmsModular.Shared.Contracts;

namespace OmsModular.Shared.Infrastructure.ModuleApi;

/// <summary>
/// Sends a module API request to the module that handles it. The call site does not know
/// whether that module runs in this process (in-process now; remote once it is extracted).
/// </summary>
public interface IModuleClient
{
    Task<TResponse> SendAsync<TResponse>(IModuleRequest<TResponse> request, CancellationToken cancellationToken = default);
}

/// <summary>Handles one module API request type inside the owning module.</summary>
public interface IModuleRequestHandler<in TRequest, TResponse>
    where TRequest : IModuleRequest<TResponse>
{
    Task<TResponse> HandleAsync(TRequest request, CancellationToken cancellationToken);
}

/// <summary>A module API request declared in a module manifest.</summary>
public sealed class ModuleRequestDescriptor
{
    private ModuleRequestDescriptor(string moduleName, Type requestType, Type responseType, Type handlerType, Func<IServiceProvider, object, CancellationToken, Task<object?>> invoke)
    {
        ModuleName = moduleName;
        RequestType = requestType;
        ResponseType = responseType;
        HandlerType = handlerType;
        Invoke = invoke;
    }

    public string ModuleName { get; }

    public Type RequestType { get; }

    public Type ResponseType { get; }

    public Type HandlerType { get; }

    internal Func<IServiceProvider, object, CancellationToken, Task<object?>> Invoke { get; }

    internal static ModuleRequestDescriptor Create<TRequest, TResponse, THandler>(string moduleName)
        where TRequest : IModuleRequest<TResponse>
        where THandler : class, IModuleRequestHandler<TRequest, TResponse>
        => new(
            moduleName,
            typeof(TRequest),
            typeof(TResponse),
            typeof(THandler),
            async (services, request, ct) => await services.GetRequiredService<THandler>().HandleAsync((TRequest)request, ct).ConfigureAwait(false));
}

/// <summary>Raised when a request's owning module is neither hosted here nor reachable remotely.</summary>
public sealed class ModuleNotAvailableException(string message) : Exception(message);

/// <summary>
/// Raised by a module when something it depends on outside the system (a payment provider, a
/// carrier) cannot be reached after its own retries: nothing was done, and asking again later is
/// safe. Consumers treat it as a possible outage (see <c>Failures</c>).
/// </summary>
public sealed class DependencyUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The in-process module client: runs the owning module's handler in a fresh DI scope, so the
/// handler never shares the caller's DbContext or transaction (as it would not once remote).
/// </summary>
internal sealed class InProcessModuleClient(IServiceScopeFactory scopeFactory, Modules.ModuleRegistry registry) : IModuleClient
{
    public async Task<TResponse> SendAsync<TResponse>(IModuleRequest<TResponse> request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var descriptor = registry.FindRequestHandler(request.GetType());
        await using var scope = scopeFactory.CreateAsyncScope();
        var result = await descriptor.Invoke(scope.ServiceProvider, request, cancellationToken).ConfigureAwait(false);
        return (TResponse)result!;
    }
}
