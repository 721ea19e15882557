using System.Collections.Concurrent;
using System.Text.Encodings.Web;
using Fluid;

namespace OmsModular.Modules.Notifications.Features.Templates;

/// <summary>A rendered message: subject, HTML and plain-text parts.</summary>
internal sealed record RenderedMessage(string Subject, string Html, string Text);

/// <summary>A template's source that does not parse: which part, and Fluid's reason.</summary>
internal sealed class TemplateSyntaxException(string part, string reason) : Exception($"The {part} does not parse: {reason}")
{
    public string Part { get; } = part;
}

/// <summary>
/// Renders Liquid templates with Fluid. Values are HTML-encoded in the HTML part and left as they
/// are in the subject (on one line) and the text part; a value is never parsed as a template. The
/// steps and the recursion of a rendering are bounded. Parsed templates are cached by their source.
/// </summary>
internal sealed class TemplateRenderer
{
    private static readonly FluidParser Parser = new();
    private readonly ConcurrentDictionary<string, IFluidTemplate> _parsed = new(StringComparer.Ordinal);
    /// <summary>Bounded: a template that loops or recurses without end stops with an error instead of holding its caller.</summary>
    private readonly TemplateOptions _options = new() { MaxSteps = 200_000, MaxRecursion = 20 };

    /// <summary>Checks that every part parses; throws <see cref="TemplateSyntaxException"/> naming the part.</summary>
    public void Validate(string subject, string html, string text)
    {
        Parse("subject", subject);
        Parse("html", html);
        Parse("text", text);
    }

    public async Task<RenderedMessage> RenderAsync(string subject, string html, string text, IReadOnlyDictionary<string, object?> model)
    {
        var context = new TemplateContext(model, _options);
        var renderedSubject = (await Parse("subject", subject).RenderAsync(context, NullEncoder.Default)).ReplaceLineEndings(" ").Trim(); // a header: one line
        return new RenderedMessage(
            renderedSubject,
            await Parse("html", html).RenderAsync(context, HtmlEncoder.Default),
            await Parse("text", text).RenderAsync(context, NullEncoder.Default));
    }

    private IFluidTemplate Parse(string part, string source)
    {
        if (_parsed.TryGetValue(source, out var cached))
        {
            return cached;
        }

        if (!Parser.TryParse(source, out var template, out var error))
        {
            throw new TemplateSyntaxException(part, error);
        }

        return _parsed.Count < 1000 ? _parsed.GetOrAdd(source, template) : template;
    }
}
