using FluentValidation;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Inventory.Persistence;
using OmsModular.Shared.Contracts.Inventory;
using OmsModular.Shared.Infrastructure.ModuleApi;

namespace OmsModular.Modules.Inventory.Features;

/// <summary>Available-to-promise of SKUs per location, plus the network total per SKU.</summary>
internal sealed record GetStockAvailability(IReadOnlyList<string> Skus) : IQuery<AvailabilityView>;

internal sealed record AvailabilityView(IReadOnlyList<SkuAvailability> Skus);

internal sealed record SkuAvailability(string Sku, int Available, int OnHand, int Reserved, IReadOnlyList<LocationAvailability> Locations);

internal sealed class GetStockAvailabilityValidator : AbstractValidator<GetStockAvailability>
{
    public GetStockAvailabilityValidator()
    {
        RuleFor(q => q.Skus).NotEmpty().Must(s => s.Count <= 1000).WithMessage("Ask for at most 1000 SKUs at once.");
        RuleForEach(q => q.Skus).IsCode();
    }
}

internal sealed class GetStockAvailabilityHandler(InventoryDbContext db) : IQueryHandler<GetStockAvailability, AvailabilityView>
{
    public async ValueTask<AvailabilityView> Handle(GetStockAvailability query, CancellationToken cancellationToken)
    {
        var skus = query.Skus.Distinct().ToArray();
        var levels = await db.StockLevels.AsNoTracking()
            .Where(s => skus.Contains(s.Sku))
            .OrderBy(s => s.Sku).ThenBy(s => s.Location)
            .ToListAsync(cancellationToken);
        var bySku = levels.ToLookup(l => l.Sku);
        return new AvailabilityView(skus.Select(sku =>
        {
            var at = bySku[sku].ToArray();
            return new SkuAvailability(sku, at.Sum(l => l.Available), at.Sum(l => l.OnHand), at.Sum(l => l.Reserved), at.Select(l => l.ToContract()).ToArray());
        }).ToArray());
    }
}

/// <summary>Module API: availability for other modules (routing).</summary>
internal sealed class GetAvailabilityApi(ISender sender) : IModuleRequestHandler<GetAvailability, AvailabilityResult>
{
    public async Task<AvailabilityResult> HandleAsync(GetAvailability request, CancellationToken cancellationToken)
    {
        var view = await sender.Send(new GetStockAvailability(request.Skus), cancellationToken);
        return new AvailabilityResult(view.Skus.SelectMany(s => s.Locations).ToArray());
    }
}
