// Deliberately broken modules and contracts: every rule must report them (see RuleSelfTests).
// They live only in this test assembly; the Host never discovers them.
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Shared.Contracts;
using OmsModular.Shared.Infrastructure.Modules;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.ArchitectureTests.Fixtures.Modules.Orders
{
    public sealed class FixtureOrdersModule : IModule
    {
        /// <summary>Violates rule 6 (synchronous edges): declares a request it never sends.</summary>
        public ModuleManifest Manifest { get; } = ModuleManifest.Create("FixtureOrders", "fixture_orders")
            .UseDbContext<FixtureOrdersDbContext>()
            .Sends<OmsModular.Shared.Contracts.Payments.AuthorizePaymentBatch>()
            .Build();

        public void AddServices(IServiceCollection services, IConfiguration configuration)
        {
        }

        public void MapEndpoints(IEndpointRouteBuilder endpoints)
        {
        }
    }

    internal sealed class FixtureOrdersDbContext(DbContextOptions<FixtureOrdersDbContext> options) : ModuleDbContext(options)
    {
        protected override void ConfigureModule(ModelBuilder modelBuilder)
        {
        }
    }

    internal sealed class FixtureOrdersFactory : ModuleDesignTimeFactory<FixtureOrdersDbContext>;
}

namespace OmsModular.ArchitectureTests.Fixtures.Modules.Payments
{
    /// <summary>Violates rule 6: a contract that is not in Shared.Contracts.</summary>
    [IntegrationEvent("fixture.payment-taken", 1)]
    internal sealed record PaymentTaken(Guid PaymentId) : IIntegrationEvent;

    public sealed class FixturePaymentsModule : IModule
    {
        public ModuleManifest Manifest { get; } = ModuleManifest.Create("FixturePayments", "fixture_payments")
            .UseDbContext<FixturePaymentsDbContext>()
            .Publishes<PaymentTaken>()
            .Build();

        public void AddServices(IServiceCollection services, IConfiguration configuration)
        {
        }

        public void MapEndpoints(IEndpointRouteBuilder endpoints)
        {
        }
    }

    /// <summary>Violates rule 4: a public type besides the registration.</summary>
    public sealed class PaymentGateway
    {
        public decimal Charge(decimal amount) => amount;
    }

    public sealed class FixturePayment
    {
        public Guid Id { get; set; }
    }

    /// <summary>Violates rule 5: maps an entity into another module's schema.</summary>
    internal sealed class FixturePaymentsDbContext(DbContextOptions<FixturePaymentsDbContext> options) : ModuleDbContext(options)
    {
        protected override void ConfigureModule(ModelBuilder modelBuilder) =>
            modelBuilder.Entity<FixturePayment>().ToTable("payments", "fixture_orders");
    }

    internal sealed class FixturePaymentsFactory : ModuleDesignTimeFactory<FixturePaymentsDbContext>;

    /// <summary>Violates rule 5 (SQL on another schema) and rule 7 (knows where peers run).</summary>
    internal sealed class OrderPeek(ModuleRegistry registry)
    {
        public string Sql => "SELECT count(*) FROM fixture_orders.orders WHERE status = 'open'";

        public bool OrdersIsLocal => registry.FindHosted("FixtureOrders") is not null;
    }

    /// <summary>Violates rule 7 too: calls a peer over HTTP itself instead of through the module client.</summary>
    internal sealed class RemoteOrders(System.Net.Http.HttpClient http)
    {
        public Task<string> PeekAsync() => http.GetStringAsync(new Uri("http://orders.internal/api/v1/orders"));
    }
}

namespace OmsModular.ArchitectureTests.Fixtures.Modules.Returns
{
    using OmsModular.ArchitectureTests.Fixtures.Modules.Payments;

    public sealed class FixtureReturnsModule : IModule
    {
        public ModuleManifest Manifest { get; } = ModuleManifest.Create("FixtureReturns", "fixture_returns").UseDbContext<FixtureReturnsDbContext>().Build();

        public void AddServices(IServiceCollection services, IConfiguration configuration)
        {
        }

        public void MapEndpoints(IEndpointRouteBuilder endpoints)
        {
        }
    }

    /// <summary>Violates rule 6 (synchronous edges): sends a module API request its manifest does not declare.</summary>
    internal sealed class StockQuestion
    {
        public OmsModular.Shared.Contracts.Inventory.GetAvailability Ask() => new(["SKU-1"]);
    }

    /// <summary>Violates rule 1: calls into another module.</summary>
    internal sealed class RefundService(PaymentGateway gateway)
    {
        public decimal Refund(decimal amount) => gateway.Charge(-amount);
    }

    /// <summary>Violates rule 5: maps the Payments module's entity too.</summary>
    internal sealed class FixtureReturnsDbContext(DbContextOptions<FixtureReturnsDbContext> options) : ModuleDbContext(options)
    {
        protected override void ConfigureModule(ModelBuilder modelBuilder) =>
            modelBuilder.Entity<FixturePayment>().ToTable("payments_copy");
    }

    internal sealed class FixtureReturnsFactory : ModuleDesignTimeFactory<FixtureReturnsDbContext>;
}

namespace OmsModular.ArchitectureTests.Fixtures.BadContracts
{
    /// <summary>Violates rule 2: a class with a setter.</summary>
    public sealed class MutableEvent
    {
        public Guid Id { get; set; }
    }

    /// <summary>Violates rule 2: depends on EF Core.</summary>
    public sealed record LeakyEvent(DbContext Context);

    /// <summary>Violates rule 2: has behaviour.</summary>
    public sealed record BusyEvent(int Quantity)
    {
        public int Doubled() => Quantity * 2;
    }
}
