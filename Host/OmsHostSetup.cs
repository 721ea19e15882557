using System.Text.Json;
using Hangfire;
using Hangfire.PostgreSql;
using Mediator;
using Npgsql;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OmsModular.Host.Messaging;
using OmsModular.Host.Remote;
using OmsModular.Shared.Infrastructure.Access;
using OmsModular.Shared.Infrastructure.Database;
using OmsModular.Shared.Infrastructure.Hosting;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Messaging.Admin;
using OmsModular.Shared.Infrastructure.Modules;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using Scalar.AspNetCore;
using Serilog;

namespace OmsModular.Host;

/// <summary>The composition root: everything the one binary wires together.</summary>
internal static class OmsHostSetup
{
    public static async Task AddOmsHostAsync(this WebApplicationBuilder builder, string[] args)
    {
        // Run from anywhere (e.g. `dotnet run --project Host` at the repository root): the settings
        // next to the binary are the lowest-priority source when the working directory has none.
        if (!File.Exists(Path.Combine(builder.Environment.ContentRootPath, "appsettings.json")))
        {
            builder.Configuration.Sources.Insert(0, new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource
            {
                Path = "appsettings.json",
                Optional = true,
                FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(AppContext.BaseDirectory),
            });
        }

        builder.Configuration.AddCommandLine(args, HostCommand.SwitchMappings);
        var configuration = builder.Configuration;

        builder.AddOmsLogging();

        // The embedded default: a private PostgreSQL cluster when no connection string is given.
        if (string.IsNullOrWhiteSpace(configuration.GetConnectionString(ModuleServiceCollectionExtensions.ConnectionStringName))
            && !Microsoft.EntityFrameworkCore.EF.IsDesignTime)
        {
            var directory = Path.GetFullPath(configuration["Oms:Database:EmbeddedDirectory"] ?? Path.Combine(".oms", "postgres"));
            Log.Information("No connection string configured; starting the embedded PostgreSQL cluster in {Directory}", directory);
            var embedded = await EmbeddedPostgres.StartAsync(new EmbeddedPostgresOptions { Directory = directory });
            configuration[$"ConnectionStrings:{ModuleServiceCollectionExtensions.ConnectionStringName}"] = embedded.ConnectionString;
            builder.Services.AddSingleton(embedded);
            builder.Services.AddHostedService<EmbeddedPostgresLifetime>(); // registered first: stopped last
            if (embedded.Relocation is { } relocation)
            {
                Log.Warning("Embedded PostgreSQL: {Relocation}", relocation);
            }

            if (embedded.Adopted && HostCommand.Parse(args).Verb == "run")
            {
                Log.Warning("Embedded PostgreSQL was still running in {Directory} (a Host that did not stop cleanly): adopted, and stopped with this Host", embedded.Directory);
            }

            Log.Information("Embedded PostgreSQL listens on 127.0.0.1:{Port}", embedded.Port);
        }

        var connectionString = configuration.GetConnectionString(ModuleServiceCollectionExtensions.ConnectionStringName)!;
        if (builder.Services.FirstOrDefault(d => d.ServiceType == typeof(EmbeddedPostgres))?.ImplementationInstance is EmbeddedPostgres cluster
            && ModuleRoles.Load(Path.Combine(cluster.RequestedDirectory, ModuleRolesFile)) is { Count: > 0 } roles)
        {
            // Provisioned before (migrate --provision-roles): each module, the API-key store and Hangfire
            // connect as their own roles; the cluster's owner only migrates and provisions.
            foreach (var module in ModuleCatalog.All.Where(m => roles.ContainsKey(m.Manifest.Name)))
            {
                configuration[$"ConnectionStrings:{module.Manifest.Name}"] ??= ModuleRoles.ConnectionStringFor(connectionString, module.Manifest, roles[module.Manifest.Name]);
            }

            foreach (var scope in new[] { ModuleRoles.Access, ModuleRoles.Jobs }.Where(s => roles.ContainsKey(s.Name)))
            {
                configuration[$"ConnectionStrings:{scope.Name}"] ??= ModuleRoles.ConnectionStringFor(connectionString, scope, roles[scope.Name]);
            }

            Log.Information("Modules connect as their own roles: {Modules}", roles.Keys); // (with Access and Jobs: the key store, Hangfire)
        }

        if (RabbitMqSetup.IsConfigured(configuration))
        {
            builder.Services.AddRabbitMqTransport(configuration); // before the modules: it takes the place of the in-process transport
        }

        if (configuration.GetSection(Remote.RemoteModules.Section).GetChildren().Any())
        {
            builder.Services.AddRemoteModules(configuration); // before the modules: it takes the place of the in-process module client
        }

        var registry = builder.Services.AddOmsModules(configuration, ModuleCatalog.All);
        if (Gateway.IsEnabled(configuration))
        {
            builder.Services.AddGateway(configuration, registry);
        }
        builder.Services.AddMediator((MediatorOptions options) =>
        {
            options.ServiceLifetime = ServiceLifetime.Scoped;
            options.GenerateTypesAsInternal = true;
        });

        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddSingleton<ServerProblems>();
        builder.WebHost.ConfigureKestrel(o =>
        {
            o.Limits.MaxRequestBodySize = InputGuard.MaxBufferedBody; // what the input guard reads at most
            ServerProblems.Attach(o); // Kestrel's own error responses as problem details
        });
        // A rule stops at its first failure: a missing value is reported as missing, and later checks
        // of the same rule never see it (no null dereferences inside validators).
        FluentValidation.ValidatorOptions.Global.DefaultRuleLevelCascadeMode = FluentValidation.CascadeMode.Stop;
        // One strict JSON policy for the whole API: numbers only as numbers, enums only by name,
        // [JsonRequired] members really required, nullable annotations respected, no unknown members.
        builder.Services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
            o.SerializerOptions.RespectNullableAnnotations = true;
            o.SerializerOptions.UnmappedMemberHandling = System.Text.Json.Serialization.JsonUnmappedMemberHandling.Disallow;
            o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false));
        });
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ProblemDetailsSetup.Customize);
        builder.Services.AddExceptionHandler<ProblemExceptionHandler>();
        builder.Services.AddOpenApi(o => OpenApiSetup.Configure(o, configuration));
        builder.Services.AddHealthChecks().AddOmsReadiness();

        builder.AddOmsAccess(connectionString);
        builder.AddOmsTelemetry();
        builder.AddOmsJobs(connectionString);
    }

    public static void UseOmsHost(this WebApplication app)
    {
        app.UseMiddleware<CorrelationMiddleware>();
        app.UseSerilogRequestLogging(o => o.EnrichDiagnosticContext = CorrelationMiddleware.EnrichRequestLog);
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.UseOmsAccess();
        app.UseMiddleware<InputGuard>();

        var docs = new[] { app.MapOpenApi(), app.MapScalarApiReference() };
        foreach (var doc in docs)
        {
            if (app.PublicDocs())
            {
                doc.AllowAnonymous();
            }
            else
            {
                doc.RequireAuthorization();
            }
        }

        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = HealthResponse.WriteAsync })
            .AllowAnonymous().WithMetadata(new HttpMethodMetadata(["GET", "HEAD"]));
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains(OmsHealthChecks.ReadyTag),
            ResponseWriter = HealthResponse.WriteAsync,
        }).AllowAnonymous().WithMetadata(new HttpMethodMetadata(["GET", "HEAD"]));
        app.UseOmsJobsDashboard();

        var registry = app.Services.GetRequiredService<ModuleRegistry>();
        foreach (var module in ModuleCatalog.All.Where(m => registry.IsHosted(m.Manifest)))
        {
            module.MapEndpoints(app);
        }

        app.MapMessagingAdmin();
        app.MapAccessAdmin();
        app.MapModuleApi();
        if (Gateway.IsEnabled(app.Configuration))
        {
            app.MapReverseProxy();
        }
    }

    /// <summary>Migrations on start-up (unless switched off) and the recurring jobs.</summary>
    public static async Task PrepareAsync(this WebApplication app)
    {
        if (app.Configuration.GetValue("Oms:Database:MigrateOnStartup", true))
        {
            await ModuleMigrator.MigrateAsync(app.Services);
            if (JobsPreparedByOwner(app.Configuration))
            {
                // Hangfire runs as its own role, which may not change the schema: the owner prepares it.
                await InstallJobsSchemaAsync(app.Configuration.GetConnectionString(ModuleServiceCollectionExtensions.ConnectionStringName)!);
            }

            if (app.Configuration.GetConnectionString(ModuleRoles.Jobs.Name) is not null || app.Configuration.GetConnectionString(ModuleRoles.Access.Name) is not null)
            {
                Npgsql.NpgsqlConnection.ClearAllPools(); // the owner's idle connections from migrating are not kept
            }
        }
        else if (JobsPreparedByOwner(app.Configuration))
        {
            await EnsureJobsSchemaAsync(app.Configuration.GetConnectionString(ModuleRoles.Jobs.Name)!);
        }

        await app.EnsureEmbeddedAdminKeyAsync();
        if (app.Configuration.GetValue("Oms:SeedDemo", false))
        {
            await SeedDemoAsync(app.Services);
        }

        var messaging = app.Services.GetRequiredService<IOptions<MessagingOptions>>().Value;
        // One retention job per hosted module, on the module's queue: whichever process runs it hosts that module.
        var recurring = app.Services.GetRequiredService<IRecurringJobManager>();
        recurring.RemoveIfExists(MessagingRetentionJob.JobId); // the one job of all modules, before there was a queue per module
        foreach (var manifest in app.Services.GetRequiredService<ModuleRegistry>().Hosted)
        {
            var module = manifest.Name;
            recurring.AddOrUpdate<MessagingRetentionJob>(
                MessagingRetentionJob.JobIdOf(manifest),
                manifest.Schema,
                job => job.RunAsync(module, CancellationToken.None),
                messaging.RetentionCron);
        }
    }

    public static async Task MigrateAndExitAsync(this WebApplication app, bool seedDemo, bool provisionRoles = false)
    {
        await ModuleMigrator.MigrateAsync(app.Services);
        await InstallJobsSchemaAsync(app.Configuration.GetConnectionString(ModuleServiceCollectionExtensions.ConnectionStringName)!);
        Log.Information("Migrations applied for {Modules}", app.Services.GetRequiredService<ModuleRegistry>().Hosted.Select(m => m.Name));
        if (RabbitMqSetup.IsConfigured(app.Configuration))
        {
            await RabbitMqSetup.DeclareTopologyAsync(app.Services, CancellationToken.None);
        }

        if (provisionRoles)
        {
            await ProvisionRolesAsync(app);
        }

        if (seedDemo)
        {
            await SeedDemoAsync(app.Services);
        }

        if (app.Services.GetService<EmbeddedPostgres>() is { Adopted: false } embedded)
        {
            await embedded.StopAsync(); // a cluster that was already running (a Host uses it) is left running
        }

        await Log.CloseAndFlushAsync();
    }

    /// <summary>
    /// One login role per hosted module that can use only its own schema. The embedded default keeps
    /// their passwords in <c>module-roles.json</c> beside its password and connects each module as its
    /// role from then on; with a configured database the settings to use are printed.
    /// </summary>
    private static async Task ProvisionRolesAsync(WebApplication app)
    {
        var shared = app.Configuration.GetConnectionString(ModuleServiceCollectionExtensions.ConnectionStringName)!;
        var hosted = app.Services.GetRequiredService<ModuleRegistry>().Hosted.ToArray();
        var embedded = app.Services.GetService<EmbeddedPostgres>();
        var file = embedded is null ? null : Path.Combine(embedded.RequestedDirectory, ModuleRolesFile);
        // Known passwords: the embedded default's file, else the modules' configured connections as their roles.
        var known = file is not null
            ? new Dictionary<string, string>(ModuleRoles.Load(file), StringComparer.Ordinal)
            : hosted.Select(m => (m.Name, Connection: app.Configuration.GetConnectionString(m.Name)))
                .Where(c => c.Connection is not null && new Npgsql.NpgsqlConnectionStringBuilder(c.Connection).Username is { } user && user == ModuleRoles.RoleOf(hosted.First(h => h.Name == c.Name)))
                .ToDictionary(c => c.Name, c => new Npgsql.NpgsqlConnectionStringBuilder(c.Connection).Password ?? string.Empty, StringComparer.Ordinal);
        // The Host's own schemas get roles too: the API-key store and Hangfire's jobs (its tables exist: migrate installed them).
        foreach (var scope in new[] { ModuleRoles.Access, ModuleRoles.Jobs })
        {
            if (file is null && app.Configuration.GetConnectionString(scope.Name) is { } configured
                && new Npgsql.NpgsqlConnectionStringBuilder(configured).Username == ModuleRoles.RoleOf(scope))
            {
                known[scope.Name] = new Npgsql.NpgsqlConnectionStringBuilder(configured).Password ?? string.Empty;
            }
        }

        var scopes = hosted.Select(ModuleRoles.Scope.Of).Concat([ModuleRoles.Access, ModuleRoles.Jobs]).ToArray();
        var passwords = await ModuleRoles.ProvisionAsync(shared, scopes, known);
        if (file is not null)
        {
            var all = ModuleRoles.Load(file).Concat(passwords).GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value, StringComparer.Ordinal);
            await ModuleRoles.SaveAsync(file, all);
            Log.Information("Provisioned a role per module ({Roles}); the embedded default connects each module as its role from its next start (passwords in {File})",
                hosted.Select(ModuleRoles.RoleOf), file);
            return;
        }

        Console.WriteLine("Provisioned a role per module. Give each module its connection (environment variables; the values hold the roles' passwords, keep them as secrets):");
        foreach (var scope in scopes.Where(s => !known.ContainsKey(s.Name)))
        {
            Console.WriteLine($"ConnectionStrings__{scope.Name}={ModuleRoles.ConnectionStringFor(shared, scope, passwords[scope.Name])}");
        }
    }

    public const string ModuleRolesFile = "module-roles.json";

    /// <summary>Creates or upgrades Hangfire's schema, as the shared connection's role (its owner), under the migration lock.</summary>
    private static Task InstallJobsSchemaAsync(string ownerConnectionString) =>
        ModuleMigrator.WithMigrationLockAsync(ownerConnectionString, async () =>
        {
            await using var connection = new Npgsql.NpgsqlConnection(new Npgsql.NpgsqlConnectionStringBuilder(ownerConnectionString) { Pooling = false }.ConnectionString);
            await connection.OpenAsync();
            PostgreSqlObjectsInstaller.Install(connection, JobsSchema);
        });

    /// <summary>Hangfire runs as its own role in the shared database: the owner prepares its schema (else Hangfire does, on its own connection).</summary>
    private static bool JobsPreparedByOwner(IConfiguration configuration) =>
        configuration.GetConnectionString(ModuleRoles.Jobs.Name) is { } jobs
        && ModuleMigrator.SameDatabase(jobs, configuration.GetConnectionString(ModuleServiceCollectionExtensions.ConnectionStringName)!);

    /// <summary>Without migrations at start-up, a Hangfire role that finds no schema stops the start with what to do.</summary>
    private static async Task EnsureJobsSchemaAsync(string jobsConnectionString)
    {
        try
        {
            await using var connection = new Npgsql.NpgsqlConnection(jobsConnectionString);
            await connection.OpenAsync();
            await using var command = new Npgsql.NpgsqlCommand($"SELECT max(version) FROM \"{JobsSchema}\".schema", connection);
            await command.ExecuteScalarAsync();
        }
        catch (Npgsql.PostgresException exception) when (exception.SqlState is "42P01" or "3F000")
        {
            throw new InvalidOperationException($"Hangfire's schema \"{JobsSchema}\" is missing and Hangfire runs as its own role, which may not create it: run the migrate verb first.", exception);
        }
    }

    private const string JobsSchema = "hangfire";

    /// <summary>Loads the demo data set through each hosted module's own features (idempotent: it overwrites).</summary>
    private static async Task SeedDemoAsync(IServiceProvider services)
    {
        foreach (var data in services.GetServices<IDemoData>().OrderBy(d => d.Order))
        {
            await data.SeedAsync(services, CancellationToken.None);
        }

        Log.Information("Demo data loaded: {Nodes} nodes, {Skus} SKUs with stock and prices", DemoCatalogue.Nodes.Count, DemoCatalogue.Skus.Count());
    }

    private static void AddOmsJobs(this WebApplicationBuilder builder, string connectionString)
    {
        var jobsRole = builder.Configuration.GetConnectionString(ModuleRoles.Jobs.Name); // Hangfire's own role, where provisioned
        var pollInterval = builder.Configuration.GetValue("Oms:Jobs:PollInterval", TimeSpan.FromSeconds(15));
        var registry = new ModuleRegistry(ModuleCatalog.All, (builder.Configuration[ModuleServiceCollectionExtensions.ModulesKey] ?? "all")
            .Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        var queues = new OmsModular.Shared.Infrastructure.Jobs.ModuleJobQueues(
            ModuleCatalog.All.GroupBy(m => m.GetType().Assembly).ToDictionary(g => g.Key, g => g.First().Manifest.Schema))
        {
            Order = int.MaxValue, // after every other election filter (retries included): the queue is decided last
        };
        builder.Services.AddSingleton(queues);
        builder.Services.AddHangfire(config => config
            .UseFilter(queues)
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UsePostgreSqlStorage(
                o => o.UseNpgsqlConnection(ModuleDatabase.SeparatePool(jobsRole ?? connectionString, "oms-jobs", 20)),
                new PostgreSqlStorageOptions
                {
                    SchemaName = JobsSchema,
                    PrepareSchemaIfNecessary = !JobsPreparedByOwner(builder.Configuration), // its own role in the shared database may not change the schema: migrating prepares it
                    QueuePollInterval = pollInterval,
                }));
        if (builder.Configuration.GetValue("Oms:Jobs:RunServer", true))
        {
            builder.Services.AddHangfireServer(o =>
            {
                o.SchedulePollingInterval = pollInterval;
                o.WorkerCount = Math.Max(2, Environment.ProcessorCount * 2);
                o.ServerName = $"oms-{Environment.MachineName}-{Environment.ProcessId}";
                // Only the jobs of the modules this process hosts, and the Host's own.
                o.Queues = [.. ModuleCatalog.All.Where(m => registry.IsHosted(m.Manifest)).Select(m => m.Manifest.Schema), OmsModular.Shared.Infrastructure.Jobs.ModuleJobQueues.DefaultQueue];
            });
        }
    }

    private static void UseOmsJobsDashboard(this WebApplication app)
    {
        // An endpoint like the others: the admin scope (401/403 problem details), or anyone when open.
        var open = string.Equals(app.Configuration["Oms:Jobs:DashboardAccess"], "open", StringComparison.OrdinalIgnoreCase);
        var dashboard = app.MapHangfireDashboard("/hangfire", new DashboardOptions
        {
            Authorization = [new DashboardAccessFilter(open)],
            DashboardTitle = "OmsModular jobs",
        }).ExcludeFromDescription();
        if (open)
        {
            dashboard.AllowAnonymous();
        }
        else
        {
            dashboard.RequireScope(Scopes.Admin);
        }
    }

    private static void AddOmsTelemetry(this WebApplicationBuilder builder)
    {
        var endpoint = builder.Configuration["Oms:Otlp:Endpoint"];
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            endpoint = builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        }

        var export = !string.IsNullOrWhiteSpace(endpoint);
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("OmsModular", serviceInstanceId: Environment.MachineName))
            .WithTracing(tracing =>
            {
                tracing.AddAspNetCoreInstrumentation(o => o.Filter = ctx => !ctx.Request.Path.StartsWithSegments("/health"))
                    .AddSource(MessagingTelemetry.Name);
                if (export)
                {
                    // A span per database command is worth its cost only when someone receives it
                    // (without an exporter the request and message spans still carry the trace ids
                    // into the logs and across the outbox).
                    tracing.AddNpgsql().AddOtlpExporter(o => o.Endpoint = new Uri(endpoint!));
                }
            })
            .WithMetrics(metrics =>
            {
                metrics.AddAspNetCoreInstrumentation()
                    .AddMeter(MessagingTelemetry.Name)
                    .AddMeter("Npgsql");
                if (export)
                {
                    metrics.AddOtlpExporter(o => o.Endpoint = new Uri(endpoint!));
                }
            });
    }
}

/// <summary>Stops the embedded cluster when the Host shuts down.</summary>
internal sealed class EmbeddedPostgresLifetime(EmbeddedPostgres embedded) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => embedded.StopAsync();
}

/// <summary>The Hangfire dashboard: a credential with the <c>admin</c> scope, unless <c>Oms:Jobs:DashboardAccess=open</c>.</summary>
internal sealed class DashboardAccessFilter(bool open) : Hangfire.Dashboard.IDashboardAuthorizationFilter
{
    public bool Authorize(Hangfire.Dashboard.DashboardContext context) =>
        open || OmsModular.Shared.Infrastructure.Access.Caller.Of(Hangfire.Dashboard.AspNetCoreDashboardContextExtensions.GetHttpContext(context)).Scopes.Contains(OmsModular.Shared.Infrastructure.Access.Scopes.Admin);
}

internal static class HealthResponse
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.Select(e => new
            {
                name = e.Key,
                status = e.Value.Status.ToString(),
                description = e.Value.Description,
                data = e.Value.Data,
            }),
        });
    }
}
