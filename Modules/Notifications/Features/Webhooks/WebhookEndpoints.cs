using System.Text.Json.Serialization;
using FluentValidation;
using Microsoft.Extensions.Configuration;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Notifications.Domain;
using OmsModular.Modules.Notifications.Persistence;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;

namespace OmsModular.Modules.Notifications.Features.Webhooks;

internal sealed record EndpointRequest([property: JsonRequired] string Url, IReadOnlyList<string>? EventTypes = null, string? Description = null, bool Enabled = true);

/// <summary>An endpoint as shown; its secret only when it was just made (creation, rotation) or asked for.</summary>
internal sealed record EndpointView(Guid Id, string Url, string? Description, IReadOnlyList<string> EventTypes, string Status, string? DisabledReason, DateTimeOffset? FailingSince, DateTimeOffset CreatedAt, string? Secret, DateTimeOffset? PreviousSecretExpiresAt);

internal sealed record CreateEndpoint(EndpointRequest Endpoint) : ICommand<EndpointView>;

internal sealed record UpdateEndpoint(Guid Id, EndpointRequest Endpoint) : ICommand<EndpointView>;

internal sealed record DeleteEndpoint(Guid Id) : ICommand<bool>;

internal sealed record RotateRequest(TimeSpan? Overlap);

/// <summary>A new secret; the old one still signs (a second signature) until the overlap ends.</summary>
internal sealed record RotateSecret(Guid Id, TimeSpan Overlap) : ICommand<EndpointView>;

internal sealed record ListEndpoints : IQuery<IReadOnlyList<EndpointView>>;

internal sealed record GetEndpoint(Guid Id, bool WithSecret) : IQuery<EndpointView>;

internal sealed class EndpointValidator : AbstractValidator<EndpointRequest>
{
    public EndpointValidator(WebhookRules rules)
    {
        RuleFor(e => e.Url).NotEmpty().MaximumLength(2000)
            .Must(rules.IsAllowedUrl).WithMessage(rules.UrlRule).OverridePropertyName("url");
        RuleForEach(e => e.EventTypes).Must(t => t is not null && EventTypes.Webhooks.Contains(t))
            .WithMessage($"Each event type is one of {string.Join(", ", EventTypes.Webhooks)}.").OverridePropertyName("eventTypes");
        RuleFor(e => e.Description).MaximumLength(500).OverridePropertyName("description");
    }
}

internal sealed class CreateEndpointValidator : AbstractValidator<CreateEndpoint>
{
    public CreateEndpointValidator(WebhookRules rules) => RuleFor(c => c.Endpoint).SetValidator(new EndpointValidator(rules));
}

internal sealed class UpdateEndpointValidator : AbstractValidator<UpdateEndpoint>
{
    public UpdateEndpointValidator(WebhookRules rules) => RuleFor(c => c.Endpoint).SetValidator(new EndpointValidator(rules));
}

internal sealed class RotateSecretValidator : AbstractValidator<RotateSecret>
{
    public RotateSecretValidator() =>
        RuleFor(c => c.Overlap).InclusiveBetween(TimeSpan.Zero, TimeSpan.FromDays(7)).OverridePropertyName("overlap");
}

/// <summary>Which receiver URLs an endpoint may have: absolute, https unless plain http is allowed (<c>Oms:Notifications:Webhooks:AllowHttp</c>).</summary>
internal sealed class WebhookRules(Microsoft.Extensions.Configuration.IConfiguration configuration)
{
    private readonly bool _allowHttp = configuration.GetValue($"{NotificationSettings.Section}:Webhooks:AllowHttp", false);

    public string UrlRule => _allowHttp ? "'url' must be an absolute http(s) URL." : "'url' must be an absolute https URL.";

    public bool IsAllowedUrl(string? url) =>
        Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || (_allowHttp && uri.Scheme == Uri.UriSchemeHttp)) && string.IsNullOrEmpty(uri.UserInfo);
}

