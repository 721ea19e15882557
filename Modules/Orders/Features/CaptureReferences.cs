using Microsoft.Extensions.Logging;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Contracts.Pricing;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Orders.Features;

/// <summary>
/// What an order names that other modules own, checked at capture: the payment method (Payments'
/// provider must support it) and the service level (Pricing must have a shipping rate for it in the
/// order's currency). Each is a cached set; when its owner cannot be reached the order is taken
/// anyway and the pipeline decides (declined, or pricing-failed), so capture never waits on them.
/// </summary>
internal sealed class CaptureReferences
{
    private readonly ReferenceSet _methods;
    private readonly ReferenceSet _serviceLevels;

    public CaptureReferences(IModuleClient modules, TimeProvider clock, ILogger<CaptureReferences> logger)
    {
        _modules = modules;
        _methods = new ReferenceSet(FetchMethodsAsync, TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(2), clock, logger);
        _serviceLevels = new ReferenceSet(FetchServiceLevelsAsync, TimeSpan.FromMinutes(1), TimeSpan.Zero, clock, logger); // a miss always asks again: a rate added a moment ago counts
    }

    private readonly IModuleClient _modules;

    private async Task<IEnumerable<string>> FetchMethodsAsync(CancellationToken cancellationToken)
    {
        var answer = await _modules.SendAsync(new GetPaymentMethods(), cancellationToken);
        return answer.Methods;
    }

    private async Task<IEnumerable<string>> FetchServiceLevelsAsync(CancellationToken cancellationToken)
    {
        var answer = await _modules.SendAsync(new GetServiceLevels(), cancellationToken);
        return answer.Levels.Select(l => Key(l.ServiceLevel, l.Currency));
    }

    public async Task CheckAsync(PlaceOrderRequest order, CancellationToken cancellationToken)
    {
        var method = order.Payment!.Method!;
        if (await _methods.ContainsAsync(method, cancellationToken) == false)
        {
            throw new ProblemException(422, "unsupported-payment-method", "The payment method is not supported",
                $"The payment provider does not accept '{method}'.", "payment.method");
        }

        if (order.Delivery!.Method == "ship"
            && await _serviceLevels.ContainsAsync(Key(order.Delivery.ServiceLevel!, order.Currency!), cancellationToken) == false)
        {
            throw new ProblemException(422, "unknown-service-level", "The service level is not offered",
                $"There is no shipping rate for service level '{order.Delivery.ServiceLevel}' in {order.Currency}.", "delivery.serviceLevel");
        }
    }

    private static string Key(string serviceLevel, string currency) => $"{serviceLevel}|{currency}";
}
