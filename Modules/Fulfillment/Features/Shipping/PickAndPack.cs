using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Fulfillment.Features.Shipping;

/// <summary>The node starts picking a fulfilment order.</summary>
internal sealed record StartPicking(Guid Id) : ICommand<FulfilmentOrderView>;

internal sealed record PickedLine([property: JsonRequired] string Sku, [property: JsonRequired] int Picked);

internal sealed record PicksRequest([property: JsonRequired] IReadOnlyList<PickedLine> Lines);

/// <summary>The picker reports the quantity picked so far of each SKU (a repeat changes nothing).</summary>
internal sealed record ReportPicks(Guid Id, PicksRequest Picks) : ICommand<FulfilmentOrderView>;

internal sealed record PackRequest(int? Parcels, decimal? WeightKg);

/// <summary>The node packed the fulfilment order with what was picked; what a short pick did not find is re-sourced.</summary>
internal sealed record PackFulfilmentOrder(Guid Id, PackRequest Pack) : ICommand<FulfilmentOrderView>;

/// <summary>Why a node gives up a fulfilment order: <c>damaged-stock</c> (written off), <c>node-closed</c>, <c>other</c>.</summary>
internal sealed record RejectRequest([property: JsonRequired] string Reason, string? Detail);

/// <summary>The node cannot ship what is left of the fulfilment order: it is re-sourced elsewhere (or cancelled when no node has it).</summary>
internal sealed record RejectFulfilmentOrder(Guid Id, RejectRequest Rejection) : ICommand<FulfilmentOrderView>;

internal sealed class RejectValidator : AbstractValidator<RejectFulfilmentOrder>
{
    public static readonly string[] Reasons = ["damaged-stock", "node-closed", "other"];

    public RejectValidator()
    {
        RuleFor(c => c.Rejection.Reason).NotEmpty().Must(r => Reasons.Contains(r))
            .WithMessage($"'reason' is one of {string.Join(", ", Reasons)}.").OverridePropertyName("reason");
        RuleFor(c => c.Rejection.Detail).MaximumLength(500).OverridePropertyName("detail");
    }
}

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
    ICommandHandler<PackFulfilmentOrder, FulfilmentOrderView>,
    ICommandHandler<RejectFulfilmentOrder, FulfilmentOrderView>
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
        var now = clock.GetUtcNow();
        var shortage = FulfilmentViews.Step(() => order.Pack(command.Pack.Parcels, command.Pack.WeightKg, now));
        Report(order, shortage, "short-pick", writeOff: true, now); // the count was wrong: what was not found is not there
        return await FulfilmentViews.ViewAsync(db, order, cancellationToken);
    }

    public async ValueTask<FulfilmentOrderView> Handle(RejectFulfilmentOrder command, CancellationToken cancellationToken)
    {
        var order = await FulfilmentViews.FindAsync(db, command.Id, cancellationToken);
        var now = clock.GetUtcNow();
        var given = FulfilmentViews.Step(() => order.Reject(command.Rejection.Reason, now));
        Report(order, given, command.Rejection.Reason, writeOff: command.Rejection.Reason == "damaged-stock", now);
        return await FulfilmentViews.ViewAsync(db, order, cancellationToken);
    }

    /// <summary>Units the node gave up, in the step's own commit: Inventory releases them there, and they are re-sourced.</summary>
    private void Report(Domain.FulfilmentOrder order, IReadOnlyList<(string Sku, int Quantity)> units, string reason, bool writeOff, DateTimeOffset at)
    {
        if (units.Count == 0)
        {
            return;
        }

        order.ShortageReported();
        db.Publish(
            new UnitsShort(order.OrderId, Guid.CreateVersion7(), order.Id, order.NodeCode, units.Select(u => new AllocatedLine(u.Sku, u.Quantity)).ToArray(), reason, writeOff, at),
            order.OrderId.ToString());
    }
}