internal sealed class EndpointHandlers(NotificationsDbContext db, TimeProvider clock) :
    ICommandHandler<CreateEndpoint, EndpointView>,
    ICommandHandler<UpdateEndpoint, EndpointView>,
    ICommandHandler<DeleteEndpoint, bool>,
    ICommandHandler<RotateSecret, EndpointView>,
    IQueryHandler<ListEndpoints, IReadOnlyList<EndpointView>>,
    IQueryHandler<GetEndpoint, EndpointView>
{
    public ValueTask<EndpointView> Handle(CreateEndpoint command, CancellationToken cancellationToken)
    {
        var endpoint = new WebhookEndpoint
        {
            Id = Guid.CreateVersion7(),
            Url = command.Endpoint.Url,
            Description = command.Endpoint.Description,
            EventTypes = command.Endpoint.EventTypes?.Distinct().ToList() ?? [],
            Secret = WebhookSignature.NewSecret(),
            Status = command.Endpoint.Enabled ? EndpointStatus.Enabled : EndpointStatus.Disabled,
            DisabledReason = command.Endpoint.Enabled ? null : "created disabled",
            CreatedAt = clock.GetUtcNow(),
        };
        db.Endpoints.Add(endpoint);
        return ValueTask.FromResult(View(endpoint, withSecret: true));
    }

    public async ValueTask<EndpointView> Handle(UpdateEndpoint command, CancellationToken cancellationToken)
    {
        var endpoint = await FindAsync(command.Id, cancellationToken);
        endpoint.Url = command.Endpoint.Url;
        endpoint.Description = command.Endpoint.Description;
        endpoint.EventTypes = command.Endpoint.EventTypes?.Distinct().ToList() ?? [];
        if (command.Endpoint.Enabled && endpoint.Status == EndpointStatus.Disabled)
        {
            (endpoint.Status, endpoint.DisabledReason, endpoint.FailingSince) = (EndpointStatus.Enabled, null, null);
        }
        else if (!command.Endpoint.Enabled && endpoint.Status == EndpointStatus.Enabled)
        {
            (endpoint.Status, endpoint.DisabledReason) = (EndpointStatus.Disabled, "disabled by an operator");
        }

        return View(endpoint, withSecret: false);
    }

    public async ValueTask<bool> Handle(DeleteEndpoint command, CancellationToken cancellationToken)
    {
        db.Endpoints.Remove(await FindAsync(command.Id, cancellationToken));
        await db.Deliveries.Where(d => d.EndpointId == command.Id && d.Status == DeliveryStatus.Pending)
            .ExecuteUpdateAsync(u => u.SetProperty(d => d.Status, DeliveryStatus.Failed).SetProperty(d => d.LastError, "the endpoint was deleted"), cancellationToken);
        return true;
    }

    public async ValueTask<EndpointView> Handle(RotateSecret command, CancellationToken cancellationToken)
    {
        var endpoint = await FindAsync(command.Id, cancellationToken);
        endpoint.PreviousSecret = command.Overlap > TimeSpan.Zero ? endpoint.Secret : null;
        endpoint.PreviousSecretExpiresAt = command.Overlap > TimeSpan.Zero ? clock.GetUtcNow() + command.Overlap : null;
        endpoint.Secret = WebhookSignature.NewSecret();
        return View(endpoint, withSecret: true);
    }

    public async ValueTask<IReadOnlyList<EndpointView>> Handle(ListEndpoints query, CancellationToken cancellationToken) =>
        (await db.Endpoints.AsNoTracking().OrderBy(e => e.CreatedAt).ToListAsync(cancellationToken)).Select(e => View(e, withSecret: false)).ToArray();

    public async ValueTask<EndpointView> Handle(GetEndpoint query, CancellationToken cancellationToken) =>
        View(await db.Endpoints.AsNoTracking().SingleOrDefaultAsync(e => e.Id == query.Id, cancellationToken)
             ?? throw ProblemException.NotFound("Webhook endpoint", $"No webhook endpoint {query.Id}."), query.WithSecret);

    private async Task<WebhookEndpoint> FindAsync(Guid id, CancellationToken cancellationToken) =>
        await db.Endpoints.SingleOrDefaultAsync(e => e.Id == id, cancellationToken)
        ?? throw ProblemException.NotFound("Webhook endpoint", $"No webhook endpoint {id}.");

    private EndpointView View(WebhookEndpoint e, bool withSecret) => new(
        e.Id, e.Url, e.Description, e.EventTypes, e.Status.Kebab(), e.DisabledReason, e.FailingSince, e.CreatedAt,
        withSecret ? e.Secret : null,
        e.PreviousSecretExpiresAt > clock.GetUtcNow() ? e.PreviousSecretExpiresAt : null);
}
