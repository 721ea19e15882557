using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Npgsql;
using OmsModular.Shared.Infrastructure.Access;

namespace OmsModular.Tests.HostTests;

/// <summary>
/// Every write operation of the OpenAPI document, with bodies built from its schema and then
/// mutated (wrong types, nulls, NUL and control characters, huge and negative numbers, deep
/// nesting, missing and extra fields, invalid enums, wrong content types): never a 5xx, problem
/// details on every 4xx, and a refused request commits nothing (statement triggers on every
/// module table record committed writes by the request connections).
/// </summary>
[Collection(HostCollection.Name)]
public sealed class FuzzTests(HostFixture host)
{
    private const int Seed = 20261201;
    private const int MutationsPerOperation = 150;

    private static readonly string[] Schemas = ["orders", "inventory", "pricing", "payments", "fulfillment", "notifications", "returns", "access"];

    [Fact]
    public async Task Mutated_requests_to_every_write_operation_never_answer_5xx_and_refused_ones_write_nothing()
    {
        using var client = await host.CreateClientAsync(Scopes.All, name: "fuzz");
        var document = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json"))!;
        var operations = WriteOperations(document).ToArray();
        Assert.True(operations.Length >= 15, $"only {operations.Length} write operations found");

        await using var connection = new NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        await InstallAuditAsync(connection);
        var random = new Random(Seed);
        var failures = new List<string>();
        var refused = new List<(DateTime From, DateTime To, string What)>();
        var sent = 0;
        try
        {
            foreach (var (method, path, schema, idempotent) in operations)
            {
                // Mutations start from a body the server would take (so they reach past the validators).
                var valid = path == "/api/v1/orders" ? Orders.OrderCaptureTests.WebOrder("c-fuzz", ("SKU-FUZZ", 1)) : Example(document, schema, depth: 0);
                for (var i = 0; i < MutationsPerOperation; i++)
                {
                    var (content, contentType, description) = Mutate(document, schema, valid, random);
                    using var request = new HttpRequestMessage(new HttpMethod(method), FillPath(path, random));
                    request.Content = new StringContent(content, Encoding.UTF8);
                    request.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
                    if (idempotent)
                    {
                        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
                    }

                    var from = await NowAsync(connection);
                    using var response = await client.SendAsync(request);
                    var to = await NowAsync(connection);
                    sent++;
                    var status = (int)response.StatusCode;
                    var body = await response.Content.ReadAsStringAsync();
                    var what = $"{method} {path} [{description}] -> {status}";
                    if (status >= 500)
                    {
                        failures.Add($"{what}: {Cut(body)}");
                    }
                    else if (status >= 400)
                    {
                        if (response.Content.Headers.ContentType?.MediaType != "application/problem+json" || !IsProblem(body, status))
                        {
                            failures.Add($"{what}: not problem details: {Cut(body)}");
                        }

                        if (body.Contains("OmsModular.", StringComparison.Ordinal) || body.Contains("System.", StringComparison.Ordinal))
                        {
                            failures.Add($"{what}: names an internal type: {Cut(body)}");
                        }

                        // A reservation found short is an answer, not a refusal: the attempt is recorded (stock-reservation-failed).
                        if (!body.Contains("urn:oms:problem:stock-short", StringComparison.Ordinal))
                        {
                            refused.Add((from, to, what));
                        }
                    }
                }
            }

            // A refused request committed nothing: no write by a request connection inside its time.
            var writes = await RequestWritesAsync(connection);
            foreach (var (from, to, what) in refused)
            {
                foreach (var (at, table) in writes.Where(w => w.At >= from && w.At <= to))
                {
                    failures.Add($"{what}: committed a write to {table} at {at:O}");
                }
            }
        }
        finally
        {
            await RemoveAuditAsync(connection);
        }

        Assert.True(sent >= 1500, $"only {sent} requests sent");
        Assert.True(refused.Count > sent / 2, $"only {refused.Count} of {sent} were refused: the mutations are too tame");
        Assert.True(failures.Count == 0, $"{failures.Count} of {sent} requests failed:\n{string.Join('\n', failures.Take(25))}");
    }

