using Microsoft.EntityFrameworkCore;
using OmsModular.Modules.Notifications.Domain;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Modules.Notifications.Persistence;

/// <summary>The Notifications module's own context: schema <c>notifications</c> only.</summary>
internal sealed class NotificationsDbContext(DbContextOptions<NotificationsDbContext> options) : ModuleDbContext(options)
{
    public DbSet<OrderContact> Contacts => Set<OrderContact>();

    public DbSet<Template> Templates => Set<Template>();

    public DbSet<EmailNotification> Emails => Set<EmailNotification>();

    public DbSet<EmailAttempt> EmailAttempts => Set<EmailAttempt>();

    public DbSet<WebhookEndpoint> Endpoints => Set<WebhookEndpoint>();

    public DbSet<WebhookMessage> Messages => Set<WebhookMessage>();

    public DbSet<WebhookDelivery> Deliveries => Set<WebhookDelivery>();

    public DbSet<WebhookAttempt> WebhookAttempts => Set<WebhookAttempt>();

    protected override void ConfigureModule(ModelBuilder modelBuilder)
    {
        var contact = modelBuilder.Entity<OrderContact>();
        contact.ToTable("order_contacts");
        contact.HasKey(c => c.OrderId);
        contact.Property(c => c.OrderId).ValueGeneratedNever();
        contact.Property(c => c.OrderNumber).HasMaxLength(20);
        contact.Property(c => c.CustomerName).HasMaxLength(200);
        contact.Property(c => c.Email).HasMaxLength(254);
        contact.Property(c => c.Locale).HasMaxLength(20);
        contact.Property(c => c.Channel).HasMaxLength(20);
        contact.Property(c => c.Currency).HasMaxLength(3).IsFixedLength();

        var template = modelBuilder.Entity<Template>();
        template.ToTable("templates");
        template.HasKey(t => t.Id);
        template.HasIndex(t => new { t.EventType, t.Channel, t.Locale }).IsUnique();
        template.Property(t => t.EventType).HasMaxLength(50);
        template.Property(t => t.Channel).HasMaxLength(20);
        template.Property(t => t.Locale).HasMaxLength(20);
        template.Property(t => t.Subject).HasMaxLength(500);

        var email = modelBuilder.Entity<EmailNotification>();
        email.ToTable("emails");
        email.HasKey(e => e.Id);
        email.HasIndex(e => e.IdempotencyKey).IsUnique();
        email.HasIndex(e => e.OrderId);
        email.HasIndex(e => e.NextAttemptAt).HasFilter("status = 'Pending'");
        email.Property(e => e.IdempotencyKey).HasMaxLength(400);
        email.Property(e => e.EventType).HasMaxLength(50);
        email.Property(e => e.Recipient).HasMaxLength(254);
        email.Property(e => e.Locale).HasMaxLength(20);
        email.Property(e => e.Subject).HasMaxLength(1000);
        email.Property(e => e.Status).HasConversion<string>().HasMaxLength(20);
        email.Property(e => e.LastError).HasMaxLength(1000);

        var emailAttempt = modelBuilder.Entity<EmailAttempt>();
        emailAttempt.ToTable("email_attempts");
        emailAttempt.HasKey(a => a.Id);
        emailAttempt.Property(a => a.Id).UseIdentityAlwaysColumn();
        emailAttempt.HasIndex(a => a.NotificationId);
        emailAttempt.Property(a => a.Outcome).HasMaxLength(30);
        emailAttempt.Property(a => a.Response).HasMaxLength(1000);
        emailAttempt.Property(a => a.Error).HasMaxLength(1000);

        var endpoint = modelBuilder.Entity<WebhookEndpoint>();
        endpoint.ToTable("webhook_endpoints");
        endpoint.HasKey(e => e.Id);
        endpoint.Property(e => e.Url).HasMaxLength(2000);
        endpoint.Property(e => e.Description).HasMaxLength(500);
        endpoint.Property(e => e.EventTypes).HasColumnType("text[]");
        endpoint.Property(e => e.Secret).HasMaxLength(100);
        endpoint.Property(e => e.PreviousSecret).HasMaxLength(100);
        endpoint.Property(e => e.Status).HasConversion<string>().HasMaxLength(20);
        endpoint.Property(e => e.DisabledReason).HasMaxLength(500);
        endpoint.Property(e => e.Version).IsRowVersion();

        var message = modelBuilder.Entity<WebhookMessage>();
        message.ToTable("webhook_messages");
        message.HasKey(m => m.Id);
        message.Property(m => m.Id).HasMaxLength(40);
        message.Property(m => m.Sequence).UseIdentityAlwaysColumn();
        message.HasIndex(m => m.Sequence).IsUnique();
        message.HasIndex(m => m.OrderId);
        message.Property(m => m.EventType).HasMaxLength(50);
        message.Property(m => m.Payload).HasColumnType("jsonb");

        var delivery = modelBuilder.Entity<WebhookDelivery>();
        delivery.ToTable("webhook_deliveries");
        delivery.HasKey(d => d.Id);
        delivery.HasIndex(d => new { d.EndpointId, d.MessageId }).IsUnique();
        delivery.HasIndex(d => d.NextAttemptAt).HasFilter("status = 'Pending'");
        delivery.Property(d => d.MessageId).HasMaxLength(40);
        delivery.Property(d => d.Status).HasConversion<string>().HasMaxLength(20);
        delivery.Property(d => d.LastError).HasMaxLength(1000);

        var attempt = modelBuilder.Entity<WebhookAttempt>();
        attempt.ToTable("webhook_attempts");
        attempt.HasKey(a => a.Id);
        attempt.Property(a => a.Id).UseIdentityAlwaysColumn();
        attempt.HasIndex(a => new { a.EndpointId, a.At });
        attempt.Property(a => a.MessageId).HasMaxLength(40);
        attempt.Property(a => a.Error).HasMaxLength(1000);
    }
}

/// <summary>Used by <c>dotnet ef</c> only.</summary>
internal sealed class NotificationsDesignTimeFactory : ModuleDesignTimeFactory<NotificationsDbContext>;
