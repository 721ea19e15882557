using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Contracts.Fulfillment;
using OmsModular.Shared.Infrastructure.Hosting;

namespace OmsModular.Modules.Fulfillment.Features.Shipping;

/// <summary>A shipment was delivered (reported by the node or an operator); a repeat answers the delivered shipment.</summary>
internal sealed record DeliverShipment(Guid ShipmentId, DateTimeOffset? DeliveredAt) : ICommand<ShipmentView>;

internal sealed record DeliveryRequest(DateTimeOffset? DeliveredAt);

/// <summary>A carrier's tracking callback: the shipment with this carrier and tracking number reached its event.</summary>
internal sealed record CarrierTrackingEvent([property: JsonRequired] string Carrier, [property: JsonRequired] string TrackingNumber, [property: JsonRequired] string Event, DateTimeOffset? OccurredAt) : ICommand<ShipmentView>;

internal sealed class DeliverShipmentValidator : AbstractValidator<DeliverShipment>
{
    public DeliverShipmentValidator(TimeProvider clock) =>
        RuleFor(c => c.DeliveredAt).LessThanOrEqualTo(_ => clock.GetUtcNow().AddMinutes(5)).WithMessage("'deliveredAt' lies in the future.").OverridePropertyName("deliveredAt");
}

internal sealed class CarrierTrackingEventValidator : AbstractValidator<CarrierTrackingEvent>
{
    public CarrierTrackingEventValidator(TimeProvider clock)
    {
        RuleFor(c => c.Carrier).NotEmpty().MaximumLength(50).OverridePropertyName("carrier");
        RuleFor(c => c.TrackingNumber).NotEmpty().MaximumLength(100).OverridePropertyName("trackingNumber");
        RuleFor(c => c.Event).Must(e => e is "delivered" or "in-transit" or "out-for-delivery" or "exception")
            .WithMessage("'event' must be one of delivered, in-transit, out-for-delivery, exception.").OverridePropertyName("event");
        RuleFor(c => c.OccurredAt).LessThanOrEqualTo(_ => clock.GetUtcNow().AddMinutes(5)).WithMessage("'occurredAt' lies in the future.").OverridePropertyName("occurredAt");
    }
}

/// <summary>
/// Marks a shipment delivered and publishes <see cref="ShipmentDelivered"/> once: the fulfilment
/// order is delivered when everything it shipped arrived. Tracking events other than
/// <c>delivered</c> are acknowledged and change nothing.
/// </summary>
internal sealed class DeliverShipmentHandlers(FulfillmentDbContext db, TimeProvider clock) :
    ICommandHandler<DeliverShipment, ShipmentView>,
    ICommandHandler<CarrierTrackingEvent, ShipmentView>
{
    public async ValueTask<ShipmentView> Handle(DeliverShipment command, CancellationToken cancellationToken)
    {
        var shipment = await db.Shipments.SingleOrDefaultAsync(s => s.Id == command.ShipmentId, cancellationToken)
            ?? throw ProblemException.NotFound("Shipment", $"No shipment {command.ShipmentId}.");
        return await DeliverAsync(shipment, command.DeliveredAt, cancellationToken);
    }

    public async ValueTask<ShipmentView> Handle(CarrierTrackingEvent command, CancellationToken cancellationToken)
    {
        var carrier = command.Carrier.ToLowerInvariant(); // carriers are kept in lower case
        var shipments = await db.Shipments.Where(s => s.Carrier == carrier && s.TrackingNumber == command.TrackingNumber).ToListAsync(cancellationToken);
        var shipment = shipments.Count switch
        {
            0 => throw ProblemException.NotFound("Shipment", $"No shipment of carrier {command.Carrier} with tracking number {command.TrackingNumber}."),
            1 => shipments[0],
            _ => shipments.OrderByDescending(s => s.ShippedAt).First(), // a tracking number reused by the carrier: the latest shipment
        };
        return command.Event == "delivered" ? await DeliverAsync(shipment, command.OccurredAt, cancellationToken) : FulfilmentViews.Of(shipment);
    }

    private async Task<ShipmentView> DeliverAsync(Shipment shipment, DateTimeOffset? at, CancellationToken cancellationToken)
    {
        if (shipment.Status == ShipmentStatus.Delivered)
        {
            return FulfilmentViews.Of(shipment);
        }

        var order = await db.FulfilmentOrders.SingleAsync(f => f.Id == shipment.FulfilmentOrderId, cancellationToken);
        var deliveredAt = at is { } given && given >= shipment.ShippedAt ? given : clock.GetUtcNow();
        var lines = shipment.ReadLines();
        shipment.Status = ShipmentStatus.Delivered;
        shipment.DeliveredAt = deliveredAt;
        order.Delivered(lines, deliveredAt);
        db.Publish(
            new ShipmentDelivered(shipment.Id, shipment.OrderId, shipment.NodeCode, lines.Select(l => new AllocatedLine(l.Sku, l.Quantity)).ToArray(), deliveredAt),
            shipment.OrderId.ToString());
        return FulfilmentViews.Of(shipment);
    }
}
