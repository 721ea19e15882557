using System.Text.Json.Serialization;
using FluentValidation;
using OmsModular.Shared.Infrastructure.Hosting;
using Mediator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Pricing.Domain;
using OmsModular.Modules.Pricing.Persistence;
using OmsModular.Shared.Infrastructure.ReferenceData;
using OmsModular.Shared.Infrastructure.Access;

namespace OmsModular.Modules.Pricing.Features;

internal sealed record PriceListRequest(string? Channel, [property: JsonRequired] string Currency, bool PricesIncludeTax, DateTimeOffset? ValidFrom, DateTimeOffset? ValidTo, [property: JsonRequired] IReadOnlyList<PriceRequest> Prices);

internal sealed record PriceRequest([property: JsonRequired] string Sku, [property: JsonRequired] int MinQuantity, [property: JsonRequired] decimal UnitPrice);

internal sealed record PutPriceList(string Code, PriceListRequest List, string? Actor = null) : ICommand<int>;

internal sealed record PutTaxRate(string CountryCode, decimal Rate, string? Actor = null) : ICommand<decimal>;

internal sealed record PutShippingRate(string ServiceLevel, string Currency, decimal Amount, string? Actor = null) : ICommand<decimal>;

internal sealed record QuoteCart(QuoteInput Input) : IQuery<Quote>;

/// <summary>A price list was stored with this many prices.</summary>
internal sealed record PriceListSaved(int Prices);

internal sealed record TaxRateView(decimal Rate);

internal sealed record ShippingRateView(decimal Amount);

internal sealed record RateRequest([property: JsonRequired] decimal Rate);

internal sealed record AmountRequest([property: JsonRequired] decimal Amount);

internal sealed class PutPriceListValidator : AbstractValidator<PutPriceList>
{
    public PutPriceListValidator()
    {
        RuleFor(c => c.Code).NotEmpty().MaximumLength(64).Matches("^[A-Za-z0-9][A-Za-z0-9._-]*$").OverridePropertyName("code");
        RuleFor(c => c.List.Channel).Must(c => c is null or "web" or "app" or "marketplace" or "store")
            .WithMessage("'channel' must be web, app, marketplace, store, or absent for the default list.").OverridePropertyName("channel");
        RuleFor(c => c.List.Currency).Must(Currencies.IsKnown).WithMessage("'currency' must be an ISO 4217 code.").OverridePropertyName("currency");
        RuleFor(c => c.List.ValidTo).GreaterThan(c => c.List.ValidFrom).When(c => c.List.ValidFrom is not null && c.List.ValidTo is not null).OverridePropertyName("validTo");
        RuleFor(c => c.List.Prices).NotNull().OverridePropertyName("prices");
        RuleForEach(c => c.List.Prices).ChildRules(price =>
        {
            price.RuleFor(p => p.Sku).NotEmpty().MaximumLength(64);
            price.RuleFor(p => p.MinQuantity).GreaterThanOrEqualTo(1);
            price.RuleFor(p => p.UnitPrice).IsAmount();
        }).OverridePropertyName("prices");
        RuleFor(c => c.List.Prices).Must(p => p!.Select(x => (x.Sku, x.MinQuantity)).Distinct().Count() == p!.Count)
            .WithMessage("A (sku, minQuantity) tier appears twice.").When(c => c.List.Prices is not null).OverridePropertyName("prices");
        RuleFor(c => c).Must(c => c.List.Prices is null || !Currencies.IsKnown(c.List.Currency)
                                  || c.List.Prices.All(p => decimal.Round(p.UnitPrice, Currencies.MinorUnits(c.List.Currency!)) == p.UnitPrice))
            .WithMessage("A unit price has more decimals than the currency's minor units.").OverridePropertyName("prices");
    }
}

internal sealed class PutTaxRateValidator : AbstractValidator<PutTaxRate>
{
    public PutTaxRateValidator()
    {
        RuleFor(c => c.CountryCode).Must(Countries.IsKnown).WithMessage("'countryCode' must be an ISO 3166-1 alpha-2 code.");
        RuleFor(c => c.Rate).InclusiveBetween(0m, 1m).PrecisionScale(7, 6, ignoreTrailingZeros: true);
    }
}

internal sealed class PutShippingRateValidator : AbstractValidator<PutShippingRate>
{
    public PutShippingRateValidator()
    {
        RuleFor(c => c.ServiceLevel).NotEmpty().MaximumLength(50);
        RuleFor(c => c.Currency).Must(Currencies.IsKnown).WithMessage("'currency' must be an ISO 4217 code.");
        RuleFor(c => c.Amount).IsAmount();
    }
}

internal sealed class QuoteCartValidator : AbstractValidator<QuoteCart>
{
    public QuoteCartValidator()
    {
        RuleFor(q => q.Input.Currency).Must(Currencies.IsKnown).WithMessage("'currency' must be an ISO 4217 code.").OverridePropertyName("currency");
        RuleFor(q => q.Input.CountryCode).Must(Countries.IsKnown).WithMessage("'countryCode' must be an ISO 3166-1 alpha-2 code.").OverridePropertyName("countryCode");
        RuleFor(q => q.Input.Channel).Must(c => c is "web" or "app" or "marketplace" or "store")
            .WithMessage("'channel' must be one of web, app, marketplace, store.").OverridePropertyName("channel");
        RuleFor(q => q.Input.Lines).NotEmpty().Must(l => l.Count <= 100).WithMessage("A quote holds one to 100 lines.").OverridePropertyName("lines");
        RuleForEach(q => q.Input.Lines).ChildRules(l =>
        {
            l.RuleFor(x => x.Sku).NotEmpty().MaximumLength(64);
            l.RuleFor(x => x.Quantity).InclusiveBetween(1, 100_000);
            l.RuleFor(x => x.MarketplaceUnitPrice).IsAmount();
        }).OverridePropertyName("lines");
        RuleFor(q => q.Input.ServiceLevel).MaximumLength(50).OverridePropertyName("serviceLevel");
        RuleFor(q => q.Input.CustomerId).MaximumLength(100).OverridePropertyName("customerId");
        RuleFor(q => q.Input.CouponCodes).Must(c => c is null || (c.Count <= 10 && c.All(x => !string.IsNullOrWhiteSpace(x) && x.Length <= 50)))
            .WithMessage("At most 10 coupon codes of up to 50 characters.").OverridePropertyName("couponCodes");
        RuleFor(q => q.Input.DeliveryMethod).Must(m => m is "ship" or "pickup").WithMessage("'deliveryMethod' must be ship or pickup.").OverridePropertyName("deliveryMethod");
    }
}