    private static IEnumerable<(string Method, string Path, JsonNode Schema, bool Idempotent)> WriteOperations(JsonNode document)
    {
        foreach (var (path, item) in document["paths"]!.AsObject())
        {
            foreach (var (method, operation) in item!.AsObject())
            {
                if (method is not ("post" or "put" or "patch") || operation!["requestBody"]?["content"]?["application/json"]?["schema"] is not { } schema)
                {
                    continue;
                }

                var idempotent = operation["parameters"]?.AsArray().Any(p => p!["name"]?.GetValue<string>() == "Idempotency-Key") == true;
                yield return (method.ToUpperInvariant(), path, schema, idempotent);
            }
        }
    }

    private static JsonNode Resolve(JsonNode document, JsonNode schema) =>
        schema["$ref"]?.GetValue<string>() is { } reference
            ? document["components"]!["schemas"]![reference.Split('/')[^1]]!
            : schema;

    private static string[] TypesOf(JsonNode schema) => schema["type"] switch
    {
        JsonArray many => many.Select(t => t!.GetValue<string>()).ToArray(),
        JsonValue one => [one.GetValue<string>()],
        _ => schema["enum"] is not null ? ["string"] : ["object"],
    };

    /// <summary>A value of the schema's shape (not necessarily one the server accepts).</summary>
    private static JsonNode? Example(JsonNode document, JsonNode schema, int depth)
    {
        schema = Resolve(document, schema);
        if (schema["enum"] is JsonArray values && values.FirstOrDefault(v => v is not null) is { } first)
        {
            return first.DeepClone();
        }

        var type = TypesOf(schema).FirstOrDefault(t => t != "null") ?? "string";
        return type switch
        {
            "object" when depth < 6 => new JsonObject((schema["properties"]?.AsObject() ?? [])
                .Select(p => KeyValuePair.Create(p.Key, Plausible(p.Key) ?? Example(document, p.Value!, depth + 1)))),
            "object" => new JsonObject(),
            "array" => new JsonArray(schema["items"] is { } items ? Example(document, items, depth + 1) : JsonValue.Create("X1")),
            "integer" => JsonValue.Create(1),
            "number" => JsonValue.Create(1.5m),
            "boolean" => JsonValue.Create(true),
            _ => schema["format"]?.GetValue<string>() switch
            {
                "uuid" => JsonValue.Create(Guid.NewGuid().ToString()),
                "date-time" => JsonValue.Create("2026-12-01T10:00:00Z"),
                _ => JsonValue.Create("X1"),
            },
        };
    }

    /// <summary>A value the server accepts for the members whose names say what they hold.</summary>
    private static JsonNode? Plausible(string name) => name switch
    {
        "email" => JsonValue.Create("ada@example.com"),
        "currency" => JsonValue.Create("EUR"),
        "countryCode" => JsonValue.Create("DE"),
        "channel" => JsonValue.Create("web"),
        "deliveryMethod" => JsonValue.Create("ship"),
        "serviceLevel" => JsonValue.Create("standard"),
        "kind" => null, // an enum or the promotion kinds: the schema's first value or a plain string
        "scopes" => new JsonArray("orders:read"),
        "rate" => JsonValue.Create(0.19m),
        "latitude" => JsonValue.Create(52.5),
        "longitude" => JsonValue.Create(13.4),
        "reason" => JsonValue.Create("receipt"),
        "promotion" => JsonValue.Create("FUZZ-PROMO"),
        "marketplace" or "channelCode" => null,
        _ => null,
    };

