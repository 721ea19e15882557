using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Pricing.Domain;
using OmsModular.Modules.Pricing.Persistence;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.ReferenceData;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Access;

namespace OmsModular.Modules.Pricing.Features.Promotions;

internal sealed record PromotionRequest(
    [property: JsonRequired] string Name,
    [property: JsonRequired] string Kind,
    decimal Value,
    string? Currency,
    IReadOnlyList<string>? Skus,
    int? BuyQuantity,
    int? GetQuantity,
    decimal? MinOrderValue,
    IReadOnlyList<string>? Channels,
    DateTimeOffset? ValidFrom,
    DateTimeOffset? ValidTo,
    int Priority,
    bool Exclusive,
    bool RequiresCoupon,
    bool? Active);

internal sealed record PromotionView(
    string Code,
    string Name,
    string Kind,
    decimal Value,
    string? Currency,
    IReadOnlyList<string> Skus,
    int BuyQuantity,
    int GetQuantity,
    decimal? MinOrderValue,
    IReadOnlyList<string> Channels,
    DateTimeOffset? ValidFrom,
    DateTimeOffset? ValidTo,
    int Priority,
    bool Exclusive,
    bool RequiresCoupon,
    bool Active);

internal sealed record CouponRequest([property: JsonRequired] string Promotion, int? UsageLimit, int? PerCustomerLimit, DateTimeOffset? ValidFrom, DateTimeOffset? ValidTo, bool? Active);

/// <summary>A coupon and its uses: <see cref="TimesUsed"/> counts the uses held by live (not cancelled or rejected) orders.</summary>
internal sealed record CouponView(string Code, string Promotion, int? UsageLimit, int? PerCustomerLimit, DateTimeOffset? ValidFrom, DateTimeOffset? ValidTo, bool Active, int TimesUsed, int? Remaining);

internal sealed record PutPromotion(string Code, PromotionRequest Promotion, string? Actor = null) : ICommand<PromotionView>;

internal sealed record GetPromotion(string Code) : IQuery<PromotionView>;

internal sealed record PutCoupon(string Code, CouponRequest Coupon, string? Actor = null) : ICommand<CouponView>;

internal sealed record GetCoupon(string Code) : IQuery<CouponView>;

internal static class PromotionKinds
{
    public static readonly IReadOnlyDictionary<string, PromotionKind> ByName =
        Enum.GetValues<PromotionKind>().ToDictionary(k => k.Kebab(), StringComparer.Ordinal);

    public static bool IsPercentage(PromotionKind kind) => kind is PromotionKind.OrderPercentage or PromotionKind.SkuPercentage or PromotionKind.BuyXGetY;

    public static bool IsFixed(PromotionKind kind) => kind is PromotionKind.OrderFixed or PromotionKind.SkuFixed;

    public static bool TargetsSkus(PromotionKind kind) => kind is PromotionKind.SkuPercentage or PromotionKind.SkuFixed or PromotionKind.BuyXGetY;
}

internal sealed class PutPromotionValidator : AbstractValidator<PutPromotion>
{
    private static readonly string[] ChannelNames = ["web", "app", "marketplace", "store"];

