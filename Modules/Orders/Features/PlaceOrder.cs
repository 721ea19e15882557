using Microsoft.EntityFrameworkCore;
using System.Text.Json.Serialization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FluentValidation;
using Mediator;
using Microsoft.Extensions.Configuration;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Mediation;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ReferenceData;

namespace OmsModular.Modules.Orders.Features;

// ---- the request as a channel sends it ----

internal sealed record PlaceOrderRequest(
    [property: JsonRequired] SalesChannel Channel,
    string? Marketplace,
    string? ExternalOrderId,
    [property: JsonRequired] CustomerRequest Customer,
    [property: JsonRequired] string Currency,
    [property: JsonRequired] IReadOnlyList<LineRequest> Lines,
    [property: JsonRequired] AddressRequest ShippingAddress,
    [property: JsonRequired] DeliveryRequest Delivery,
    IReadOnlyList<string>? CouponCodes,
    [property: JsonRequired] PaymentRequest Payment);

internal sealed record CustomerRequest([property: JsonRequired] string Id, [property: JsonRequired] string Email, [property: JsonRequired] string Name);

internal sealed record LineRequest([property: JsonRequired] string Sku, [property: JsonRequired] int Quantity, decimal? UnitPrice);

internal sealed record AddressRequest([property: JsonRequired] string Name, [property: JsonRequired] IReadOnlyList<string> Lines, [property: JsonRequired] string City, [property: JsonRequired] string PostalCode, [property: JsonRequired] string CountryCode, double? Latitude, double? Longitude);

internal sealed record DeliveryRequest([property: JsonRequired] string Method, string? ServiceLevel, string? PickupLocation);

internal sealed record PaymentRequest([property: JsonRequired] string Method, [property: JsonRequired] string Token);

/// <summary>Capture: validate what Orders can alone, commit the order and <see cref="OrderPlaced"/>, answer at once.</summary>
/// <remarks>A channel-bound caller places only orders of its channel (and marketplace).</remarks>
internal sealed record PlaceOrder(string IdempotencyKey, PlaceOrderRequest Order, Caller? Caller = null) : ICommand<PlaceOrderResult>, IOwnUnitOfWork;

internal sealed record PlaceOrderResult(Guid OrderId, string OrderNumber, string Status, bool Replayed);

internal sealed class OrderSettings(IConfiguration configuration)
{
    public int MaxLineQuantity => configuration.GetValue("Oms:Orders:MaxLineQuantity", 1_000);

    public int MaxLines => configuration.GetValue("Oms:Orders:MaxLines", 100);

    /// <summary>How long the pipeline may take before a still-pending order is rejected with <c>timeout</c>.</summary>
    public TimeSpan StepTimeout => configuration.GetValue("Oms:Orders:StepTimeout", TimeSpan.FromMinutes(10));

    /// <summary>Hold rule: orders whose total exceeds this go on hold before payment (none by default).</summary>
    public decimal? HoldTotalAbove => configuration.GetValue<decimal?>("Oms:Orders:Holds:TotalAbove");

