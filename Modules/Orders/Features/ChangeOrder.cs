using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Modules.Orders.Persistence;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Contracts.Pricing;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Shared.Infrastructure.ReferenceData;

namespace OmsModular.Modules.Orders.Features;

/// <summary>A line as the change leaves it: its quantity of units not cancelled (more than now adds units; a new SKU adds a line).</summary>
internal sealed record ChangedLineRequest([property: JsonRequired] string Sku, [property: JsonRequired] int Quantity);

/// <summary>What a change asks for: lines (named ones only), a new shipping address, a new service level, and why.</summary>
internal sealed record ChangeOrderRequest(IReadOnlyList<ChangedLineRequest>? Lines, AddressRequest? ShippingAddress, string? ServiceLevel, string? Reason = null);

/// <summary>Changes a confirmed order before it ships; once per Idempotency-Key (the key names the change).</summary>
internal sealed record ChangeOrder(Guid OrderId, string IdempotencyKey, ChangeOrderRequest Change, Caller? Caller = null) : ICommand<OrderView>;

internal sealed class ChangeOrderValidator : AbstractValidator<ChangeOrder>
{
    public ChangeOrderValidator(OrderSettings settings)
    {
        RuleFor(c => c.IdempotencyKey).NotEmpty().MaximumLength(200).OverridePropertyName("Idempotency-Key");
        RuleFor(c => c.Change.Reason).MaximumLength(100).OverridePropertyName("reason");
        RuleFor(c => c.Change).Must(c => c.Lines is { Count: > 0 } || c.ShippingAddress is not null || c.ServiceLevel is not null)
            .WithMessage("A change names lines, a shipping address or a service level.").OverridePropertyName("lines");
        RuleFor(c => c.Change.Lines!.Count).LessThanOrEqualTo(settings.MaxLines).When(c => c.Change.Lines is not null).OverridePropertyName("lines");
        RuleForEach(c => c.Change.Lines).NotNull().WithMessage("'lines' holds no null entries.").OverridePropertyName("lines");
        RuleForEach(c => c.Change.Lines).ChildRules(line =>
        {
            line.RuleFor(l => l.Sku).NotEmpty().MaximumLength(64).Matches("^[A-Za-z0-9][A-Za-z0-9._-]*$").OverridePropertyName("sku");
            line.RuleFor(l => l.Quantity).InclusiveBetween(0, settings.MaxLineQuantity).OverridePropertyName("quantity");
        }).When(c => c.Change.Lines is not null).OverridePropertyName("lines");
        RuleFor(c => c.Change.Lines).Must(l => l!.Where(x => x is not null).Select(x => x.Sku).Distinct(StringComparer.OrdinalIgnoreCase).Count() == l!.Count(x => x is not null))
            .When(c => c.Change.Lines is not null).WithMessage("Each SKU is named once.").OverridePropertyName("lines");
        RuleFor(c => c.Change.ShippingAddress).SetValidator(new AddressValidator()!).When(c => c.Change.ShippingAddress is not null).OverridePropertyName("shippingAddress");
        RuleFor(c => c.Change.ServiceLevel).NotEmpty().MaximumLength(50).When(c => c.Change.ServiceLevel is not null).OverridePropertyName("serviceLevel");
    }
}

