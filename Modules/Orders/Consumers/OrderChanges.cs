using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Payments;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Orders.Consumers;

/// <summary>
/// Decides requested order changes once Fulfillment has answered. Prepared: a change that costs more
/// has Payments raise the authorisation by the difference first (idempotent by the change's id, so a
/// redelivery after a failed commit gets the same answer and raises nothing twice); then the change
/// is applied, all of it, and committed with <see cref="OrderChanged"/> (and, for an order captured at
/// confirmation, the capture of what it adds), or refused with <see cref="OrderChangeRefused"/> when
/// the raise was declined or the order moved since it was priced (Fulfillment then releases what it
/// reserved, and Payments gives back a raise). Unavailable: refused. The order row's version guards
/// against a concurrent change: the batch is retried on what the order is now.
/// </summary>
internal sealed class OrderChanges(OrdersDbContext db, IModuleClient modules, TimeProvider clock) :
    IIntegrationEventBatchHandler<OrderChangePrepared>,
    IIntegrationEventBatchHandler<OrderChangeUnavailable>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderChangePrepared>> batch, CancellationToken cancellationToken)
    {
        var orders = await db.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        foreach (var delivered in batch)
        {
            var prepared = delivered.Message;
            if (orders.GetValueOrDefault(prepared.OrderId) is not { } order
                || order.Changes.FirstOrDefault(c => c.ChangeId == prepared.ChangeId) is not { Status: OrderChangeStatus.Requested } change)
            {
                continue;
            }

            using var cause = delivered.Enter();
            var now = clock.GetUtcNow();
            if (order.ChangeObstacle(change) is { } obstacle)
            {
                Refuse(order, change, obstacle.Reason, obstacle.Detail, now);
                continue;
            }

            var raise = change.NewTotal - (order.Total ?? 0m);
            if (raise > 0)
            {
                var payment = await modules.SendAsync(new IncreaseAuthorization(order.Id, change.ChangeId, raise, change.NewTotal, order.Currency), cancellationToken);
                switch (payment.State)
                {
                    case PaymentState.Unavailable:
                        throw new DependencyUnavailableException($"The payment provider did not answer the raise for change {change.ChangeId} of order {order.Id}; it is asked again.");
                    case PaymentState.Declined:
                        Refuse(order, change, "payment-declined", $"The payment provider declined to authorise {raise} {order.Currency} more ({payment.DeclineReason}).", now);
                        continue;
                    case PaymentState.Authorized:
                        break;
                    default:
                        Refuse(order, change, "order-ended", $"The order's payment is {payment.State.Kebab()}.", now);
                        continue;
                }
            }

            var allocations = prepared.Allocations.SelectMany(a => a.Lines.Select(l => (a.Node, l.Sku, l.Quantity, a.DistanceKm))).ToArray();
            var before = change.PreviousTotal;
            var proposal = change.Read();
            var existing = order.Lines.Select(l => l.LineNumber).ToHashSet();
            if (!order.ApplyChange(change.ChangeId, allocations, now))
            {
                continue;
            }

            foreach (var added in order.Lines.Where(l => !existing.Contains(l.LineNumber)))
            {
                db.Entry(added).State = EntityState.Added; // an owned line with its number set would otherwise be taken for one to update
            }

            if (order.CapturedAtConfirmation && raise > 0)
            {
                db.Publish(new CaptureRequested(order.Id, change.ChangeId, raise, order.Currency, Final: false, now), order.Id.ToString());
            }

            var address = order.ShippingAddress;
            db.Publish(
                new OrderChanged(
                    order.Id,
                    order.Number,
                    change.ChangeId,
                    proposal.Lines.Where(l => l.Added > 0).Select(l => new ChangedLine(l.Sku, l.QuantityBefore - l.Cancelled, l.Quantity - l.Cancelled, l.Gross)).ToArray(),
                    allocations.Select(a => new AddedUnits(a.Sku, a.Quantity, a.Node)).ToArray(),
                    new OrderAddress(address.Name, address.Lines, address.City, address.PostalCode, address.CountryCode, address.Latitude, address.Longitude),
                    new OrderDelivery(order.Delivery.Method, order.Delivery.ServiceLevel, order.Delivery.PickupLocation),
                    proposal.Address is not null || proposal.ServiceLevel is not null,
                    before,
                    order.Total ?? 0m,
                    order.Currency,
                    change.Reason,
                    order.Status.Kebab(),
                    now),
                order.Id.ToString());
        }
    }

    public async Task HandleAsync(IReadOnlyList<Delivered<OrderChangeUnavailable>> batch, CancellationToken cancellationToken)
    {
        var orders = await db.LoadAsync(batch.Select(d => d.Message.OrderId), cancellationToken);
        foreach (var delivered in batch)
        {
            var message = delivered.Message;
            if (orders.GetValueOrDefault(message.OrderId) is { } order
                && order.Changes.FirstOrDefault(c => c.ChangeId == message.ChangeId) is { Status: OrderChangeStatus.Requested } change)
            {
                using var cause = delivered.Enter();
                Refuse(order, change, message.Reason, message.Detail, clock.GetUtcNow());
            }
        }
    }

    /// <summary>Refuses the change and commits <see cref="OrderChangeRefused"/> with it (what was held for it is given back on that).</summary>
    private void Refuse(Order order, OrderChange change, string reason, string detail, DateTimeOffset now)
    {
        if (order.RefuseChange(change.ChangeId, reason, detail, now))
        {
            db.Publish(new OrderChangeRefused(order.Id, order.Number, change.ChangeId, reason, detail, order.Total ?? 0m, order.Currency, now), order.Id.ToString());
        }
    }
}
