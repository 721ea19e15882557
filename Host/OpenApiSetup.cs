using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using OmsModular.Shared.Infrastructure.Access;

namespace OmsModular.Host;

/// <summary>
/// The OpenAPI document as clients can rely on it: security schemes and the scope of every
/// operation, every response that can happen (problem details for 4xx and 5xx), required members as
/// the server treats them ([JsonRequired] only), and Idempotency-Key required where it is.
/// </summary>
internal static class OpenApiSetup
{
    public const string ProblemSchema = "ProblemDetails";
    public const string ApiKeyScheme = "apiKey";
    public const string OpenIdScheme = "openIdConnect";
    public const string ApiKeyHeaderScheme = "apiKeyHeader";

    public static void Configure(OpenApiOptions options, IConfiguration configuration)
    {
        var authority = configuration["Oms:Auth:Jwt:Authority"];
        options.AddDocumentTransformer((document, context, cancellationToken) =>
        {
            document.Info.Title = "OmsModular";
            document.Info.Description = "Order management for every sales channel. Every operation needs a credential (an API key, Authorization: Bearer oms_…, or an access token of the configured OpenID Connect provider) holding the operation's scope (x-oms-scope); errors are RFC 9457 problem details.";
            document.Info.Contact = new OpenApiContact { Name = "OmsModular maintainers" };
            document.Info.License = new OpenApiLicense { Name = "MIT", Url = new Uri("https://opensource.org/licenses/MIT") };
            document.Servers = [new OpenApiServer { Url = "/", Description = "This host" }];
            var tags = new Dictionary<string, string>
            {
                ["Orders"] = "Capture, read, list, cancel and release orders.",
                ["Inventory"] = "Stock levels, adjustments, availability to promise and reservations.",
                ["Pricing"] = "Price lists, tax and shipping rates, quotes and the catalogue change log.",
                ["Promotions"] = "Promotions and coupons.",
                ["Payments"] = "The payment of an order: authorisation, captures per shipment and the ledger.",
                ["Fulfillment"] = "Fulfilment nodes, routing decisions, fulfilment orders (pick, pack, ship) and shipments (delivery, carrier tracking callbacks).",
                ["Notifications"] = "E-mail templates and previews, the e-mails sent and their log, webhook endpoints, deliveries and replay, and the pull feed of customer-visible events.",
                ["Messaging admin"] = "Dead letters and the outbox and inbox backlog.",
                ["API keys"] = "Create, list and revoke API keys.",
            };
            foreach (var tag in document.Tags ?? new HashSet<OpenApiTag>())
            {
                if (tag.Name is { } name && tags.TryGetValue(name, out var description))
                {
                    tag.Description = description;
                }
            }

            document.Components ??= new OpenApiComponents();
            document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
            document.Components.SecuritySchemes[ApiKeyScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.Http,
                Scheme = "bearer",
                BearerFormat = "oms API key",
                Description = "An API key (oms_…) created with POST /api/v1/admin/api-keys or the keys verb; its scopes decide what it may do.",
            };
            document.Components.SecuritySchemes[ApiKeyHeaderScheme] = new OpenApiSecurityScheme
            {
                Type = SecuritySchemeType.ApiKey,
                In = ParameterLocation.Header,
                Name = "X-Api-Key",
                Description = "The same API key in a header of its own.",
            };
            if (!string.IsNullOrWhiteSpace(authority))
            {
                document.Components.SecuritySchemes[OpenIdScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.OpenIdConnect,
                    OpenIdConnectUrl = new Uri($"{authority.TrimEnd('/')}/.well-known/openid-configuration"),
                    Description = "An access token of the configured provider; its scope claim carries the scopes.",
                };
            }

            document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
            document.Components.Schemas[ProblemSchema] = new OpenApiSchema
            {
                Type = JsonSchemaType.Object,
                Description = "RFC 9457 problem details.",
                Required = new HashSet<string> { "type", "title", "status" },
                Properties = new Dictionary<string, IOpenApiSchema>
                {
                    ["type"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "urn:oms:problem:<code>" },
                    ["title"] = new OpenApiSchema { Type = JsonSchemaType.String },
                    ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
                    ["detail"] = new OpenApiSchema { Type = JsonSchemaType.String },
                    ["errors"] = new OpenApiSchema
                    {
                        Type = JsonSchemaType.Object,
                        Description = "The fields (JSON paths) and what is wrong with each.",
                        AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = new OpenApiSchema { Type = JsonSchemaType.String } },
                    },
                    ["traceId"] = new OpenApiSchema { Type = JsonSchemaType.String },
                    ["correlationId"] = new OpenApiSchema { Type = JsonSchemaType.String },
                    ["requiredScope"] = new OpenApiSchema { Type = JsonSchemaType.String },
                },
            };
            return Task.CompletedTask;
        });

