using Mediator;
using OmsModular.Modules.Payments.Features;
using OmsModular.Shared.Contracts.Orders;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Payments.Consumers;

/// <summary>Orders committed that a share of an order's total is due (a shipment left): Payments captures it, once per capture id.</summary>
internal sealed class CaptureOnRequest(ISender sender) : IIntegrationEventBatchHandler<CaptureRequested>
{
    public async Task HandleAsync(IReadOnlyList<Delivered<CaptureRequested>> batch, CancellationToken cancellationToken) =>
        await sender.Send(new CapturePaymentsCommand(batch.Select(d => d.Message).ToArray()), cancellationToken);
}
