using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Fulfillment.Consumers;

/// <summary>
/// An order's payment went on hold (its remainder could not be authorised anew): its fulfilment
/// orders ship and hand over nothing until the hold is lifted (the remainder authorised anew).
/// </summary>
internal sealed class HoldOnPayment(FulfillmentDbContext db) :
    IIntegrationEventBatchHandler<PaymentReauthorizationFailed>,
    IIntegrationEventBatchHandler<PaymentReauthorized>
{
    public Task HandleAsync(IReadOnlyList<Delivered<PaymentReauthorizationFailed>> batch, CancellationToken cancellationToken) =>
        SetAsync(batch.Select(d => d.Message.OrderId), "payment-reauthorisation-failed", cancellationToken);

    public Task HandleAsync(IReadOnlyList<Delivered<PaymentReauthorized>> batch, CancellationToken cancellationToken) =>
        SetAsync(batch.Select(d => d.Message.OrderId), null, cancellationToken);

    private async Task SetAsync(IEnumerable<Guid> orders, string? hold, CancellationToken cancellationToken)
    {
        var ids = orders.Distinct().ToArray();
        foreach (var fulfilment in await db.FulfilmentOrders.Where(f => ids.Contains(f.OrderId)).ToListAsync(cancellationToken))
        {
            fulfilment.PaymentHold = hold;
        }
    }
}