    /// <summary>The channels whose orders are captured in full at confirmation instead of per shipment (<c>Oms:Orders:CaptureAtConfirmation</c>, e.g. <c>store</c>; none by default).</summary>
    public bool CapturesAtConfirmation(string channel) =>
        (configuration["Oms:Orders:CaptureAtConfirmation"] ?? string.Empty)
        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .Contains(channel, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// How long after everything arrived the customer may still return it (<c>Oms:Orders:ReturnWindows:{channel}</c>,
    /// else <c>Oms:Orders:ReturnWindow</c>, 30 days); then the order is completed.
    /// </summary>
    public TimeSpan ReturnWindow(string channel) =>
        configuration.GetValue<TimeSpan?>($"Oms:Orders:ReturnWindows:{channel}") ?? configuration.GetValue("Oms:Orders:ReturnWindow", TimeSpan.FromDays(30));

    /// <summary>Hold rule: orders shipping to these countries go on hold before payment.</summary>
    public IReadOnlySet<string> HoldReviewCountries =>
        (configuration["Oms:Orders:Holds:ReviewCountries"] ?? string.Empty)
        .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
        .ToHashSet(StringComparer.OrdinalIgnoreCase);
}

internal sealed class PlaceOrderValidator : AbstractValidator<PlaceOrder>
{
    public PlaceOrderValidator(OrderSettings settings)
    {
        RuleFor(c => c.IdempotencyKey).NotEmpty().MaximumLength(200).OverridePropertyName("Idempotency-Key");
        RuleFor(c => c.Order.Channel).NotNull().OverridePropertyName("channel");
        When(c => c.Order.Channel == SalesChannel.Marketplace, () =>
        {
            RuleFor(c => c.Order.Marketplace).NotEmpty().MaximumLength(50).OverridePropertyName("marketplace");
            RuleFor(c => c.Order.ExternalOrderId).NotEmpty().MaximumLength(100).OverridePropertyName("externalOrderId");
        }).Otherwise(() =>
        {
            RuleFor(c => c.Order.Marketplace).Null().WithMessage("Only marketplace orders name a marketplace.").OverridePropertyName("marketplace");
            RuleForEach(c => c.Order.Lines).Must(l => l.UnitPrice is null)
                .WithMessage("Only marketplace lines carry the price paid there.").OverridePropertyName("lines");
        });

        RuleFor(c => c.Order.Customer).NotNull().OverridePropertyName("customer");
        When(c => c.Order.Customer is not null, () =>
        {
            RuleFor(c => c.Order.Customer!.Id).NotEmpty().MaximumLength(100).OverridePropertyName("customer.id");
            RuleFor(c => c.Order.Customer!.Email).NotEmpty().MaximumLength(254).EmailAddress().OverridePropertyName("customer.email");
            RuleFor(c => c.Order.Customer!.Name).NotEmpty().MaximumLength(200).OverridePropertyName("customer.name");
        });

        RuleFor(c => c.Order.Currency).Must(Currencies.IsKnown).WithMessage("'currency' must be an ISO 4217 code such as EUR.").OverridePropertyName("currency");

        RuleFor(c => c.Order.Lines).NotEmpty().WithMessage("An order needs at least one line.").OverridePropertyName("lines");
        When(c => c.Order.Lines is { Count: > 0 }, () =>
        {
            RuleFor(c => c.Order.Lines!.Count).LessThanOrEqualTo(settings.MaxLines).OverridePropertyName("lines");
            RuleFor(c => c.Order.Lines!).Must(l => l.Select(x => x.Sku).Distinct(StringComparer.OrdinalIgnoreCase).Count() == l.Count)
                .WithMessage("A SKU appears on two lines; put its quantities on one line.").OverridePropertyName("lines");
            RuleForEach(c => c.Order.Lines).ChildRules(line =>
            {
                line.RuleFor(l => l.Sku).NotEmpty().MaximumLength(64).Matches("^[A-Za-z0-9][A-Za-z0-9._-]*$");
                line.RuleFor(l => l.Quantity).InclusiveBetween(1, settings.MaxLineQuantity);
                line.RuleFor(l => l.UnitPrice).IsAmount();
            }).OverridePropertyName("lines");
        });

        RuleFor(c => c.Order.ShippingAddress).NotNull().SetValidator(new AddressValidator()!).OverridePropertyName("shippingAddress");

        RuleFor(c => c.Order.Delivery).NotNull().OverridePropertyName("delivery");
        When(c => c.Order.Delivery is not null, () =>
        {
            RuleFor(c => c.Order.Delivery!.Method).Must(m => m is "ship" or "pickup")
                .WithMessage("'method' must be ship or pickup.").OverridePropertyName("delivery.method");
            RuleFor(c => c.Order.Delivery!.ServiceLevel).NotEmpty().MaximumLength(50).When(c => c.Order.Delivery!.Method == "ship")
                .OverridePropertyName("delivery.serviceLevel");
            RuleFor(c => c.Order.Delivery!.PickupLocation).NotEmpty().MaximumLength(64).When(c => c.Order.Delivery!.Method == "pickup")
                .OverridePropertyName("delivery.pickupLocation");
        });

        RuleFor(c => c.Order.CouponCodes).Must(c => c is null || (c.Count <= 10 && c.All(x => !string.IsNullOrWhiteSpace(x) && x.Length <= 50)))
            .WithMessage("At most 10 coupon codes of up to 50 characters.").OverridePropertyName("couponCodes");

        RuleFor(c => c.Order.Payment).NotNull().OverridePropertyName("payment");
        When(c => c.Order.Payment is not null, () =>
        {
            RuleFor(c => c.Order.Payment!.Method).NotEmpty().MaximumLength(50).OverridePropertyName("payment.method");
            RuleFor(c => c.Order.Payment!.Token).NotEmpty().MaximumLength(200)
                .Matches("^[\\x21-\\x7E]+$").WithMessage("'token' is the provider's token: printable ASCII without spaces.")
                .Must(t => !CardNumbers.LooksLikeCardNumber(t))
                .WithMessage("This looks like a card number. Send the payment provider's token, never card data.")
                .OverridePropertyName("payment.token");
        });
    }
}

/// <summary>A shipping address as a channel sends it (an order, or a change of its delivery).</summary>
internal sealed class AddressValidator : AbstractValidator<AddressRequest>
{
    public AddressValidator()
    {
        RuleFor(a => a.Name).NotEmpty().MaximumLength(200).OverridePropertyName("name");
        RuleFor(a => a.Lines).NotEmpty().Must(l => l!.Count <= 3 && l.All(x => !string.IsNullOrWhiteSpace(x) && x.Length <= 200))
            .WithMessage("An address has one to three non-empty lines.").OverridePropertyName("lines");
        RuleFor(a => a.City).NotEmpty().MaximumLength(100).OverridePropertyName("city");
        RuleFor(a => a.PostalCode).NotEmpty().MaximumLength(20).OverridePropertyName("postalCode");
        RuleFor(a => a.CountryCode).Must(Countries.IsKnown)
            .WithMessage("'countryCode' must be an ISO 3166-1 alpha-2 code such as DE.").OverridePropertyName("countryCode");
        RuleFor(a => a.Latitude).InclusiveBetween(-90, 90).OverridePropertyName("latitude");
        RuleFor(a => a.Longitude).InclusiveBetween(-180, 180).OverridePropertyName("longitude");
        RuleFor(a => a).Must(a => a.Latitude.HasValue == a.Longitude.HasValue)
            .WithMessage("Give both latitude and longitude, or neither.").OverridePropertyName("latitude");
    }
}

internal static class CardNumbers
{
    /// <summary>13–19 digits (spaces and dashes allowed) that pass the Luhn check.</summary>
    public static bool LooksLikeCardNumber(string? value)
    {
        if (value is null)
        {
            return false;
        }

        var digits = value.Where(c => c is not (' ' or '-')).ToArray();
        if (digits.Length is < 13 or > 19 || !digits.All(char.IsAsciiDigit))
        {
            return false;
        }

        var sum = 0;
        for (var i = 0; i < digits.Length; i++)
        {
            var d = digits[digits.Length - 1 - i] - '0';
            if (i % 2 == 1)
            {
                d = d * 2 > 9 ? (d * 2) - 9 : d * 2;
            }

            sum += d;
        }

        return sum % 10 == 0;
    }
}

/// <summary>
/// Hands the validated order to the <see cref="OrderIntake"/>, which commits it (with its
/// idempotency key and <see cref="OrderPlaced"/>) together with the other orders arriving at the
/// same moment. The writer owns the unit of work, so no transaction is opened around this handler.
/// </summary>
internal sealed class PlaceOrderHandler(OrderIntake writer, TimeProvider clock, PaymentTokenSealer sealer, CaptureReferences references, Persistence.OrdersDbContext db)
    : ICommandHandler<PlaceOrder, PlaceOrderResult>
{
    public async ValueTask<PlaceOrderResult> Handle(PlaceOrder command, CancellationToken cancellationToken)
    {
        if (command.Caller is { IsChannelBound: true } caller
            && !caller.MaySee(command.Order.Channel.Kebab(), command.Order.Marketplace))
        {
            throw new ProblemException(
                403,
                "channel-not-allowed",
                "This credential may not place orders of this channel",
                $"The credential is bound to channel {caller.Channel}{(caller.Marketplace is null ? string.Empty : $" (marketplace {caller.Marketplace})")}; it places only that channel's orders.",
                caller.Marketplace is not null && command.Order.Channel == SalesChannel.Marketplace ? "marketplace" : "channel");
        }

        try
        {
            await references.CheckAsync(command.Order, cancellationToken);
        }
        catch (ProblemException)
        {
            // A repeat of a request that was taken (before the reference changed, or while its owner
            // could not be asked) answers as the first time, below.
            var scoped = ScopedKey(command);
            if (!await db.IdempotencyKeys.AsNoTracking().AnyAsync(k => k.Key == scoped, cancellationToken))
            {
                throw;
            }
        }

        var hash = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(command.Order, MessageSerialization.Options))));
        var orderId = Guid.CreateVersion7();
        return await writer.CaptureAsync(new Capture(ScopedKey(command), hash, command.Order, orderId, clock.GetUtcNow(), command.Caller?.Actor,
            await sealer.SealAsync(command.Order.Payment!.Token!, orderId, cancellationToken)));
    }

    /// <summary>
    /// Idempotency keys are per client: another client's key of the same text is another key (so a
    /// client can neither take nor learn of another's). Stored as <c>&lt;client hash&gt;:&lt;key&gt;</c>.
    /// </summary>
    internal static string ScopedKey(PlaceOrder command) =>
        command.Caller is { } caller ? caller.ScopedKey(command.IdempotencyKey) : command.IdempotencyKey;
}
