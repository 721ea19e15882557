using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Modules.Fulfillment.Persistence;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.ReferenceData;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Modules.Fulfillment.Features.Shipping;

namespace OmsModular.Modules.Fulfillment.Features;

internal sealed record NodeRequest([property: JsonRequired] string Name, [property: JsonRequired] NodeKind Kind, [property: JsonRequired] string CountryCode, [property: JsonRequired] double Latitude, [property: JsonRequired] double Longitude, [property: JsonRequired] bool CanShip, [property: JsonRequired] bool CanPickup, int DailyCapacity = 0, int Priority = 0, bool Active = true);

internal sealed record NodeView(string Code, string Name, string Kind, string CountryCode, double Latitude, double Longitude, bool CanShip, bool CanPickup, int DailyCapacity, int Priority, bool Active);

internal sealed record PutNode(string Code, NodeRequest Node) : ICommand<NodeView>;

internal sealed record ListNodes : IQuery<IReadOnlyList<NodeView>>;

internal sealed record GetRoutingDecisions(Guid OrderId) : IQuery<IReadOnlyList<RoutingDecisionView>>;

internal sealed record RoutingDecisionView(Guid Id, Guid OrderId, bool Success, string? FailureReason, string Strategy, int Attempts, System.Text.Json.JsonElement Explanation, DateTimeOffset DecidedAt);

internal sealed class PutNodeValidator : AbstractValidator<PutNode>
{
    public PutNodeValidator()
    {
        RuleFor(c => c.Code).NotEmpty().MaximumLength(64).Matches("^[A-Za-z0-9][A-Za-z0-9._-]*$").OverridePropertyName("code");
        RuleFor(c => c.Node.Name).NotEmpty().MaximumLength(200).OverridePropertyName("name");
        RuleFor(c => c.Node.Kind).NotNull().OverridePropertyName("kind");
        RuleFor(c => c.Node.CountryCode).Must(Countries.IsKnown).WithMessage("'countryCode' must be an ISO 3166-1 alpha-2 code.").OverridePropertyName("countryCode");
        RuleFor(c => c.Node.Latitude).NotNull().InclusiveBetween(-90, 90).OverridePropertyName("latitude");
        RuleFor(c => c.Node.Longitude).NotNull().InclusiveBetween(-180, 180).OverridePropertyName("longitude");
        RuleFor(c => c.Node.DailyCapacity).GreaterThanOrEqualTo(0).OverridePropertyName("dailyCapacity");
        RuleFor(c => c.Node.Priority).InclusiveBetween(0, 1000).OverridePropertyName("priority");
        RuleFor(c => c.Node).Must(n => n.CanShip || n.CanPickup).WithMessage("A node ships, offers pickup, or both.").OverridePropertyName("canShip");
    }
}

internal sealed class NodeHandlers(FulfillmentDbContext db, TimeProvider clock) :
    ICommandHandler<PutNode, NodeView>,
    IQueryHandler<ListNodes, IReadOnlyList<NodeView>>,
    IQueryHandler<GetRoutingDecisions, IReadOnlyList<RoutingDecisionView>>
{

    public async ValueTask<NodeView> Handle(PutNode command, CancellationToken cancellationToken)
    {
        var request = command.Node;
        var node = await db.Nodes.FindAsync([command.Code], cancellationToken);
        if (node is null)
        {
            node = new Node { Code = command.Code, Name = request.Name!, CountryCode = request.CountryCode! };
            db.Nodes.Add(node);
        }

        node.Name = request.Name!;
        node.Kind = request.Kind;
        node.CountryCode = request.CountryCode!;
        node.Latitude = request.Latitude;
        node.Longitude = request.Longitude;
        node.CanShip = request.CanShip;
        node.CanPickup = request.CanPickup;
        node.DailyCapacity = request.DailyCapacity;
        node.Priority = request.Priority;
        node.Active = request.Active;
        node.UpdatedAt = clock.GetUtcNow();
        return View(node);
    }

    public async ValueTask<IReadOnlyList<NodeView>> Handle(ListNodes query, CancellationToken cancellationToken) =>
        (await db.Nodes.AsNoTracking().OrderBy(n => n.Code).ToListAsync(cancellationToken)).Select(View).ToArray();

    public async ValueTask<IReadOnlyList<RoutingDecisionView>> Handle(GetRoutingDecisions query, CancellationToken cancellationToken) =>
        (await db.Decisions.AsNoTracking().Where(d => d.OrderId == query.OrderId).OrderBy(d => d.DecidedAt).ToListAsync(cancellationToken))
        .Select(d => new RoutingDecisionView(d.Id, d.OrderId, d.Success, d.FailureReason, d.Strategy, d.Attempts,
            System.Text.Json.JsonDocument.Parse(d.Explanation).RootElement, d.DecidedAt))
        .ToArray();

    private static NodeView View(Node n) =>
        new(n.Code, n.Name, n.Kind.ToString().ToLowerInvariant(), n.CountryCode, n.Latitude, n.Longitude, n.CanShip, n.CanPickup, n.DailyCapacity, n.Priority, n.Active);
}

/// <summary><c>/api/v1/fulfillment</c>: nodes, routing decisions, fulfilment orders and shipments.</summary>
internal static class FulfillmentEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/v1/fulfillment").WithTags("Fulfillment");
        group.MapPut("/nodes/{code}", async (string code, NodeRequest body, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new PutNode(code, body), ct)))
            .WithName("PutNode")
            .RequireScope(Scopes.FulfillmentWrite)
            .WithSummary("Creates or updates a warehouse or store: coordinates, country, capabilities, daily capacity, priority, active flag.");
        group.MapGet("/nodes", async (ISender sender, CancellationToken ct) => TypedResults.Ok(await sender.Send(new ListNodes(), ct)))
            .WithName("ListNodes")
            .RequireScope(Scopes.FulfillmentRead)
            .WithSummary("Every fulfilment node.");
        ShippingEndpoints.Map(group);
        group.MapGet("/routing-decisions", async (Guid orderId, ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetRoutingDecisions(orderId), ct)))
            .WithName("GetRoutingDecisions")
            .RequireScope(Scopes.FulfillmentRead)
            .WithSummary("The routing decisions of an order, with candidates, what ruled each out, and the allocation.");
    }
}
