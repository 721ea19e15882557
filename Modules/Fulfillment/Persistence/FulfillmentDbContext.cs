using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Fulfillment.Domain;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Fulfillment.Persistence;

/// <summary>The Fulfillment module's own context: schema <c>fulfillment</c> only.</summary>
internal sealed class FulfillmentDbContext(DbContextOptions<FulfillmentDbContext> options) : ModuleDbContext(options)
{
    public DbSet<Node> Nodes => Set<Node>();

    public DbSet<NodeDailyLoad> Loads => Set<NodeDailyLoad>();

    public DbSet<RoutingDecision> Decisions => Set<RoutingDecision>();

    public DbSet<FulfilmentOrder> FulfilmentOrders => Set<FulfilmentOrder>();

    public DbSet<Shipment> Shipments => Set<Shipment>();

    protected override void ConfigureModule(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(FulfillmentDbContext).Assembly);
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class FulfillmentDesignTimeFactory : ModuleDesignTimeFactory<FulfillmentDbContext>;
