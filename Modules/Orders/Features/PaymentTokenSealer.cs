using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Shared.Infrastructure.Secrets;

namespace OmsModular.Modules.Orders.Features;

/// <summary>
/// Seals a payment token with Payments' public key at capture, so that Orders keeps (and hands to
/// Payments) only a value Payments alone can open; no event carries the token.
/// </summary>
internal sealed class PaymentTokenSealer(IModuleClient payments)
{
    private PaymentTokenKey? _key;

    /// <summary>The token sealed for the order it pays: Payments opens it only for that order.</summary>
    public async Task<string> SealAsync(string token, Guid orderId, CancellationToken cancellationToken)
    {
        var key = _key ??= await payments.SendAsync(new GetPaymentTokenKey(), cancellationToken);
        return SealedBox.Seal(key.KeyId, key.PublicKey, token, orderId.ToString());
    }
}
