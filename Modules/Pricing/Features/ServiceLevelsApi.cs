using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Pricing.Persistence;
using OmsModular.Shared.Contracts.Pricing;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Pricing.Features;

internal sealed class ServiceLevelsApi(PricingDbContext db) : IModuleRequestHandler<GetServiceLevels, ServiceLevels>
{
    public async Task<ServiceLevels> HandleAsync(GetServiceLevels request, CancellationToken cancellationToken) =>
        new(await db.ShippingRates.AsNoTracking().Select(r => new ServiceLevelRate(r.ServiceLevel, r.Currency)).ToListAsync(cancellationToken));
}
