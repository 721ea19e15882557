using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Hangfire;
using Hangfire.Storage;
using Mediator;
using Microsoft.Extensions.DependencyInjection;
using Newtonsoft.Json.Linq;
using Npgsql;
using OmsModular.Modules.Probe;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Modules;
using OmsModular.Tests.Messaging;
using Snapshooter.Xunit;

namespace OmsModular.Tests.HostTests;

[Collection(HostCollection.Name)]
public sealed class HostTests(HostFixture host)
{
    private HttpClient Client => host.Client;

    [Fact]
    public async Task Liveness_and_readiness_answer_healthy()
    {
        using var live = await Client.GetAsync("/health/live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        var ready = await Client.GetFromJsonAsync<JsonElement>("/health/ready");
        Assert.Equal("Healthy", ready.GetProperty("status").GetString());
        Assert.Equal(["databases", "messaging"], ready.GetProperty("checks").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task The_openapi_document_does_not_change_by_accident()
    {
        // The test provider listens on a port of its own each run.
        var document = (await Client.GetStringAsync("/openapi/v1.json")).Replace(host.OpenId.Authority, "http://openid.test", StringComparison.Ordinal);
        JToken.Parse(document).MatchSnapshot();
    }

    [Fact]
    public async Task The_scalar_ui_is_served()
    {
        using var response = await Client.GetAsync("/scalar/v1");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Every_module_schema_is_migrated_with_its_own_history_outbox_and_inbox()
    {
        await using var connection = new NpgsqlConnection(host.ConnectionString);
        await connection.OpenAsync();
        foreach (var module in ModuleCatalog.All.Where(m => m.Manifest.Name != "Probe"))
        {
            await using var command = new NpgsqlCommand(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
                connection);
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = module.Manifest.Schema });
            var tables = new List<string>();
            await using (var reader = await command.ExecuteReaderAsync())
            {
                while (await reader.ReadAsync())
                {
                    tables.Add(reader.GetString(0));
                }
            }

            Assert.Superset(new HashSet<string> { "__ef_migrations_history", "inbox_messages", "outbox_messages" }, tables.ToHashSet());
        }

        Assert.Equal(7, ModuleCatalog.All.Count(m => m.Manifest.Name != "Probe"));
    }

    [Fact]
    public async Task Bad_input_gets_problem_details_with_the_field_and_the_reason()
    {
        using var unreadable = await Client.GetAsync("/api/v1/admin/messaging/dead-letters?limit=many");
        var problem = await Problem.AssertAsync(unreadable, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("limit", out _));

        using var outOfRange = await Client.GetAsync("/api/v1/admin/messaging/dead-letters?limit=0");
        problem = await Problem.AssertAsync(outOfRange, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.Contains("between 1 and 1000", problem.GetProperty("errors").GetProperty("limit")[0].GetString(), StringComparison.Ordinal);

        using var malformedJson = await Client.PostAsync("/api/v1/probe/pings", new StringContent("{\"text\": 12, \"fail\": \"x\"}", System.Text.Encoding.UTF8, "application/json"));
        problem = await Problem.AssertAsync(malformedJson, HttpStatusCode.BadRequest, "urn:oms:problem:validation-error");
        Assert.True(problem.GetProperty("errors").TryGetProperty("text", out _));

        using var unknownModule = await Client.PostAsync($"/api/v1/admin/messaging/dead-letters/replay?module=Nope", null);
        await Problem.AssertAsync(unknownModule, HttpStatusCode.NotFound, "urn:oms:problem:not-found");

        using var unknownRoute = await Client.GetAsync("/api/v1/nothing-here");
        await Problem.AssertAsync(unknownRoute, HttpStatusCode.NotFound, "urn:oms:problem:not-found");
    }

    [Fact]
    public async Task An_event_published_over_http_is_consumed_in_the_same_trace_and_correlation()
    {
        var traceId = System.Diagnostics.ActivityTraceId.CreateRandom().ToString();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/probe/pings")
        {
            Content = JsonContent.Create(new PingRequest("hello", Fail: false)),
        };
        request.Headers.Add("traceparent", $"00-{traceId}-{System.Diagnostics.ActivitySpanId.CreateRandom()}-01");
        request.Headers.Add("X-Correlation-Id", "order-4711");
        using var accepted = await Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        Assert.Equal("order-4711", accepted.Headers.GetValues("X-Correlation-Id").Single());
        var id = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

        var ping = await WaitForPingAsync(id);
        Assert.Equal("hello", ping.GetProperty("text").GetString());
        Assert.Equal(traceId, ping.GetProperty("traceId").GetString());
        Assert.Equal("order-4711", ping.GetProperty("correlationId").GetString());
    }

    [Fact]
    public async Task Dead_letters_are_listed_with_their_error_and_replayed_over_http()
    {
        ProbeSwitch.Instance.Healed = false;
        using var accepted = await Client.PostAsJsonAsync("/api/v1/probe/pings", new PingRequest("doomed", Fail: true));
        var id = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

        JsonElement deadLetter = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            var list = await Client.GetFromJsonAsync<JsonElement>("/api/v1/admin/messaging/dead-letters?module=Probe");
            deadLetter = list.EnumerateArray().FirstOrDefault(d => d.GetProperty("lastError").GetString()!.Contains(id.ToString(), StringComparison.Ordinal));
            return deadLetter.ValueKind == JsonValueKind.Object;
        });
        Assert.Equal("probe.pinged.v1", deadLetter.GetProperty("messageType").GetString());
        Assert.Equal(3, deadLetter.GetProperty("attempts").GetInt32());
        Assert.Equal("probe.RecordPing", deadLetter.GetProperty("consumer").GetString());

        ProbeSwitch.Instance.Healed = true;
        using var missing = await Client.PostAsync($"/api/v1/admin/messaging/dead-letters/Probe/{Guid.NewGuid()}/replay", null);
        await Problem.AssertAsync(missing, HttpStatusCode.NotFound, "urn:oms:problem:not-found");
        using var replay = await Client.PostAsync($"/api/v1/admin/messaging/dead-letters/Probe/{deadLetter.GetProperty("id").GetGuid()}/replay", null);
        Assert.Equal(1, (await replay.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("replayed").GetInt32());
        Assert.Equal("doomed", (await WaitForPingAsync(id)).GetProperty("text").GetString());
    }

    [Fact]
    public void Every_mediator_request_has_exactly_one_handler()
    {
        using var scope = host.Services.CreateScope();
        var requestInterfaces = new Dictionary<Type, Type>
        {
            [typeof(IRequest<>)] = typeof(IRequestHandler<,>),
            [typeof(ICommand<>)] = typeof(ICommandHandler<,>),
            [typeof(IQuery<>)] = typeof(IQueryHandler<,>),
        };
        var assemblies = ModuleCatalog.LoadModuleAssemblies(AppContext.BaseDirectory)
            .Append(typeof(MessagingAdmin).Assembly)
            .Where(a => a.GetName().Name != "OmsModular.Modules.Probe");
        var checkedRequests = 0;
        foreach (var type in assemblies.SelectMany(a => a.GetTypes()).Where(t => t is { IsAbstract: false, IsInterface: false }))
        {
            foreach (var contract in type.GetInterfaces().Where(i => i.IsGenericType && requestInterfaces.ContainsKey(i.GetGenericTypeDefinition())))
            {
                var handlerType = requestInterfaces[contract.GetGenericTypeDefinition()].MakeGenericType(type, contract.GetGenericArguments()[0]);
                var handlers = scope.ServiceProvider.GetServices(handlerType).ToArray();
                Assert.True(handlers.Length == 1, $"{type.Name} has {handlers.Length} handlers; the generator may have dropped it.");
                checkedRequests++;
            }
        }

        Assert.True(checkedRequests >= 3, $"only {checkedRequests} requests were found; the scan is broken");
    }

    [Fact]
    public void Every_declared_consumer_resolves_and_is_routed_its_event()
    {
        var registry = host.Services.GetRequiredService<ModuleRegistry>();
        using var scope = host.Services.CreateScope();
        var consumers = registry.Hosted.SelectMany(m => m.Consumes).ToArray();
        Assert.NotEmpty(consumers);
        foreach (var consumer in consumers)
        {
            Assert.NotNull(scope.ServiceProvider.GetService(consumer.ConsumerType));
            Assert.Contains(consumer, registry.HostedConsumersOf(consumer.WireName));
        }
    }

    [Fact]
    public async Task Retention_is_scheduled()
    {
        using var connection = host.Services.GetRequiredService<JobStorage>().GetConnection();
        var jobs = connection.GetRecurringJobs();
        Assert.Contains(jobs, j => j.Id == "messaging-retention-orders" && j.Job?.Queue == "orders");
        Assert.Contains(jobs, j => j.Id == "messaging-retention-pricing" && j.Job?.Queue == "pricing");
        Assert.DoesNotContain(jobs, j => j.Id == MessagingRetentionJob.JobId);
    }

    [Fact]
    public async Task A_modules_jobs_run_on_its_own_queue_which_only_processes_hosting_it_take()
    {
        var storage = host.Services.GetRequiredService<JobStorage>();
        var jobId = new RecurringJobManager(storage).TriggerJob("orders-time-out-pending");
        Assert.False(string.IsNullOrEmpty(jobId));
        string? queue = null;
        await Messaging.MessagingHarness.WaitUntilAsync(() =>
        {
            var details = storage.GetMonitoringApi().JobDetails(jobId);
            queue = details?.History.FirstOrDefault(h => h.StateName == "Enqueued")?.Data is { } data && data.TryGetValue("Queue", out var q) ? q : queue;
            return Task.FromResult(details?.History.Any(h => h.StateName == "Succeeded") == true);
        }, TimeSpan.FromSeconds(20));
        Assert.Equal("orders", queue);

        // This process hosts every module: its server takes every module's queue, and the Host's own.
        var server = storage.GetMonitoringApi().Servers().Single(s => s.Name.Contains($"-{Environment.ProcessId}", StringComparison.Ordinal));
        Assert.Contains("orders", server.Queues);
        Assert.Contains("inventory", server.Queues);
        Assert.Contains("default", server.Queues);
    }

    [Fact]
    public async Task An_unhandled_error_is_a_problem_without_internals_outside_development()
    {
        using var response = await Client.GetAsync("/api/v1/probe/boom");
        var problem = await Problem.AssertAsync(response, HttpStatusCode.InternalServerError, "urn:oms:problem:internal-error");
        var body = problem.GetRawText();
        Assert.DoesNotContain("probe secret", body, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", body, StringComparison.Ordinal);
    }

    private async Task<JsonElement> WaitForPingAsync(Guid id)
    {
        JsonElement ping = default;
        await MessagingHarness.WaitUntilAsync(async () =>
        {
            using var response = await Client.GetAsync($"/api/v1/probe/pings/{id}");
            if (response.StatusCode != HttpStatusCode.OK)
            {
                return false;
            }

            ping = await response.Content.ReadFromJsonAsync<JsonElement>();
            return true;
        });
        return ping;
    }
}
