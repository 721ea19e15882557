using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace OmsModular.Shared.Infrastructure.Modules;

/// <summary>
/// A module's registration entry point: the only public type of a module assembly.
/// The Host discovers implementations of this interface; no list of modules is kept by hand.
/// </summary>
public interface IModule
{
    /// <summary>Name, schema, DbContext, and the contracts the module publishes, consumes and handles.</summary>
    ModuleManifest Manifest { get; }

    /// <summary>Registers the module's own services (handlers, validators, jobs).</summary>
    void AddServices(IServiceCollection services, IConfiguration configuration);

    /// <summary>Maps the module's HTTP endpoints (under <c>/api/v1</c>).</summary>
    void MapEndpoints(IEndpointRouteBuilder endpoints);
}