        options.AddOperationTransformer((operation, context, cancellationToken) =>
        {
            var metadata = context.Description.ActionDescriptor.EndpointMetadata;
            var scope = metadata.OfType<RequiresScope>().FirstOrDefault()?.Scope;
            var document = context.Document!;
            if (scope is not null)
            {
                // The scope is in x-oms-scope: neither scheme is OAuth 2, whose requirements alone list scopes.
                operation.Security =
                [
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyScheme, document)] = [] },
                    new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyHeaderScheme, document)] = [] },
                ];
                if (!string.IsNullOrWhiteSpace(authority))
                {
                    operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(OpenIdScheme, document)] = [] });
                }

                operation.Extensions ??= new Dictionary<string, IOpenApiExtension>();
                operation.Extensions["x-oms-scope"] = new JsonNodeExtension(JsonValue.Create(scope));
                operation.Description = $"{operation.Description}{(string.IsNullOrEmpty(operation.Description) ? string.Empty : " ")}Needs the scope `{scope}`.";
            }

            foreach (var parameter in operation.Parameters ?? [])
            {
                if (parameter is OpenApiParameter { Name: "Idempotency-Key" } key)
                {
                    key.Required = true;
                    key.Description = "The client's key for this request: a repeat with the same key and body answers as the first time, with another body 422.";
                }
            }

            var method = context.Description.HttpMethod ?? "GET";
            var path = context.Description.RelativePath ?? string.Empty;
            operation.Responses ??= new OpenApiResponses();
            void Problem(string status, string description)
            {
                if (!operation.Responses.ContainsKey(status))
                {
                    operation.Responses[status] = new OpenApiResponse
                    {
                        Description = description,
                        Content = new Dictionary<string, OpenApiMediaType>
                        {
                            ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, document) },
                        },
                    };
                }
            }

            Problem("400", "The request is not valid: the errors name the fields and the reasons.");
            if (scope is not null)
            {
                Problem("401", "No credential, or one that is not valid.");
                Problem("403", "The credential lacks the scope this operation needs (requiredScope).");
            }

            if (path.Contains('{', StringComparison.Ordinal) || method == "GET" && context.Description.ParameterDescriptions.Any(p => p.Name == "orderId"))
            {
                Problem("404", "What the request names does not exist (or is not visible to this credential).");
            }

            if (method is "POST" or "PUT")
            {
                Problem("409", "The request conflicts with the current state (the detail says which).");
                Problem("413", "The body is larger than allowed.");
                Problem("415", "The body is not JSON.");
                Problem("422", "The request is well formed but names something that cannot be used (the detail says what).");
            }

            Problem("429", "Too many requests from this client; see Retry-After.");
            Problem("500", "An unexpected error; the trace id identifies it in the logs.");
            Problem("503", "A dependency (the database, a module, the payment provider) is not available; repeating the request is safe.");
            return Task.CompletedTask;
        });

        // Required as the server treats it: a member is required when it is [JsonRequired]; every
        // other member may be left out (nullable ones may also be null).
        options.AddSchemaTransformer((schema, context, cancellationToken) =>
        {
            var info = context.JsonTypeInfo;
            if (info.Kind == System.Text.Json.Serialization.Metadata.JsonTypeInfoKind.Object && schema.Properties is { Count: > 0 })
            {
                var required = info.Properties.Where(p => p.IsRequired).Select(p => p.Name).ToHashSet(StringComparer.Ordinal);
                schema.Required = IsRequestType(info.Type) ? required : schema.Properties.Keys.ToHashSet(StringComparer.Ordinal);
            }

            return Task.CompletedTask;
        });
    }

    /// <summary>Types the API reads (requests): the rest it writes, always with every member present.</summary>
    private static bool IsRequestType(Type type) =>
        type.Name.EndsWith("Request", StringComparison.Ordinal) || type.Name is "QuoteInput" or "QuoteLine" or "StockBatchRow" or "ReservationLine";
}
