using Microsoft.Extensions.DependencyInjection;

namespace OmsModular.Tests.Payments;

/// <summary>The sandbox provider's own counts (internal to Payments; read by reflection).</summary>
internal static class Sandbox
{
    public static long Authorizations(IServiceProvider services)
    {
        var type = Type.GetType("OmsModular.Modules.Payments.Providers.SandboxPaymentProvider, OmsModular.Modules.Payments", throwOnError: true)!;
        return (long)type.GetProperty("Authorizations")!.GetValue(services.GetRequiredService(type))!;
    }
}
