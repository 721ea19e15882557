using System.Text.Json;
using FluentValidation;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Pricing.Domain;
using OmsModular.Modules.Pricing.Persistence;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Pricing.Features;

internal sealed record CatalogChangeView(Guid Id, DateTimeOffset At, string Actor, string Kind, string Key, JsonElement Body);

internal sealed record ListCatalogChanges(string? Kind, string? Key, int Limit) : IQuery<IReadOnlyList<CatalogChangeView>>;

internal sealed class ListCatalogChangesValidator : AbstractValidator<ListCatalogChanges>
{
    public ListCatalogChangesValidator()
    {
        RuleFor(q => q.Kind).Must(k => k is null || CatalogChanges.Kinds.Contains(k))
            .WithMessage($"'kind' must be one of {string.Join(", ", CatalogChanges.Kinds)}.").OverridePropertyName("kind");
        RuleFor(q => q.Key).MaximumLength(64).OverridePropertyName("key");
        RuleFor(q => q.Limit).InclusiveBetween(1, 500).OverridePropertyName("limit");
    }
}

internal static class CatalogChanges
{
    public static readonly string[] Kinds = ["price-list", "tax-rate", "shipping-rate", "promotion", "coupon"];

    /// <summary>Adds the change to the same unit of work as the change itself.</summary>
    public static void Record(this PricingDbContext db, DateTimeOffset at, string? actor, string kind, string key, object body) =>
        db.CatalogChanges.Add(new CatalogChange
        {
            At = at,
            Actor = actor ?? "system",
            Kind = kind,
            Key = key,
            Body = JsonSerializer.Serialize(body, MessageSerialization.Options),
        });
}

internal sealed class ListCatalogChangesHandler(PricingDbContext db) : IQueryHandler<ListCatalogChanges, IReadOnlyList<CatalogChangeView>>
{
    public async ValueTask<IReadOnlyList<CatalogChangeView>> Handle(ListCatalogChanges query, CancellationToken cancellationToken)
    {
        var changes = db.CatalogChanges.AsNoTracking();
        if (query.Kind is { } kind)
        {
            changes = changes.Where(c => c.Kind == kind);
        }

        if (query.Key is { } key)
        {
            changes = changes.Where(c => c.Key == key);
        }

        var rows = await changes.OrderByDescending(c => c.Id).Take(query.Limit).ToListAsync(cancellationToken);
        return rows.Select(c => new CatalogChangeView(c.Id, c.At, c.Actor, c.Kind, c.Key, JsonDocument.Parse(c.Body).RootElement.Clone())).ToArray();
    }
}