    public PutPromotionValidator()
    {
        RuleFor(c => c.Code).NotEmpty().MaximumLength(64).Matches("^[A-Za-z0-9][A-Za-z0-9._-]*$").OverridePropertyName("code");
        RuleFor(c => c.Promotion.Name).NotEmpty().MaximumLength(200).OverridePropertyName("name");
        RuleFor(c => c.Promotion.Kind).Must(k => k is not null && PromotionKinds.ByName.ContainsKey(k))
            .WithMessage($"'kind' must be one of {string.Join(", ", PromotionKinds.ByName.Keys)}.").OverridePropertyName("kind");
        When(c => c.Promotion.Kind is not null && PromotionKinds.ByName.ContainsKey(c.Promotion.Kind), () =>
        {
            RuleFor(c => c.Promotion.Value).GreaterThan(0m).LessThanOrEqualTo(100m)
                .When(c => PromotionKinds.IsPercentage(Kind(c))).WithMessage("'value' is a percentage: more than 0, at most 100.").OverridePropertyName("value");
            RuleFor(c => c.Promotion.Value).GreaterThan(0m).WithMessage("'value' is an amount: more than 0.").IsAmount()
                .When(c => PromotionKinds.IsFixed(Kind(c))).OverridePropertyName("value");
            RuleFor(c => c.Promotion.Currency).NotEmpty()
                .When(c => PromotionKinds.IsFixed(Kind(c))).WithMessage("'currency' is required for a fixed amount.").OverridePropertyName("currency");
            RuleFor(c => c.Promotion.Skus).NotEmpty()
                .When(c => PromotionKinds.TargetsSkus(Kind(c))).WithMessage("'skus' lists the SKUs this kind of promotion discounts.").OverridePropertyName("skus");
            RuleFor(c => c.Promotion.BuyQuantity).NotNull().GreaterThanOrEqualTo(1)
                .When(c => Kind(c) == PromotionKind.BuyXGetY).OverridePropertyName("buyQuantity");
            RuleFor(c => c.Promotion.GetQuantity).NotNull().GreaterThanOrEqualTo(1)
                .When(c => Kind(c) == PromotionKind.BuyXGetY).OverridePropertyName("getQuantity");
        });
        RuleFor(c => c.Promotion.Currency).Must(Currencies.IsKnown!).When(c => c.Promotion.Currency is not null)
            .WithMessage("'currency' must be an ISO 4217 code.").OverridePropertyName("currency");
        RuleFor(c => c.Promotion.MinOrderValue).IsAmount().OverridePropertyName("minOrderValue");
        RuleFor(c => c.Promotion.Currency).NotEmpty().When(c => c.Promotion.MinOrderValue is not null)
            .WithMessage("'currency' is required with 'minOrderValue'.").OverridePropertyName("currency");
        RuleFor(c => c).Must(c => !Currencies.IsKnown(c.Promotion.Currency) || c.Promotion.Value == decimal.Round(c.Promotion.Value, Currencies.MinorUnits(c.Promotion.Currency!)))
            .When(c => c.Promotion.Kind is not null && PromotionKinds.ByName.TryGetValue(c.Promotion.Kind, out var k) && PromotionKinds.IsFixed(k))
            .WithMessage("'value' has more decimals than the currency's minor units.").OverridePropertyName("value");
        RuleForEach(c => c.Promotion.Skus).NotEmpty().MaximumLength(64).OverridePropertyName("skus");
        RuleForEach(c => c.Promotion.Channels).Must(ChannelNames.Contains)
            .WithMessage("'channels' may hold web, app, marketplace and store.").OverridePropertyName("channels");
        RuleFor(c => c.Promotion.ValidTo).GreaterThan(c => c.Promotion.ValidFrom)
            .When(c => c.Promotion.ValidFrom is not null && c.Promotion.ValidTo is not null).OverridePropertyName("validTo");
    }

    private static PromotionKind Kind(PutPromotion c) => PromotionKinds.ByName[c.Promotion.Kind!];
}

internal sealed class PutCouponValidator : AbstractValidator<PutCoupon>
{
    public PutCouponValidator()
    {
        RuleFor(c => c.Code).NotEmpty().MaximumLength(64).Matches("^[A-Za-z0-9][A-Za-z0-9._-]*$").OverridePropertyName("code");
        RuleFor(c => c.Coupon.Promotion).NotEmpty().MaximumLength(64).OverridePropertyName("promotion");
        RuleFor(c => c.Coupon.UsageLimit).GreaterThanOrEqualTo(1).OverridePropertyName("usageLimit");
        RuleFor(c => c.Coupon.PerCustomerLimit).GreaterThanOrEqualTo(1).OverridePropertyName("perCustomerLimit");
        RuleFor(c => c.Coupon.ValidTo).GreaterThan(c => c.Coupon.ValidFrom)
            .When(c => c.Coupon.ValidFrom is not null && c.Coupon.ValidTo is not null).OverridePropertyName("validTo");
    }
}