internal sealed class PricingHandlers(PricingDbContext db, PriceCalculator calculator, TimeProvider clock) :
    ICommandHandler<PutPriceList, int>,
    ICommandHandler<PutTaxRate, decimal>,
    ICommandHandler<PutShippingRate, decimal>,
    IQueryHandler<QuoteCart, Quote>
{
    public async ValueTask<int> Handle(PutPriceList command, CancellationToken cancellationToken)
    {
        var existing = await db.PriceLists.SingleOrDefaultAsync(l => l.Code == command.Code, cancellationToken);
        if (existing is not null)
        {
            db.PriceLists.Remove(existing);
            await db.SaveChangesAsync(cancellationToken);
        }

        db.PriceLists.Add(new PriceList
        {
            Code = command.Code,
            Channel = command.List.Channel,
            Currency = command.List.Currency!,
            PricesIncludeTax = command.List.PricesIncludeTax,
            ValidFrom = command.List.ValidFrom,
            ValidTo = command.List.ValidTo,
            Prices = command.List.Prices!.Select(p => new Price { Sku = p.Sku, MinQuantity = p.MinQuantity, UnitPrice = p.UnitPrice }).ToList(),
        });
        db.Record(clock.GetUtcNow(), command.Actor, "price-list", command.Code, command.List);
        return command.List.Prices!.Count;
    }

    public async ValueTask<decimal> Handle(PutTaxRate command, CancellationToken cancellationToken)
    {
        var rate = await db.TaxRates.FindAsync([command.CountryCode], cancellationToken);
        if (rate is null)
        {
            db.TaxRates.Add(new TaxRate { CountryCode = command.CountryCode, Rate = command.Rate });
        }
        else
        {
            rate.Rate = command.Rate;
        }

        db.Record(clock.GetUtcNow(), command.Actor, "tax-rate", command.CountryCode, new { command.Rate });
        return command.Rate;
    }

    public async ValueTask<decimal> Handle(PutShippingRate command, CancellationToken cancellationToken)
    {
        var rate = await db.ShippingRates.FindAsync([command.ServiceLevel, command.Currency], cancellationToken);
        if (rate is null)
        {
            db.ShippingRates.Add(new ShippingRate { ServiceLevel = command.ServiceLevel, Currency = command.Currency, Amount = command.Amount });
        }
        else
        {
            rate.Amount = command.Amount;
        }

        db.Record(clock.GetUtcNow(), command.Actor, "shipping-rate", $"{command.ServiceLevel}/{command.Currency}", new { command.Amount });
        return command.Amount;
    }

    public async ValueTask<Quote> Handle(QuoteCart query, CancellationToken cancellationToken) =>
        await calculator.QuoteAsync(query.Input, cancellationToken);
}

/// <summary><c>/api/v1/pricing</c>: price lists, tax and shipping rates, quotes.</summary>
internal static class PricingEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/v1/pricing").WithTags("Pricing");
        group.MapPut("/price-lists/{code}", async (string code, PriceListRequest body, Caller caller, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(new PriceListSaved(await sender.Send(new PutPriceList(code, body, caller.Actor), ct))))
            .WithName("PutPriceList")
            .RequireScope(Scopes.CatalogWrite)
            .WithSummary("Creates or replaces a price list (default: no channel) with its prices and quantity tiers.");
        group.MapPut("/tax-rates/{countryCode}", async (string countryCode, RateRequest body, Caller caller, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(new TaxRateView(await sender.Send(new PutTaxRate(countryCode, body.Rate, caller.Actor), ct))))
            .WithName("PutTaxRate")
            .RequireScope(Scopes.CatalogWrite)
            .WithSummary("Sets the tax rate of a country (0.19 = 19 %).");
        group.MapPut("/shipping-rates/{serviceLevel}/{currency}", async (string serviceLevel, string currency, AmountRequest body, Caller caller, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(new ShippingRateView(await sender.Send(new PutShippingRate(serviceLevel, currency, body.Amount, caller.Actor), ct))))
            .WithName("PutShippingRate")
            .RequireScope(Scopes.CatalogWrite)
            .WithSummary("Sets the net shipping charge of a service level in a currency.");
        group.MapPost("/quote", async (QuoteInput body, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new QuoteCart(body), ct)))
            .WithName("QuoteCart")
            .RequireScope(Scopes.CatalogRead)
            .WithSummary("Prices a cart without placing an order (coupons are checked, not used).");
        group.MapGet("/changes", async (ISender sender, string? kind, string? key, int? limit, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ListCatalogChanges(kind, key, limit ?? 100), ct)))
            .WithName("ListCatalogChanges")
            .RequireScope(Scopes.CatalogWrite)
            .WithSummary("The catalogue's change log, newest first: who changed which price list, rate, promotion or coupon, and to what.");
        Promotions.PromotionEndpoints.Map(group);
    }
}
