using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Fulfillment.Features.Shipping;

internal sealed record ShipLine([property: JsonRequired] string Sku, [property: JsonRequired] int Quantity);

/// <summary>A shipment: carrier, service, tracking, optionally parcels and weight, and its lines (all that is packed and not shipped when none are given).</summary>
internal sealed record ShipRequest(
    [property: JsonRequired] string Carrier,
    [property: JsonRequired] string Service,
    [property: JsonRequired] string TrackingNumber,
    string? TrackingUrl = null,
    IReadOnlyList<ShipLine>? Lines = null,
    int? Parcels = null,
    decimal? WeightKg = null);

/// <summary>A shipment leaves the node; created once per <see cref="IdempotencyKey"/>.</summary>
internal sealed record ShipFulfilmentOrder(Guid Id, string IdempotencyKey, ShipRequest Shipment) : ICommand<ShipResult>;

/// <summary>The shipment, and whether this request created it (a repeat with the same key answers the first one's shipment).</summary>
internal sealed record ShipResult(ShipmentView Shipment, bool Created);

internal sealed class ShipValidator : AbstractValidator<ShipFulfilmentOrder>
{
    public ShipValidator()
    {
        RuleFor(c => c.IdempotencyKey).NotEmpty().MaximumLength(200).OverridePropertyName("Idempotency-Key");
        RuleFor(c => c.Shipment.Carrier).NotEmpty().MaximumLength(50).OverridePropertyName("carrier");
        RuleFor(c => c.Shipment.Service).NotEmpty().MaximumLength(50).OverridePropertyName("service");
        RuleFor(c => c.Shipment.TrackingNumber).NotEmpty().MaximumLength(100).Matches("^[A-Za-z0-9][A-Za-z0-9 ._-]*$").OverridePropertyName("trackingNumber");
        RuleFor(c => c.Shipment.TrackingUrl).MaximumLength(500)
            .Must(u => u is null || (Uri.TryCreate(u, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http"))
            .WithMessage("'trackingUrl' must be an absolute http(s) URL.").OverridePropertyName("trackingUrl");
        RuleFor(c => c.Shipment.Parcels).InclusiveBetween(1, 1000).OverridePropertyName("parcels");
        RuleFor(c => c.Shipment.WeightKg).GreaterThan(0).LessThan(100_000).OverridePropertyName("weightKg");
        RuleFor(c => c.Shipment.Lines).NotEmpty().When(c => c.Shipment.Lines is not null).WithMessage("'lines' names at least one line, or is left out to ship everything packed.").OverridePropertyName("lines");
        RuleForEach(c => c.Shipment.Lines).NotNull().WithMessage("'lines' holds no null entries.").OverridePropertyName("lines");
        RuleForEach(c => c.Shipment.Lines).ChildRules(line =>
        {
            line.RuleFor(l => l.Sku).NotEmpty().MaximumLength(64).OverridePropertyName("sku");
            line.RuleFor(l => l.Quantity).GreaterThan(0).OverridePropertyName("quantity");
        }).OverridePropertyName("lines");
        RuleFor(c => c.Shipment.Lines).Must(l => l!.Where(x => x is not null).Select(x => x.Sku).Distinct(StringComparer.Ordinal).Count() == l!.Count(x => x is not null))
            .When(c => c.Shipment.Lines is not null).WithMessage("Each SKU is named once.").OverridePropertyName("lines");
    }
}

/// <summary>
/// Ships part or all of what a fulfilment order packed, and publishes <see cref="ShipmentShipped"/>
/// with it: Inventory takes the stock out of the node, Orders records it and asks Payments to
/// capture the shipment's share. A repeat with the same key answers the same shipment and changes
/// nothing; the key reused for another shipment is refused. Two requests racing on one fulfilment
/// order meet on its version: one ships, the other is answered 409 and may be repeated.
/// </summary>
internal sealed class ShipFulfilmentOrderHandler(FulfillmentDbContext db, TimeProvider clock) : ICommandHandler<ShipFulfilmentOrder, ShipResult>
{
    public async ValueTask<ShipResult> Handle(ShipFulfilmentOrder command, CancellationToken cancellationToken)
    {
        var order = await FulfilmentViews.FindAsync(db, command.Id, cancellationToken);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(command.Shipment, MessageSerialization.Options))));
        if (await db.Shipments.AsNoTracking().SingleOrDefaultAsync(s => s.FulfilmentOrderId == order.Id && s.IdempotencyKey == command.IdempotencyKey, cancellationToken) is { } earlier)
        {
            return earlier.RequestHash == hash
                ? new ShipResult(FulfilmentViews.Of(earlier), Created: false)
                : throw new ProblemException(422, "idempotency-key-reused", "The Idempotency-Key was used for another shipment", $"Shipment {earlier.Id} was created with this key and other values.", "Idempotency-Key");
        }

        var now = clock.GetUtcNow();
        var request = command.Shipment;
        var lines = FulfilmentViews.Step(() => order.Ship(request.Lines?.Select(l => (l.Sku, l.Quantity)).ToArray(), now));
        var shipment = new Shipment
        {
            Id = Guid.CreateVersion7(),
            FulfilmentOrderId = order.Id,
            OrderId = order.OrderId,
            NodeCode = order.NodeCode,
            Status = ShipmentStatus.Shipped,
            Carrier = request.Carrier.ToLowerInvariant(),
            Service = request.Service,
            TrackingNumber = request.TrackingNumber,
            TrackingUrl = request.TrackingUrl,
            Parcels = request.Parcels ?? order.Parcels,
            WeightKg = request.WeightKg ?? order.WeightKg,
            Lines = Shipment.WriteLines(lines),
            IdempotencyKey = command.IdempotencyKey,
            RequestHash = hash,
            ShippedAt = now,
        };
        db.Shipments.Add(shipment);
        db.Publish(
            new ShipmentShipped(shipment.Id, order.OrderId, order.Id, order.NodeCode, lines.Select(l => new AllocatedLine(l.Sku, l.Quantity)).ToArray(),
                shipment.Carrier, shipment.Service, shipment.TrackingNumber, shipment.TrackingUrl, now),
            order.OrderId.ToString());
        return new ShipResult(FulfilmentViews.Of(shipment), Created: true);
    }
}
