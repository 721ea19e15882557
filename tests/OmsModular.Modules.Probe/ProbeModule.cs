using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OmsModular.Shared.Contracts;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.Modules;
using OmsModular.Shared.Infrastructure.Persistence;
using OmsModular.Shared.Infrastructure.Access;

namespace OmsModular.Modules.Probe;

/// <summary>A probe event: published over HTTP, consumed by the probe's own consumer.</summary>
[IntegrationEvent("probe.pinged", 1)]
public sealed record ProbePinged(Guid PingId, string Text, bool Fail) : IIntegrationEvent;

/// <summary>Test-only module exercising the backbone through the real Host.</summary>
public sealed class ProbeModule : IModule
{
    public ModuleManifest Manifest { get; } = ModuleManifest.Create("Probe", "probe")
        .UseDbContext<ProbeDbContext>()
        .Publishes<ProbePinged>()
        .Consumes<ProbePinged, RecordPing>()
        .Build();

    public void AddServices(IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton(ProbeSwitch.Instance);
        services.AddHostedService<CreateProbeTables>();
    }

    public void MapEndpoints(IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPost("/api/v1/probe/pings", async (PingRequest request, ProbeDbContext db, CancellationToken ct) =>
        {
            var id = Guid.CreateVersion7();
            db.Publish(new ProbePinged(id, request.Text, request.Fail), partitionKey: id.ToString());
            await db.SaveChangesAsync(ct);
            return TypedResults.Accepted($"/api/v1/probe/pings/{id}", new { id });
        }).ExcludeFromDescription().RequireScope(Scopes.Admin);

        endpoints.MapGet("/api/v1/probe/boom", string () => throw new InvalidOperationException("probe secret: connection to the vault failed"))
            .ExcludeFromDescription().RequireScope(Scopes.Admin);

        endpoints.MapGet("/api/v1/probe/pings/{id:guid}", async (Guid id, ProbeDbContext db, CancellationToken ct) =>
            await db.Pings.SingleOrDefaultAsync(p => p.PingId == id, ct) is { } ping
                ? Results.Ok(ping)
                : Results.NotFound()).ExcludeFromDescription().RequireScope(Scopes.Admin);
    }
}

public sealed record PingRequest(string Text, bool Fail);

internal sealed class RecordedPing
{
    public Guid PingId { get; set; }

    public required string Text { get; set; }

    public Guid MessageId { get; set; }

    public string? TraceId { get; set; }

    public string? ParentTraceId { get; set; }

    public string? CorrelationId { get; set; }
}

internal sealed class ProbeDbContext(DbContextOptions<ProbeDbContext> options) : ModuleDbContext(options)
{
    public DbSet<RecordedPing> Pings => Set<RecordedPing>();

    protected override void ConfigureModule(ModelBuilder modelBuilder) =>
        modelBuilder.Entity<RecordedPing>().HasKey(p => p.PingId);
}

/// <summary>Records the ping (and the trace it ran in); fails on purpose when asked to.</summary>
internal sealed class RecordPing(ProbeDbContext db, ProbeSwitch probeSwitch) : IIntegrationEventHandler<ProbePinged>
{
    public Task HandleAsync(ProbePinged message, MessageContext context, CancellationToken cancellationToken)
    {
        if (message.Fail && !probeSwitch.Healed)
        {
            throw new InvalidOperationException($"Probe {message.PingId} fails on purpose.");
        }

        db.Pings.Add(new RecordedPing
        {
            PingId = message.PingId,
            Text = message.Text,
            MessageId = context.MessageId,
            TraceId = Activity.Current?.TraceId.ToString(),
            ParentTraceId = Activity.Current?.ParentId,
            CorrelationId = context.CorrelationId,
        });
        return Task.CompletedTask;
    }
}

/// <summary>Lets a test heal the failing consumer.</summary>
public sealed class ProbeSwitch
{
    public static ProbeSwitch Instance { get; } = new();

    public bool Healed { get; set; }
}

/// <summary>The probe ships no migration; it creates its tables once the Host has migrated.</summary>
internal sealed class CreateProbeTables(IServiceScopeFactory scopes) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<ProbeDbContext>();
        await db.Database.ExecuteSqlRawAsync("DROP SCHEMA IF EXISTS probe CASCADE", cancellationToken);
        await db.GetService<IRelationalDatabaseCreator>().CreateTablesAsync(cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