/// <summary>
/// A change of a confirmed order before it ships. Orders checks it against what it knows, has
/// Pricing price the order as the change leaves it (the answer shows the new total at once), and
/// commits the request with <see cref="OrderChangeRequested"/>; Fulfillment reserves the added units
/// and holds what would ship to the old delivery, Payments raises the authorisation when it costs
/// more, and only then is the change applied, all of it, or refused, none of it
/// (<see cref="Consumers.OrderChanges"/>). A change that only lowers quantities is a cancellation of
/// those units (the same flow as cancel-lines). A repeat of the key answers the order as it is now.
/// </summary>
internal sealed class ChangeOrderHandler(OrdersDbContext db, IModuleClient modules, TimeProvider clock) : ICommandHandler<ChangeOrder, OrderView>
{
    public async ValueTask<OrderView> Handle(ChangeOrder command, CancellationToken cancellationToken)
    {
        var order = OrderAccess.Visible(await db.Orders.AsSplitQuery().SingleOrDefaultAsync(o => o.Id == command.OrderId, cancellationToken), command.OrderId, command.Caller);
        var key = command.Caller?.ScopedKey(command.IdempotencyKey) ?? command.IdempotencyKey;
        var changeId = new Guid(SHA256.HashData(Encoding.UTF8.GetBytes($"change:{order.Id}:{key}")).AsSpan(0, 16));
        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(command.Change, MessageSerialization.Options))));
        if (order.Changes.FirstOrDefault(c => c.ChangeId == changeId) is { } earlier)
        {
            return earlier.RequestHash == hash ? OrderViews.Of(order) : throw KeyReused(order);
        }

        if (order.CancellationRequests.FirstOrDefault(c => c.ChangeId == changeId) is { } cancellation)
        {
            return cancellation.RequestHash is null || cancellation.RequestHash == hash ? OrderViews.Of(order) : throw KeyReused(order);
        }

        order.ActingAs(command.Caller?.Actor);
        var now = clock.GetUtcNow();
        var change = command.Change;
        var reason = change.Reason ?? "customer-request";
        var lines = (change.Lines ?? []).Select(l => (l.Sku, l.Quantity)).ToArray();
        var address = change.ShippingAddress is { } a
            ? new Address { Name = a.Name, Lines = [.. a.Lines], City = a.City, PostalCode = a.PostalCode, CountryCode = a.CountryCode.ToUpperInvariant(), Latitude = a.Latitude, Longitude = a.Longitude }
            : null;
        var serviceLevel = change.ServiceLevel is { } level && level != order.Delivery.ServiceLevel ? level : null;
        var deliveryChanged = address is not null || serviceLevel is not null;
        var lower = lines.Where(l => order.Lines.FirstOrDefault(x => x.Sku == l.Sku) is { } line && l.Quantity < line.Quantity - line.CancelledQuantity).ToArray();
        if (lower.Length > 0)
        {
            if (lower.Length < lines.Count(l => order.Lines.FirstOrDefault(x => x.Sku == l.Sku) is not { } line || l.Quantity != line.Quantity - line.CancelledQuantity) || deliveryChanged)
            {
                throw new ProblemException(400, "mixed-change", "Cancel units as a change of their own", "This change lowers quantities and also adds units or changes the delivery: send the lower quantities as one change (they cancel units) and the rest as another.", "lines");
            }

            var cancel = lower.Select(l =>
            {
                var line = order.Lines.First(x => x.Sku == l.Sku);
                return (l.Sku, line.Quantity - line.CancelledQuantity - l.Quantity);
            }).ToArray();
            return await CancelAsync(order, changeId, hash, cancel, reason, now, cancellationToken);
        }

        IReadOnlyList<(string Sku, int Added)> added;
        try
        {
            added = order.CheckChange(lines, deliveryChanged, serviceLevel is not null, address?.CountryCode);
        }
        catch (LineChangeException refused)
        {
            throw ProblemException.Conflict(refused.Code, "The order cannot be changed so", refused.Message, refused.Field);
        }
        catch (IllegalTransitionException illegal)
        {
            throw ProblemException.Conflict("illegal-transition", "The order cannot be changed now", $"Order {order.Number} is {illegal.From.Kebab()}; an order is changed from its confirmation until everything has shipped.");
        }

        if (added.Count == 0 && !deliveryChanged)
        {
            throw new ProblemException(400, "no-change", "The change changes nothing", "Every line named has the quantity it has now, and the delivery stays as it is.", "lines");
        }

        var proposal = await PriceAsync(order, added, address, serviceLevel, cancellationToken);
        var captured = order.Shipments.Sum(s => s.CaptureAmount);
        if (!order.CapturedAtConfirmation && proposal.Total < captured)
        {
            throw ProblemException.Conflict("below-captured", "The change would cost less than has been paid", $"The order as changed costs {proposal.Total} {order.Currency}, less than the {captured} {order.Currency} its shipments captured.", "lines");
        }

        var record = new OrderChange
        {
            ChangeId = changeId,
            Status = OrderChangeStatus.Requested,
            Reason = reason,
            Actor = command.Caller?.Actor,
            PreviousTotal = order.Total ?? 0m,
            NewTotal = proposal.Total,
            Proposal = JsonSerializer.Serialize(proposal, MessageSerialization.Options),
            RequestedAt = now,
            RequestHash = hash,
        };
        order.RequestChange(record, now);
        var shipTo = address ?? order.ShippingAddress;
        db.Publish(
            new OrderChangeRequested(
                order.Id,
                changeId,
                added.Select(l => new OrderEventLine(l.Sku, l.Added)).ToArray(),
                new OrderAddress(shipTo.Name, shipTo.Lines, shipTo.City, shipTo.PostalCode, shipTo.CountryCode, shipTo.Latitude, shipTo.Longitude),
                new OrderDelivery(order.Delivery.Method, serviceLevel ?? order.Delivery.ServiceLevel, order.Delivery.PickupLocation),
                deliveryChanged,
                now),
            order.Id.ToString());
        await db.SaveChangesAsync(cancellationToken); // the version check: a concurrent change makes this a 409, not a lost update
        return OrderViews.Of(order);
    }

    /// <summary>
    /// Whether the line's unit price included tax: a gross price list's line is its units' amount less
    /// its discount, gross; a net one's, net. Untaxed (the two are the same): not known, Pricing takes the SKU's list.
    /// </summary>
    private static bool? IncludesTax(OrderLine line, int digits) =>
        line.UnitPrice is not { } unit || line.Tax is null or 0m ? null
        : line.Gross == Math.Round(unit * line.Quantity, digits, MidpointRounding.AwayFromZero) - (line.Discount ?? 0m);

    private static ProblemException KeyReused(Order order) =>
        new(422, "idempotency-key-reused", "The Idempotency-Key was used for another change", $"A change of order {order.Number} was asked for with this key and another body.", "Idempotency-Key");

    /// <summary>Lower quantities only: a cancellation of those units, requested like cancel-lines.</summary>
    private async Task<OrderView> CancelAsync(Order order, Guid changeId, string hash, IReadOnlyList<(string Sku, int Quantity)> lines, string reason, DateTimeOffset now, CancellationToken cancellationToken)
    {
        CancelLinesHandler.Request(order, changeId, hash, lines, reason, now);
        db.Publish(new LineCancellationRequested(order.Id, changeId, lines.Select(l => new OrderEventLine(l.Sku, l.Quantity)).ToArray(), reason, now), order.Id.ToString());
        await db.SaveChangesAsync(cancellationToken);
        return OrderViews.Of(order);
    }

    /// <summary>
    /// The order priced as the change leaves it: every line at its agreed unit price (new lines at
    /// today's lists), with its units cancelled before still counted on the line, whose share of the
    /// line's new gross stays off the total (the same cursor that shares a line's gross among its
    /// shipments and cancellations).
    /// </summary>
    private async Task<ChangeProposal> PriceAsync(Order order, IReadOnlyList<(string Sku, int Added)> added, Address? address, string? serviceLevel, CancellationToken cancellationToken)
    {
        var more = added.ToDictionary(a => a.Sku, a => a.Added, StringComparer.Ordinal);
        var digits = Currencies.MinorUnits(order.Currency);
        var lines = order.Lines.OrderBy(l => l.LineNumber)
            .Select(l => new RepriceLine(l.Sku, l.Quantity + more.GetValueOrDefault(l.Sku), l.UnitPrice, IncludesTax(l, digits), l.MarketplaceUnitPrice))
            .Concat(added.Where(a => order.Lines.All(l => l.Sku != a.Sku)).Select(a => new RepriceLine(a.Sku, a.Added, null, null, null)))
            .ToArray();
        var priced = await modules.SendAsync(
            new RepriceOrder(order.Id, order.Channel.Kebab(), order.Currency, lines, (address ?? order.ShippingAddress).CountryCode, order.Delivery.Method,
                serviceLevel ?? order.Delivery.ServiceLevel, order.CouponCodes, order.Customer.Id, order.PlacedAt),
            cancellationToken);
        if (!priced.Priced)
        {
            throw new ProblemException(422, priced.FailureReason ?? "unpriced", "The changed order cannot be priced", priced.Detail ?? "Pricing could not price the order as changed.",
                priced.FailureReason == "no-shipping-rate" ? "serviceLevel" : "lines");
        }

        var proposed = priced.Lines.Select(p =>
        {
            var line = order.Lines.FirstOrDefault(l => l.Sku == p.Sku);
            var cancelled = line?.CancelledQuantity ?? 0;
            return new ProposedLine(p.Sku, line?.Quantity ?? 0, p.Quantity, more.GetValueOrDefault(p.Sku), cancelled, p.UnitPrice, p.Discount, p.Net, p.Tax, p.Gross);
        }).ToArray();
        decimal Share(decimal amount, ProposedLine l) => Math.Round(amount * l.Cancelled / l.Quantity, digits, MidpointRounding.AwayFromZero);
        var appliedBefore = order.Coupons.Where(c => c.Status == "applied").Select(c => c.Code).ToHashSet(StringComparer.Ordinal);
        return new ChangeProposal(
            proposed,
            address,
            serviceLevel,
            priced.Total - proposed.Sum(l => Share(l.Gross, l)),
            priced.TaxTotal - proposed.Sum(l => Share(l.Tax, l)),
            priced.ShippingGross,
            priced.DiscountTotal,
            priced.Promotions.Select(p => new AppliedDiscount { Code = p.Code, Name = p.Name, Kind = p.Kind, Amount = p.Amount, CouponCode = p.CouponCode }).ToArray(),
            order.Coupons.Select(c => appliedBefore.Contains(c.Code) && priced.Coupons.FirstOrDefault(p => p.Code == c.Code) is { } now
                    ? new CouponResult { Code = c.Code, Status = now.Status, Reason = now.Reason }
                    : c)
                .ToArray(),
            order.Total ?? 0m);
    }
}