    private static readonly string[] Kinds =
    [
        "wrong-type", "null", "nul-char", "control-char", "huge-number", "negative-number", "deep-nesting", "missing-field",
        "extra-field", "invalid-enum", "null-element", "long-string", "number-as-string", "empty-object", "empty-body", "not-json", "wrong-content-type", "valid",
        "bom-nul", "utf16-charset", "lone-surrogate",
    ];

    private static (string Content, string ContentType, string Description) Mutate(JsonNode document, JsonNode schema, JsonNode? valid, Random random)
    {
        var kind = Kinds[random.Next(Kinds.Length)];
        switch (kind)
        {
            case "empty-body":
                return (string.Empty, "application/json", kind);
            case "not-json":
                return ("{\"unterminated\": [1, 2", "application/json", kind);
            case "wrong-content-type":
                return (valid?.ToJsonString() ?? "{}", "text/plain", kind);
            case "empty-object":
                return ("{}", "application/json", kind);
            case "valid":
                return (valid?.ToJsonString() ?? "{}", "application/json", kind);
            case "utf16-charset":
                return (valid?.ToJsonString() ?? "{}", "application/json; charset=utf-16", kind);
        }

        var body = valid?.DeepClone() ?? new JsonObject();
        var leaves = Leaves(body, "$").ToList();
        if (leaves.Count == 0)
        {
            return (body.ToJsonString(), "application/json", kind);
        }

        var (parent, key, index, path) = leaves[random.Next(leaves.Count)];
        JsonNode? Current() => key is not null ? parent[key] : parent[index];
        void Set(JsonNode? value)
        {
            if (key is not null)
            {
                parent[key] = value;
            }
            else
            {
                parent[index] = value;
            }
        }

        switch (kind)
        {
            case "wrong-type":
                Set(Current() is JsonValue v && v.GetValueKind() == JsonValueKind.String ? JsonValue.Create(12345) : JsonValue.Create("not-a-" + Current()?.GetValueKind().ToString().ToLowerInvariant()));
                break;
            case "null":
                Set(null);
                break;
            case "nul-char":
                Set(JsonValue.Create("A\u0000B"));
                break;
            case "control-char":
                Set(JsonValue.Create("bell\u0007\u001b[31m"));
                break;
            case "huge-number":
                Set(JsonNode.Parse(random.Next(2) == 0 ? "1e300" : "79228162514264337593543950336"));
                break;
            case "negative-number":
                Set(JsonNode.Parse(random.Next(2) == 0 ? "-1" : "-1e20"));
                break;
            case "deep-nesting":
                Set(JsonNode.Parse(new string('[', 50) + new string(']', 50)));
                break;
            case "missing-field" when key is not null:
                parent.AsObject().Remove(key);
                break;
            case "extra-field":
                (parent as JsonObject ?? body as JsonObject)?.Add($"unexpected{random.Next(1000)}", "x");
                break;
            case "invalid-enum":
                Set(JsonValue.Create("definitely-not-a-value"));
                break;
            case "null-element":
                Set(new JsonArray(null, Current()?.DeepClone()));
                break;
            case "long-string":
                Set(JsonValue.Create(new string('x', 100_000)));
                break;
            case "number-as-string":
                Set(JsonValue.Create("42"));
                break;
            case "bom-nul":
                Set(JsonValue.Create("A\u0000"));
                return ("\uFEFF" + body.ToJsonString(), "application/json", $"{kind} at {path}");
            case "lone-surrogate":
                Set(JsonValue.Create("SURROGATE"));
                return (body.ToJsonString().Replace("\"SURROGATE\"", "\"\\uD800\"", StringComparison.Ordinal), "application/json", $"{kind} at {path}");
        }

        return (body.ToJsonString(), "application/json", $"{kind} at {path}");
    }

