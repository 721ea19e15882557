using Mediator;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Modules.Notifications.Features.Templates;

/// <summary>The demo seed stores the e-mail templates of every customer event (English and German), to be changed through the API.</summary>
internal sealed class TemplateDemoData : IDemoData
{
    public int Order => 50;

    public async Task SeedAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        foreach (var template in BuiltInTemplates.All)
        {
            await using var scope = services.CreateAsyncScope();
            await scope.ServiceProvider.GetRequiredService<ISender>().Send(
                new PutTemplate(template.EventType, "email", template.Locale, new TemplateRequest(template.Subject, template.Html, template.Text)),
                cancellationToken);
        }
    }
}
