using FluentValidation;
using Mediator;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using OmsModular.Shared.Infrastructure.Access;

namespace OmsModular.Shared.Infrastructure.Messaging.Admin;

public sealed record ListDeadLetters(string? Module, string? Consumer, int Limit) : IQuery<IReadOnlyList<DeadLetter>>;

public sealed record ReplayDeadLetters(string? Module, Guid? Id, string? Consumer) : ICommand<int>;

public sealed record GetMessagingBacklog : IQuery<IReadOnlyList<ModuleBacklog>>;

/// <summary>The result of a replay.</summary>
public sealed record ReplayResult(int Replayed);

internal sealed class ListDeadLettersValidator : AbstractValidator<ListDeadLetters>
{
    public ListDeadLettersValidator() => RuleFor(q => q.Limit).InclusiveBetween(1, 1000);
}

internal sealed class MessagingAdminHandlers(MessagingAdmin admin) :
    IQueryHandler<ListDeadLetters, IReadOnlyList<DeadLetter>>,
    ICommandHandler<ReplayDeadLetters, int>,
    IQueryHandler<GetMessagingBacklog, IReadOnlyList<ModuleBacklog>>
{
    public async ValueTask<IReadOnlyList<DeadLetter>> Handle(ListDeadLetters query, CancellationToken cancellationToken) =>
        await admin.ListDeadLettersAsync(query.Module, query.Consumer, query.Limit, cancellationToken).ConfigureAwait(false);

    public async ValueTask<int> Handle(ReplayDeadLetters command, CancellationToken cancellationToken) =>
        await admin.ReplayAsync(command.Module, command.Id, command.Consumer, cancellationToken).ConfigureAwait(false);

    public async ValueTask<IReadOnlyList<ModuleBacklog>> Handle(GetMessagingBacklog query, CancellationToken cancellationToken) =>
        await admin.GetBacklogAsync(cancellationToken).ConfigureAwait(false);
}

/// <summary>
/// <c>/api/v1/admin/messaging</c>: dead letters (list with the error, replay one or all) and the
/// backlog of every module's outbox and inbox.
/// </summary>
public static class MessagingAdminEndpoints
{
    public static RouteGroupBuilder MapMessagingAdmin(this IEndpointRouteBuilder endpoints)
    {
        var group = endpoints.MapGroup("/api/v1/admin/messaging").WithTags("Messaging admin").RequireScope(Scopes.Admin);

        group.MapGet("/dead-letters", async (ISender sender, string? module, string? consumer, int? limit, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new ListDeadLetters(module, consumer, limit ?? 100), ct)))
            .WithName("ListDeadLetters")
            .WithSummary("Lists dead letters (newest first) with their last error.");

        group.MapPost("/dead-letters/{module}/{id:guid}/replay", async Task<Results<Ok<ReplayResult>, NotFound>> (ISender sender, string module, Guid id, CancellationToken ct) =>
            {
                var replayed = await sender.Send(new ReplayDeadLetters(module, id, null), ct);
                return replayed == 0 ? TypedResults.NotFound() : TypedResults.Ok(new ReplayResult(replayed));
            })
            .WithName("ReplayDeadLetter")
            .WithSummary("Puts one dead letter back in line with fresh attempts.");

        group.MapPost("/dead-letters/replay", async (ISender sender, string? module, string? consumer, CancellationToken ct) =>
                TypedResults.Ok(new ReplayResult(await sender.Send(new ReplayDeadLetters(module, null, consumer), ct))))
            .WithName("ReplayDeadLetters")
            .WithSummary("Replays every dead letter (optionally of one module or consumer).");

        group.MapGet("/backlog", async (ISender sender, CancellationToken ct) =>
                TypedResults.Ok(await sender.Send(new GetMessagingBacklog(), ct)))
            .WithName("GetMessagingBacklog")
            .WithSummary("Undispatched outbox rows, pending deliveries and dead letters per module.");

        return group;
    }
}
