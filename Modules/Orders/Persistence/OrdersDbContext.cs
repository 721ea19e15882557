using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Orders.Domain;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Orders.Persistence;

/// <summary>The Orders module's own context: schema <c>orders</c> only.</summary>
internal sealed class OrdersDbContext(DbContextOptions<OrdersDbContext> options) : ModuleDbContext(options)
{
    public DbSet<Order> Orders => Set<Order>();

    public DbSet<IdempotencyRecord> IdempotencyKeys => Set<IdempotencyRecord>();

    /// <summary>These orders, tracked, with everything they own (one query per collection), by id; unknown ids are left out.</summary>
    public async Task<Dictionary<Guid, Order>> LoadAsync(IEnumerable<Guid> ids, CancellationToken cancellationToken)
    {
        var orderIds = ids.Distinct().ToArray();
        return await Orders.AsSplitQuery().Where(o => orderIds.Contains(o.Id)).ToDictionaryAsync(o => o.Id, cancellationToken);
    }

    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
        modelBuilder.HasSequence<long>("order_numbers").StartsAt(100_001);
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(OrdersDbContext).Assembly);
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class OrdersDesignTimeFactory : ModuleDesignTimeFactory<OrdersDbContext>;
