using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using OmsModular.Modules.Fulfillment.Persistence;

namespace OmsModular.Modules.Fulfillment.Features.Shipping;

/// <summary>The node starts picking a fulfilment order.</summary>
internal sealed record StartPicking(Guid Id) : ICommand<FulfilmentOrderView>;

internal sealed record PickedLine([property: JsonRequired] string Sku, [property: JsonRequired] int Picked);

internal sealed record PicksRequest([property: JsonRequired] IReadOnlyList<PickedLine> Lines);

/// <summary>The picker reports the quantity picked so far of each SKU (a repeat changes nothing).</summary>
internal sealed record ReportPicks(Guid Id, PicksRequest Picks) : ICommand<FulfilmentOrderView>;

internal sealed record PackRequest(int? Parcels, decimal? WeightKg);

/// <summary>The node packed the fulfilment order: every line picked in full.</summary>
internal sealed record PackFulfilmentOrder(Guid Id, PackRequest Pack) : ICommand<FulfilmentOrderView>;

internal sealed class ReportPicksValidator : AbstractValidator<ReportPicks>
{
    public ReportPicksValidator()
    {
        RuleFor(c => c.Picks.Lines).NotEmpty().OverridePropertyName("lines");
        RuleForEach(c => c.Picks.Lines).NotNull().WithMessage("'lines' holds no null entries.").OverridePropertyName("lines");
        RuleForEach(c => c.Picks.Lines).ChildRules(line =>
        {
            line.RuleFor(l => l.Sku).NotEmpty().MaximumLength(64).OverridePropertyName("sku");
            line.RuleFor(l => l.Picked).GreaterThanOrEqualTo(0).OverridePropertyName("picked");
        }).OverridePropertyName("lines");
        RuleFor(c => c.Picks.Lines).Must(l => l.Where(x => x is not null).Select(x => x.Sku).Distinct(StringComparer.Ordinal).Count() == l.Count(x => x is not null))
            .WithMessage("Each SKU is reported once.").OverridePropertyName("lines").When(c => c.Picks.Lines is not null);
    }
}

internal sealed class PackValidator : AbstractValidator<PackFulfilmentOrder>
{
    public PackValidator()
    {
        RuleFor(c => c.Pack.Parcels).InclusiveBetween(1, 1000).OverridePropertyName("parcels");
        RuleFor(c => c.Pack.WeightKg).GreaterThan(0).LessThan(100_000).OverridePropertyName("weightKg");
    }
}

internal sealed class PickAndPackHandlers(FulfillmentDbContext db, TimeProvider clock) :
    ICommandHandler<StartPicking, FulfilmentOrderView>,
    ICommandHandler<ReportPicks, FulfilmentOrderView>,
    ICommandHandler<PackFulfilmentOrder, FulfilmentOrderView>
{
    public async ValueTask<FulfilmentOrderView> Handle(StartPicking command, CancellationToken cancellationToken)
    {
        var order = await FulfilmentViews.FindAsync(db, command.Id, cancellationToken);
        FulfilmentViews.Step(() =>
        {
            order.StartPicking(clock.GetUtcNow());
            return true;
        });
        return await FulfilmentViews.ViewAsync(db, order, cancellationToken);
    }

    public async ValueTask<FulfilmentOrderView> Handle(ReportPicks command, CancellationToken cancellationToken)
    {
        var order = await FulfilmentViews.FindAsync(db, command.Id, cancellationToken);
        FulfilmentViews.Step(() => order.ReportPicks(command.Picks.Lines.Select(l => (l.Sku, l.Picked)).ToArray()));
        return await FulfilmentViews.ViewAsync(db, order, cancellationToken);
    }

    public async ValueTask<FulfilmentOrderView> Handle(PackFulfilmentOrder command, CancellationToken cancellationToken)
    {
        var order = await FulfilmentViews.FindAsync(db, command.Id, cancellationToken);
        FulfilmentViews.Step(() =>
        {
            order.Pack(command.Pack.Parcels, command.Pack.WeightKg, clock.GetUtcNow());
            return true;
        });
        return await FulfilmentViews.ViewAsync(db, order, cancellationToken);
    }
}
