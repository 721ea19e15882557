using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Shared.Infrastructure.Access;

/// <summary>An API key as stored: its public id, the SHA-256 of its secret, never the secret.</summary>
internal sealed class ApiKey
{
    public Guid Id { get; init; } = Guid.CreateVersion7();

    /// <summary>The public part of the key (<c>oms_&lt;KeyId&gt;_&lt;secret&gt;</c>), shown in lists and logs.</summary>
    public required string KeyId { get; init; }

    public required string Name { get; init; }

    public required byte[] SecretHash { get; init; }

    public List<string> Scopes { get; init; } = [];

    public string? Channel { get; init; }

    public string? Marketplace { get; init; }

    public DateTimeOffset CreatedAt { get; init; }

    public required string CreatedBy { get; init; }

    public DateTimeOffset? RevokedAt { get; set; }

    public string? RevokedBy { get; set; }
}

/// <summary>The <c>access</c> schema: the API keys every process of the system accepts.</summary>
internal sealed class AccessDbContext(DbContextOptions<AccessDbContext> options) : DbContext(options)
{
    public const string Schema = "access";

    public DbSet<ApiKey> ApiKeys => Set<ApiKey>();

    public static void Configure(DbContextOptionsBuilder options, string connectionString) =>
        options.UseNpgsql(connectionString, npgsql => npgsql
                .MigrationsHistoryTable(ModuleDbContextOptions.MigrationsHistoryTable, Schema)
                .MigrationsAssembly(typeof(AccessDbContext).Assembly.GetName().Name))
            .UseSnakeCaseNamingConvention();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema(Schema);
        modelBuilder.Entity<ApiKey>(key =>
        {
            key.ToTable("api_keys");
            key.HasKey(k => k.Id);
            key.Property(k => k.KeyId).HasMaxLength(32);
            key.HasIndex(k => k.KeyId).IsUnique();
            key.Property(k => k.Name).HasMaxLength(100);
            key.Property(k => k.Channel).HasMaxLength(20);
            key.Property(k => k.Marketplace).HasMaxLength(50);
            key.Property(k => k.CreatedBy).HasMaxLength(200);
            key.Property(k => k.RevokedBy).HasMaxLength(200);
            key.HasIndex(k => k.Name);
        });
    }
}

internal sealed class AccessDesignTimeFactory : IDesignTimeDbContextFactory<AccessDbContext>
{
    public AccessDbContext CreateDbContext(string[] args)
    {
        var builder = new DbContextOptionsBuilder<AccessDbContext>();
        AccessDbContext.Configure(builder, "Host=design-time-only");
        return new AccessDbContext(builder.Options);
    }
}
