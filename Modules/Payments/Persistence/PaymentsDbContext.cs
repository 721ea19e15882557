using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Payments.Domain;
using OmsModular.Modules.Payments.Features;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Payments.Persistence;

/// <summary>The Payments module's own context: schema <c>payments</c> only.</summary>
internal sealed class PaymentsDbContext(DbContextOptions<PaymentsDbContext> options) : ModuleDbContext(options)
{
    public DbSet<Payment> Payments => Set<Payment>();

    public DbSet<LedgerEntry> Ledger => Set<LedgerEntry>();

    public DbSet<EndedOrder> EndedOrders => Set<EndedOrder>();

    public DbSet<Capture> Captures => Set<Capture>();

    public DbSet<Refund> Refunds => Set<Refund>();

    public DbSet<TokenKey> TokenKeys => Set<TokenKey>();

    public DbSet<AuthorizationIncrease> AuthorizationIncreases => Set<AuthorizationIncrease>();

    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
        var payment = modelBuilder.Entity<Payment>();
        payment.ToTable("payments");
        payment.HasKey(p => p.Id);
        payment.HasIndex(p => p.OrderId).IsUnique();
        payment.Property(p => p.Amount).HasPrecision(19, 4);
        payment.Property(p => p.Currency).HasMaxLength(3).IsFixedLength();
        payment.Property(p => p.Method).HasMaxLength(50);
        payment.Property(p => p.Provider).HasMaxLength(50);
        payment.Property(p => p.Status).HasConversion<string>().HasMaxLength(20);
        payment.Property(p => p.ProviderReference).HasMaxLength(100);
        payment.Property(p => p.DeclineReason).HasMaxLength(100);
        payment.Property(p => p.CapturedAmount).HasPrecision(19, 4);
        payment.Property(p => p.RefundedAmount).HasPrecision(19, 4);
        payment.Property(p => p.CapturedBeforeReauthorization).HasPrecision(19, 4);
        payment.Property(p => p.HoldReason).HasMaxLength(50);
        payment.HasIndex(p => p.AuthorizationExpiresAt).HasFilter("hold_reason IS NULL AND status IN ('Authorized', 'PartiallyCaptured')");

        var refund = modelBuilder.Entity<Refund>();
        refund.ToTable("refunds");
        refund.HasKey(r => r.Id);
        refund.HasIndex(r => r.OrderId);
        refund.HasIndex(r => r.IdempotencyKey).IsUnique();
        refund.Property(r => r.Amount).HasPrecision(19, 4);
        refund.Property(r => r.Currency).HasMaxLength(3).IsFixedLength();
        refund.Property(r => r.Reason).HasMaxLength(30);
        refund.Property(r => r.Note).HasMaxLength(500);
        refund.Property(r => r.Lines).HasColumnType("jsonb");
        refund.Property(r => r.ProviderReference).HasMaxLength(100);
        refund.Property(r => r.IdempotencyKey).HasMaxLength(220);
        refund.Property(r => r.RequestHash).HasMaxLength(64);
        refund.Property(r => r.Actor).HasMaxLength(200);

        var capture = modelBuilder.Entity<Capture>();
        capture.ToTable("captures");
        capture.HasKey(c => c.Id);
        capture.Property(c => c.Id).ValueGeneratedNever();
        capture.HasIndex(c => c.OrderId);
        capture.Property(c => c.Amount).HasPrecision(19, 4);
        capture.Property(c => c.Currency).HasMaxLength(3).IsFixedLength();
        capture.Property(c => c.ProviderReference).HasMaxLength(100);

        var ledger = modelBuilder.Entity<LedgerEntry>();
        ledger.ToTable("ledger_entries");
        ledger.HasKey(e => e.Id);
        ledger.Property(e => e.Id).UseIdentityAlwaysColumn();
        ledger.HasIndex(e => e.OrderId);
        ledger.Property(e => e.Kind).HasMaxLength(20);
        ledger.Property(e => e.Amount).HasPrecision(19, 4);
        ledger.Property(e => e.Currency).HasMaxLength(3).IsFixedLength();
        ledger.Property(e => e.ProviderReference).HasMaxLength(100);
        ledger.Property(e => e.Note).HasMaxLength(200);

        var key = modelBuilder.Entity<TokenKey>();
        key.ToTable("token_keys");
        key.HasKey(k => k.KeyId);
        key.Property(k => k.KeyId).HasMaxLength(32);

        var increase = modelBuilder.Entity<AuthorizationIncrease>();
        increase.ToTable("authorization_increases");
        increase.HasKey(i => i.ChangeId);
        increase.Property(i => i.ChangeId).ValueGeneratedNever();
        increase.HasIndex(i => i.OrderId);
        increase.Property(i => i.AmountBefore).HasPrecision(19, 4);
        increase.Property(i => i.AmountAfter).HasPrecision(19, 4);
        increase.Property(i => i.DeclineReason).HasMaxLength(100);

        var ended = modelBuilder.Entity<EndedOrder>();
        ended.ToTable("ended_orders");
        ended.HasKey(e => e.OrderId);
        ended.Property(e => e.OrderId).ValueGeneratedNever();
        ended.Property(e => e.Reason).HasMaxLength(200);
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class PaymentsDesignTimeFactory : ModuleDesignTimeFactory<PaymentsDbContext>;
