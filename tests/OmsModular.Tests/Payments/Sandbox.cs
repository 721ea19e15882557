using Microsoft.Extensions.DependencyInjection;

namespace OmsModular.Tests.Payments;

/// <summary>The sandbox provider's own counts (internal to Payments; read by reflection).</summary>
internal static class Sandbox
{
    private static readonly Type ProviderType =
        Type.GetType("OmsModular.Modules.Payments.Providers.SandboxPaymentProvider, OmsModular.Modules.Payments", throwOnError: true)!;

    /// <summary>A token sealed with Payments' key, as Orders sends it.</summary>
    public static async Task<string> SealAsync(IServiceProvider services, string token, Guid orderId)
    {
        using var scope = services.CreateScope();
        var key = await scope.ServiceProvider.GetRequiredService<OmsModular.Shared.Infrastructure.ModuleApi.IModuleClient>()
            .SendAsync(new OmsModular.Shared.Contracts.Payments.GetPaymentTokenKey());
        return OmsModular.Shared.Infrastructure.Secrets.SealedBox.Seal(key.KeyId, key.PublicKey, token, orderId.ToString());
    }

    public static long Authorizations(IServiceProvider services)
    {
        return (long)ProviderType.GetProperty("Authorizations")!.GetValue(services.GetRequiredService(ProviderType))!;
    }

    /// <summary>Whether the sandbox still holds money for the order's authorisation key.</summary>
    public static bool Holds(IServiceProvider services, Guid orderId)
    {
        return (bool)ProviderType.GetMethod("Holds")!.Invoke(services.GetRequiredService(ProviderType), [$"auth-{orderId}"])!;
    }

    /// <summary>What the sandbox captured under the order's authorisation (all captures, whatever their keys).</summary>
    public static decimal CapturedFor(IServiceProvider services, Guid orderId)
    {
        return (decimal)ProviderType.GetMethod("CapturedFor")!.Invoke(services.GetRequiredService(ProviderType), [$"auth-{orderId}"])!;
    }

    /// <summary>How often the sandbox was called with this idempotency key.</summary>
    public static int CallsFor(IServiceProvider services, string key)
    {
        return (int)ProviderType.GetMethod("CallsFor")!.Invoke(services.GetRequiredService(ProviderType), [key])!;
    }

    /// <summary>What the sandbox refunded under the order's authorisation.</summary>
    public static decimal RefundedFor(IServiceProvider services, Guid orderId)
    {
        return (decimal)ProviderType.GetMethod("RefundedFor")!.Invoke(services.GetRequiredService(ProviderType), [$"auth-{orderId}"])!;
    }

    /// <summary>What the sandbox's authorisation of the order holds now.</summary>
    public static decimal AuthorizedFor(IServiceProvider services, Guid orderId)
    {
        return (decimal)ProviderType.GetMethod("AuthorizedFor")!.Invoke(services.GetRequiredService(ProviderType), [$"auth-{orderId}"])!;
    }

    /// <summary>How many re-authorisations replaced the order's authorisation.</summary>
    public static int ReauthorizationsFor(IServiceProvider services, Guid orderId)
    {
        return (int)ProviderType.GetMethod("ReauthorizationsFor")!.Invoke(services.GetRequiredService(ProviderType), [$"auth-{orderId}"])!;
    }

    /// <summary>The reference of the order's live authorisation (the first, or the re-authorisation that replaced it).</summary>
    public static string? LiveReference(IServiceProvider services, Guid orderId)
    {
        return (string?)ProviderType.GetMethod("LiveReference")!.Invoke(services.GetRequiredService(ProviderType), [$"auth-{orderId}"]);
    }

    /// <summary>What the order's live authorisation (the first, or the re-authorisation that replaced it) holds now.</summary>
    public static decimal LiveAuthorizedFor(IServiceProvider services, Guid orderId)
    {
        return (decimal)ProviderType.GetMethod("LiveAuthorizedFor")!.Invoke(services.GetRequiredService(ProviderType), [$"auth-{orderId}"])!;
    }

    /// <summary>Makes every capture an outage (before anything is captured) until set back.</summary>
    public static void CapturesUnavailable(IServiceProvider services, bool unavailable)
    {
        ProviderType.GetProperty("CapturesUnavailable")!.SetValue(services.GetRequiredService(ProviderType), unavailable);
    }

    /// <summary>Lets an authorisation lapse now, as the end of its window would.</summary>
    public static void Expire(IServiceProvider services, string reference)
    {
        ProviderType.GetMethod("Expire")!.Invoke(services.GetRequiredService(ProviderType), [reference]);
    }

    /// <summary>How many reductions the sandbox made of the order's authorisation.</summary>
    public static int ReductionsFor(IServiceProvider services, Guid orderId)
    {
        return (int)ProviderType.GetMethod("ReductionsFor")!.Invoke(services.GetRequiredService(ProviderType), [$"auth-{orderId}"])!;
    }
}