internal sealed class PromotionHandlers(PricingDbContext db, CouponBook coupons, TimeProvider clock) :
    ICommandHandler<PutPromotion, PromotionView>,
    IQueryHandler<GetPromotion, PromotionView>,
    ICommandHandler<PutCoupon, CouponView>,
    IQueryHandler<GetCoupon, CouponView>
{
    public async ValueTask<PromotionView> Handle(PutPromotion command, CancellationToken cancellationToken)
    {
        var request = command.Promotion;
        var promotion = await db.Promotions.SingleOrDefaultAsync(p => p.Code == command.Code, cancellationToken);
        if (promotion is null)
        {
            promotion = new Promotion { Code = command.Code, Name = request.Name! };
            db.Promotions.Add(promotion);
        }

        var kind = PromotionKinds.ByName[request.Kind!];
        if (!request.RequiresCoupon && promotion.RequiresCoupon && await db.Coupons.AnyAsync(c => c.PromotionCode == command.Code, cancellationToken))
        {
            throw ProblemException.Conflict("promotion-has-coupons", "The promotion has coupons", $"Promotion {command.Code} has coupons; it cannot become automatic.", "requiresCoupon");
        }

        promotion.Name = request.Name!;
        promotion.Kind = kind;
        promotion.Value = kind == PromotionKind.FreeShipping ? 0m : request.Value;
        promotion.Currency = request.Currency;
        promotion.Skus = [.. request.Skus ?? []];
        promotion.BuyQuantity = request.BuyQuantity ?? 0;
        promotion.GetQuantity = request.GetQuantity ?? 0;
        promotion.MinOrderValue = request.MinOrderValue;
        promotion.Channels = [.. request.Channels ?? []];
        promotion.ValidFrom = request.ValidFrom;
        promotion.ValidTo = request.ValidTo;
        promotion.Priority = request.Priority;
        promotion.Exclusive = request.Exclusive;
        promotion.RequiresCoupon = request.RequiresCoupon;
        promotion.Active = request.Active ?? true;
        db.Record(clock.GetUtcNow(), command.Actor, "promotion", command.Code, request);
        return View(promotion);
    }

    public async ValueTask<PromotionView> Handle(GetPromotion query, CancellationToken cancellationToken) =>
        View(await db.Promotions.AsNoTracking().SingleOrDefaultAsync(p => p.Code == query.Code, cancellationToken)
             ?? throw ProblemException.NotFound("Promotion", $"There is no promotion {query.Code}."));

    public async ValueTask<CouponView> Handle(PutCoupon command, CancellationToken cancellationToken)
    {
        var request = command.Coupon;
        var code = command.Code.ToUpperInvariant();
        var promotion = await db.Promotions.AsNoTracking().SingleOrDefaultAsync(p => p.Code == request.Promotion, cancellationToken)
                        ?? throw new ProblemException(422, "unknown-promotion", "Unknown promotion", $"There is no promotion {request.Promotion}.", "promotion");
        if (!promotion.RequiresCoupon)
        {
            throw new ProblemException(422, "promotion-is-automatic", "The promotion applies without coupons", $"Promotion {promotion.Code} applies to every eligible order; set requiresCoupon to give it coupons.", "promotion");
        }

        var coupon = await coupons.LockAsync(code, cancellationToken);
        if (coupon is null)
        {
            coupon = new Coupon { Code = code, PromotionCode = promotion.Code };
            db.Coupons.Add(coupon);
        }

        coupon.PromotionCode = promotion.Code;
        coupon.UsageLimit = request.UsageLimit;
        coupon.PerCustomerLimit = request.PerCustomerLimit;
        coupon.ValidFrom = request.ValidFrom;
        coupon.ValidTo = request.ValidTo;
        coupon.Active = request.Active ?? true;
        db.Record(clock.GetUtcNow(), command.Actor, "coupon", code, request);
        return View(coupon);
    }

    public async ValueTask<CouponView> Handle(GetCoupon query, CancellationToken cancellationToken) =>
        View(await db.Coupons.AsNoTracking().SingleOrDefaultAsync(c => c.Code == query.Code.ToUpperInvariant(), cancellationToken)
             ?? throw ProblemException.NotFound("Coupon", $"There is no coupon {query.Code}."));

    private static PromotionView View(Promotion p) =>
        new(p.Code, p.Name, p.Kind.Kebab(), p.Value, p.Currency, p.Skus, p.BuyQuantity, p.GetQuantity, p.MinOrderValue, p.Channels, p.ValidFrom, p.ValidTo, p.Priority, p.Exclusive, p.RequiresCoupon, p.Active);

    private static CouponView View(Coupon c) =>
        new(c.Code, c.PromotionCode, c.UsageLimit, c.PerCustomerLimit, c.ValidFrom, c.ValidTo, c.Active, c.TimesUsed, c.UsageLimit is { } limit ? Math.Max(0, limit - c.TimesUsed) : null);
}

/// <summary><c>/api/v1/pricing/promotions</c> and <c>/api/v1/pricing/coupons</c>.</summary>
internal static class PromotionEndpoints
{
    public static void Map(RouteGroupBuilder group)
    {
        group.MapPut("/promotions/{code}", async (string code, PromotionRequest body, Caller caller, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new PutPromotion(code, body, caller.Actor), ct)))
            .WithName("PutPromotion")
            .RequireScope(Scopes.CatalogWrite)
            .WithSummary("Creates or replaces a promotion: order or SKU percentage/fixed, buy X get Y, free shipping; automatic or coupon-only.");
        group.MapGet("/promotions/{code}", async (string code, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetPromotion(code), ct)))
            .WithName("GetPromotion")
            .RequireScope(Scopes.CatalogRead)
            .WithSummary("A promotion.");
        group.MapPut("/coupons/{code}", async (string code, CouponRequest body, Caller caller, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new PutCoupon(code, body, caller.Actor), ct)))
            .WithName("PutCoupon")
            .RequireScope(Scopes.CatalogWrite)
            .WithSummary("Creates or changes a coupon code (stored upper-case) of a coupon-only promotion, with total and per-customer usage limits.");
        group.MapGet("/coupons/{code}", async (string code, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetCoupon(code), ct)))
            .WithName("GetCoupon")
            .RequireScope(Scopes.CatalogRead)
            .WithSummary("A coupon with its uses held by live orders and what remains.");
    }
}
