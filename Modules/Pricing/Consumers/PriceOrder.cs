using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Pricing.Domain;
using OmsModular.Modules.Pricing.Features;
using OmsModular.Modules.Pricing.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Pricing;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Pricing.Consumers;

/// <summary>Prices a placed order and publishes the priced order (or why it could not be priced).</summary>
internal sealed class PriceOrder(PricingDbContext db, PriceCalculator calculator, TimeProvider clock) : IIntegrationEventHandler<OrderPlaced>
{
    public async Task HandleAsync(OrderPlaced message, MessageContext context, CancellationToken cancellationToken)
    {
        if (await db.PricedOrders.AnyAsync(p => p.OrderId == message.OrderId, cancellationToken))
        {
            return;
        }

        var quote = await calculator.QuoteAsync(
            new QuoteInput(
                message.Channel,
                message.Currency,
                message.Lines.Select(l => new QuoteLine(l.Sku, l.Quantity, l.MarketplaceUnitPrice)).ToArray(),
                message.ShippingAddress.CountryCode,
                message.Delivery.Method,
                message.Delivery.ServiceLevel),
            cancellationToken);
        db.PricedOrders.Add(new PricedOrderRecord
        {
            OrderId = message.OrderId,
            Currency = message.Currency,
            Total = quote.Total,
            Detail = JsonSerializer.Serialize(quote, MessageSerialization.Options),
            PricedAt = clock.GetUtcNow(),
        });
        if (quote.Priced)
        {
            db.Publish(new OrderPriced(message.OrderId, quote.Currency, quote.Lines, quote.ShippingGross, quote.TaxTotal, quote.Total, quote.PriceList!), message.OrderId.ToString());
        }
        else
        {
            db.Publish(new OrderPricingFailed(message.OrderId, quote.FailureReason!, quote.Detail!), message.OrderId.ToString());
        }
    }
}
