using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Fulfillment.Features;

internal sealed class FindNodesApi(FulfillmentDbContext db) : IModuleRequestHandler<FindNodes, FoundNodes>
{
    public async Task<FoundNodes> HandleAsync(FindNodes request, CancellationToken cancellationToken)
    {
        var codes = request.Codes.Distinct(StringComparer.Ordinal).ToArray();
        return new FoundNodes(await db.Nodes.AsNoTracking().Where(n => codes.Contains(n.Code)).Select(n => n.Code).ToListAsync(cancellationToken));
    }
}
