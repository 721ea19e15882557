using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Orders.Features;

/// <summary>Module API: an order's lines with their gross amounts and shipped quantities (for refunds per line).</summary>
internal sealed class OrderLinesApi(OrdersDbContext db) : IModuleRequestHandler<GetOrderLines, OrderLineAmounts>
{
    public async Task<OrderLineAmounts> HandleAsync(GetOrderLines request, CancellationToken cancellationToken)
    {
        var order = await db.Orders.AsNoTracking().IgnoreAutoIncludes().Include(o => o.Lines)
            .Where(o => o.Id == request.OrderId)
            .Select(o => new { o.Currency, o.Lines })
            .SingleOrDefaultAsync(cancellationToken);
        return order is null
            ? new OrderLineAmounts(request.OrderId, false, string.Empty, [])
            : new OrderLineAmounts(request.OrderId, true, order.Currency, order.Lines.OrderBy(l => l.LineNumber).Select(l => new OrderLineAmount(l.Sku, l.Quantity, l.Gross ?? 0m, l.ShippedQuantity)).ToArray());
    }
}
