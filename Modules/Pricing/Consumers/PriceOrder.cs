using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using OmsModular.Modules.Pricing.Domain;
using OmsModular.Modules.Pricing.Features;
using OmsModular.Modules.Pricing.Features.Promotions;
using OmsModular.Modules.Pricing.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Pricing;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Pricing.Consumers;

/// <summary>
/// Prices placed orders (promotions and coupons included; coupon uses are counted in this
/// transaction) and publishes each priced order, or why it could not be priced. The orders of an
/// inbox batch are priced one after another against reference data read once for the batch.
/// </summary>
internal sealed class PriceOrder(PricingDbContext db, PriceCalculator calculator, TimeProvider clock) : IIntegrationEventBatchHandler<OrderPlaced>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<OrderPlaced>> batch, CancellationToken cancellationToken)
    {
        // Priced before, or the order already ended (its cancellation overtook it): nothing to do.
        var ids = batch.Select(d => d.Message.OrderId).Distinct().ToArray();
        var done = (await db.PricedOrders.Where(p => ids.Contains(p.OrderId)).Select(p => p.OrderId).ToListAsync(cancellationToken)).ToHashSet();
        var work = batch.Where(d => done.Add(d.Message.OrderId)).ToArray();
        await calculator.PrepareAsync(work.Select(d => (d.Message.Currency, d.Message.Lines.Select(l => l.Sku))), cancellationToken);
        foreach (var delivered in work)
        {
            await PriceAsync(delivered, cancellationToken);
        }
    }

    private async Task PriceAsync(Delivered<OrderPlaced> delivered, CancellationToken cancellationToken)
    {
        var message = delivered.Message;
        var quote = await calculator.QuoteAsync(
            new QuoteInput(
                message.Channel,
                message.Currency,
                message.Lines.Select(l => new QuoteLine(l.Sku, l.Quantity, l.MarketplaceUnitPrice)).ToArray(),
                message.ShippingAddress.CountryCode,
                message.Delivery.Method,
                message.Delivery.ServiceLevel,
                message.CouponCodes,
                message.Customer.Id),
            message.OrderId,
            cancellationToken);
        db.PricedOrders.Add(new PricedOrderRecord
        {
            OrderId = message.OrderId,
            Currency = message.Currency,
            Total = quote.Total,
            Detail = JsonSerializer.Serialize(quote, MessageSerialization.Options),
            PricedAt = clock.GetUtcNow(),
        });
        using var cause = delivered.Enter();
        if (quote.Priced)
        {
            db.Publish(
                new OrderPriced(message.OrderId, quote.Currency, quote.Lines, quote.ShippingGross, quote.TaxTotal, quote.Total, quote.PriceList!, quote.DiscountTotal, quote.Promotions, quote.Coupons),
                message.OrderId.ToString());
        }
        else
        {
            db.Publish(new OrderPricingFailed(message.OrderId, quote.FailureReason!, quote.Detail!), message.OrderId.ToString());
        }
    }
}

/// <summary>
/// An order that ends without confirmation gives its coupon uses back. When the end overtakes the
/// pricing (they are separate consumers), the order is marked so it is never priced afterwards.
/// The ended orders of an inbox batch are handled together (one lock statement, one mark, one
/// release).
/// </summary>
internal sealed class ReleaseCouponUses(PricingDbContext db, CouponBook coupons) : IIntegrationEventBatchHandler<OrderCancelled>, IIntegrationEventBatchHandler<OrderRejected>
{
    public Task HandleAsync(IReadOnlyList<Delivered<OrderCancelled>> batch, CancellationToken cancellationToken) =>
        EndAsync(batch.Select(d => d.Message.OrderId).ToArray(), cancellationToken);

    public Task HandleAsync(IReadOnlyList<Delivered<OrderRejected>> batch, CancellationToken cancellationToken) =>
        EndAsync(batch.Select(d => d.Message.OrderId).ToArray(), cancellationToken);

    private async Task EndAsync(Guid[] orderIds, CancellationToken cancellationToken)
    {
        await db.LockAsync(orderIds.Select(id => $"order:{id}"), cancellationToken);
        await db.SaveChangesAsync(cancellationToken); // these orders' pricing and coupon uses may be pending in the same inbox batch
        await using (var mark = await db.CreateCommandAsync("""
            INSERT INTO pricing.priced_orders (order_id, currency, total, detail, priced_at, ended_at)
            SELECT DISTINCT o, 'XXX', 0, '{"ended":"before pricing"}'::jsonb, now(), now() FROM unnest($1::uuid[]) AS ended(o)
            ON CONFLICT (order_id) DO UPDATE SET ended_at = coalesce(pricing.priced_orders.ended_at, now())
            """, cancellationToken))
        {
            mark.Parameters.Add(new NpgsqlParameter<Guid[]> { TypedValue = orderIds });
            await mark.ExecuteNonQueryAsync(cancellationToken);
        }

        await coupons.ReleaseAsync(orderIds, cancellationToken);
    }
}
