using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Fulfillment.Consumers;

/// <summary>
/// An order's payment went on hold (its remainder could not be authorised anew): its fulfilment
/// orders ship and hand over nothing until the hold is lifted (the remainder authorised anew). Either
/// event makes Fulfillment ask Payments for the hold as it is now (module API), so a hold and its
/// lifting that arrive out of order, or again, leave the fulfilment orders as the payment is.
/// </summary>
internal sealed class HoldOnPayment(FulfillmentDbContext db, IModuleClient modules) :
    IIntegrationEventBatchHandler<PaymentReauthorizationFailed>,
    IIntegrationEventBatchHandler<PaymentReauthorized>
{
    public Task HandleAsync(IReadOnlyList<Delivered<PaymentReauthorizationFailed>> batch, CancellationToken cancellationToken) =>
        FollowAsync(batch.Select(d => d.Message.OrderId), cancellationToken);

    public Task HandleAsync(IReadOnlyList<Delivered<PaymentReauthorized>> batch, CancellationToken cancellationToken) =>
        FollowAsync(batch.Select(d => d.Message.OrderId), cancellationToken);

    private async Task FollowAsync(IEnumerable<Guid> orders, CancellationToken cancellationToken)
    {
        var ids = orders.Distinct().ToArray();
        var holds = new Dictionary<Guid, string?>();
        foreach (var id in ids)
        {
            holds[id] = (await modules.SendAsync(new GetPaymentHold(id), cancellationToken)).Hold;
        }

        foreach (var fulfilment in await db.FulfilmentOrders.Where(f => ids.Contains(f.OrderId)).ToListAsync(cancellationToken))
        {
            fulfilment.PaymentHold = holds[fulfilment.OrderId];
        }
    }
}
