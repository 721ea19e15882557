using System.Text.Json;
using System.Text.Json.Serialization;
using FluentValidation;
using Mediator;
using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Notifications.Domain;
using OmsModular.Modules.Notifications.Persistence;
using OmsModular.Shared.Infrastructure.Hosting;

namespace OmsModular.Modules.Notifications.Features.Templates;

internal sealed record TemplateRequest([property: JsonRequired] string Subject, [property: JsonRequired] string Html, [property: JsonRequired] string Text);

internal sealed record TemplateView(string EventType, string Channel, string Locale, string Subject, string Html, string Text, bool BuiltIn, DateTimeOffset? UpdatedAt);

/// <summary>Creates or replaces the template of an event type, channel and locale.</summary>
internal sealed record PutTemplate(string EventType, string Channel, string Locale, TemplateRequest Template) : ICommand<TemplateView>;

internal sealed record DeleteTemplate(string EventType, string Channel, string Locale) : ICommand<bool>;

/// <summary>The stored templates, and the built-in ones no stored template replaces.</summary>
internal sealed record ListTemplates(string? EventType) : IQuery<IReadOnlyList<TemplateView>>;

/// <summary>Renders a template (the given source, or the one that applies) against a real order's event or a sample.</summary>
internal sealed record PreviewRequest([property: JsonRequired] string EventType, string? Locale = null, Guid? OrderId = null, TemplateRequest? Template = null);

internal sealed record PreviewTemplate(PreviewRequest Preview) : IQuery<PreviewView>;

internal sealed record PreviewView(string EventType, string Locale, string Subject, string Html, string Text, string Model);

internal static class TemplateRules
{
    public static readonly string[] Channels = ["email"];

    public static void Apply<T>(AbstractValidator<T> validator, Func<T, string> eventType, Func<T, string> channel, Func<T, string> locale)
    {
        validator.RuleFor(c => eventType(c)).Must(e => EventTypes.All.Contains(e))
            .WithMessage($"'eventType' must be one of {string.Join(", ", EventTypes.All)}.").OverridePropertyName("eventType");
        validator.RuleFor(c => channel(c)).Must(c => Channels.Contains(c))
            .WithMessage($"'channel' must be one of {string.Join(", ", Channels)}.").OverridePropertyName("channel");
        validator.RuleFor(c => locale(c)).NotEmpty().MaximumLength(20).Matches("^[a-z]{2,3}(-[A-Z]{2})?$")
            .WithMessage("'locale' must be a language code, optionally with a region: en, de, de-AT.").OverridePropertyName("locale");
    }
}

internal sealed class PutTemplateValidator : AbstractValidator<PutTemplate>
{
    public PutTemplateValidator(TemplateRenderer renderer)
    {
        TemplateRules.Apply(this, c => c.EventType, c => c.Channel, c => c.Locale);
        RuleFor(c => c.Template.Subject).NotEmpty().MaximumLength(500).OverridePropertyName("subject");
        RuleFor(c => c.Template.Html).NotEmpty().MaximumLength(200_000).OverridePropertyName("html");
        RuleFor(c => c.Template.Text).NotEmpty().MaximumLength(200_000).OverridePropertyName("text");
        RuleFor(c => c.Template).Custom((template, context) =>
        {
            if (template.Subject is null || template.Html is null || template.Text is null)
            {
                return;
            }

            try
            {
                renderer.Validate(template.Subject, template.Html, template.Text);
            }
            catch (TemplateSyntaxException syntax)
            {
                context.AddFailure(syntax.Part, syntax.Message);
            }
        });
    }
}

internal sealed class PreviewValidator : AbstractValidator<PreviewTemplate>
{
    public PreviewValidator()
    {
        RuleFor(c => c.Preview.EventType).Must(e => EventTypes.All.Contains(e))
            .WithMessage($"'eventType' must be one of {string.Join(", ", EventTypes.All)}.").OverridePropertyName("eventType");
        RuleFor(c => c.Preview.Locale).MaximumLength(20).Matches("^[a-z]{2,3}(-[A-Z]{2})?$").When(c => c.Preview.Locale is not null)
            .WithMessage("'locale' must be a language code, optionally with a region: en, de, de-AT.").OverridePropertyName("locale");
    }
}