    /// <summary>Every member and element of the body, with its parent, to mutate one.</summary>
    private static IEnumerable<(JsonNode Parent, string? Key, int Index, string Path)> Leaves(JsonNode node, string path)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj.ToArray())
                {
                    yield return (obj, key, -1, $"{path}.{key}");
                    if (value is not null)
                    {
                        foreach (var leaf in Leaves(value, $"{path}.{key}"))
                        {
                            yield return leaf;
                        }
                    }
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    yield return (array, null, i, $"{path}[{i}]");
                    if (array[i] is { } element)
                    {
                        foreach (var leaf in Leaves(element, $"{path}[{i}]"))
                        {
                            yield return leaf;
                        }
                    }
                }

                break;
        }
    }

    private static string FillPath(string path, Random random) =>
        System.Text.RegularExpressions.Regex.Replace(path, "\\{(?<name>[^}]+)\\}", m => m.Groups["name"].Value switch
        {
            "id" or "orderId" => Guid.NewGuid().ToString(),
            "countryCode" => random.Next(3) == 0 ? "ZZ" : "DE",
            "currency" => random.Next(3) == 0 ? "XXX" : "EUR",
            _ => random.Next(4) switch { 0 => "FUZZ-%07", 1 => "FUZZ" + new string('x', 80), _ => $"FUZZ-{random.Next(20)}" },
        });

    private static bool IsProblem(string body, int status)
    {
        try
        {
            var problem = JsonDocument.Parse(body).RootElement;
            return problem.TryGetProperty("type", out _) && problem.TryGetProperty("title", out _)
                   && problem.TryGetProperty("status", out var s) && s.GetInt32() == status;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static string Cut(string text) => text.Length > 300 ? text[..300] + "…" : text;

    private static async Task<DateTime> NowAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT clock_timestamp()", connection);
        return (DateTime)(await command.ExecuteScalarAsync())!;
    }

    private static async Task InstallAuditAsync(NpgsqlConnection connection)
    {
        var sql = new StringBuilder("""
            CREATE TABLE IF NOT EXISTS public.fuzz_audit (at timestamptz NOT NULL, tbl text NOT NULL, app text NOT NULL);
            TRUNCATE public.fuzz_audit;
            CREATE OR REPLACE FUNCTION public.fuzz_audit_write() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              INSERT INTO public.fuzz_audit VALUES (clock_timestamp(), TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, current_setting('application_name'));
              RETURN NULL;
            END $$;
            """);
        await using (var tables = new NpgsqlCommand("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = ANY($1)", connection) { Parameters = { new() { Value = Schemas } } })
        await using (var reader = await tables.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                sql.Append($"CREATE OR REPLACE TRIGGER fuzz_audit AFTER INSERT OR UPDATE OR DELETE ON {reader.GetString(0)} FOR EACH STATEMENT EXECUTE FUNCTION public.fuzz_audit_write();\n");
            }
        }

        await using var install = new NpgsqlCommand(sql.ToString(), connection);
        await install.ExecuteNonQueryAsync();
    }

    private static async Task RemoveAuditAsync(NpgsqlConnection connection)
    {
        var sql = new StringBuilder();
        await using (var tables = new NpgsqlCommand("SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname = ANY($1)", connection) { Parameters = { new() { Value = Schemas } } })
        await using (var reader = await tables.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                sql.Append($"DROP TRIGGER IF EXISTS fuzz_audit ON {reader.GetString(0)};\n");
            }
        }

        await using var remove = new NpgsqlCommand(sql.ToString(), connection);
        await remove.ExecuteNonQueryAsync();
    }

    /// <summary>Committed writes by request connections (the messaging workers, jobs and key lookups have pools of their own).</summary>
    private static async Task<List<(DateTime At, string Table)>> RequestWritesAsync(NpgsqlConnection connection)
    {
        var writes = new List<(DateTime, string)>();
        await using var command = new NpgsqlCommand("SELECT at, tbl FROM public.fuzz_audit WHERE app NOT LIKE 'oms-%'", connection);
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            writes.Add((reader.GetDateTime(0), reader.GetString(1)));
        }

        return writes;
    }
}