internal sealed class TemplateHandlers(NotificationsDbContext db, TemplateRenderer renderer, NotificationSettings settings, TimeProvider clock) :
    ICommandHandler<PutTemplate, TemplateView>,
    ICommandHandler<DeleteTemplate, bool>,
    IQueryHandler<ListTemplates, IReadOnlyList<TemplateView>>,
    IQueryHandler<PreviewTemplate, PreviewView>
{
    public async ValueTask<TemplateView> Handle(PutTemplate command, CancellationToken cancellationToken)
    {
        var template = await db.Templates.SingleOrDefaultAsync(t => t.EventType == command.EventType && t.Channel == command.Channel && t.Locale == command.Locale, cancellationToken);
        if (template is null)
        {
            template = new Template { Id = Guid.CreateVersion7(), EventType = command.EventType, Channel = command.Channel, Locale = command.Locale, Subject = string.Empty, Html = string.Empty, Text = string.Empty };
            db.Templates.Add(template);
        }

        (template.Subject, template.Html, template.Text, template.UpdatedAt) = (command.Template.Subject, command.Template.Html, command.Template.Text, clock.GetUtcNow());
        return View(template);
    }

    public async ValueTask<bool> Handle(DeleteTemplate command, CancellationToken cancellationToken)
    {
        var template = await db.Templates.SingleOrDefaultAsync(t => t.EventType == command.EventType && t.Channel == command.Channel && t.Locale == command.Locale, cancellationToken)
            ?? throw ProblemException.NotFound("Template", $"No stored {command.Channel} template for {command.EventType} in {command.Locale}.");
        db.Templates.Remove(template);
        return true;
    }

    public async ValueTask<IReadOnlyList<TemplateView>> Handle(ListTemplates query, CancellationToken cancellationToken)
    {
        var stored = await db.Templates.AsNoTracking().Where(t => query.EventType == null || t.EventType == query.EventType).ToListAsync(cancellationToken);
        var builtIn = BuiltInTemplates.All
            .Where(b => (query.EventType is null || b.EventType == query.EventType) && !stored.Any(s => s.EventType == b.EventType && s.Channel == "email" && s.Locale == b.Locale))
            .Select(b => new TemplateView(b.EventType, "email", b.Locale, b.Subject, b.Html, b.Text, BuiltIn: true, null));
        return stored.Select(View).Concat(builtIn).OrderBy(t => t.EventType, StringComparer.Ordinal).ThenBy(t => t.Locale, StringComparer.Ordinal).ToArray();
    }

    public async ValueTask<PreviewView> Handle(PreviewTemplate query, CancellationToken cancellationToken)
    {
        var preview = query.Preview;
        var contact = preview.OrderId is { } orderId
            ? await db.Contacts.AsNoTracking().SingleOrDefaultAsync(c => c.OrderId == orderId, cancellationToken)
              ?? throw ProblemException.NotFound("Order", $"Notifications knows no order {orderId}.")
            : null;
        var locale = preview.Locale ?? contact?.Locale ?? settings.DefaultLocale;
        var data = contact is null ? null : await db.Messages.AsNoTracking()
            .Where(m => m.OrderId == contact.OrderId && m.EventType == preview.EventType).OrderByDescending(m => m.Sequence).Select(m => m.Payload).FirstOrDefaultAsync(cancellationToken);
        var model = NotificationModel.Build(
            contact ?? NotificationModel.SampleContact(locale),
            preview.EventType,
            data is null ? NotificationModel.SampleData(preview.EventType) : JsonDocument.Parse(data).RootElement.GetProperty("data").Clone());
        var source = preview.Template is { } given
            ? new TemplateSource(given.Subject, given.Html, given.Text, locale, Stored: false)
            : await TemplateBook.FindAsync(db, preview.EventType, "email", locale, settings.DefaultLocale, cancellationToken)
              ?? throw ProblemException.NotFound("Template", $"No email template for {preview.EventType} in {locale}.");
        RenderedMessage rendered;
        try
        {
            rendered = await renderer.RenderAsync(source.Subject, source.Html, source.Text, model);
        }
        catch (TemplateSyntaxException syntax)
        {
            throw new ValidationException([new FluentValidation.Results.ValidationFailure(syntax.Part, syntax.Message)]);
        }
        catch (Exception failed) when (failed is not OperationCanceledException)
        {
            throw new ValidationException([new FluentValidation.Results.ValidationFailure("template", $"The template does not render: {failed.Message}")]);
        }

        return new PreviewView(preview.EventType, source.Locale, rendered.Subject, rendered.Html, rendered.Text, JsonSerializer.Serialize(model));
    }

    private static TemplateView View(Template t) => new(t.EventType, t.Channel, t.Locale, t.Subject, t.Html, t.Text, BuiltIn: false, t.UpdatedAt);
}
