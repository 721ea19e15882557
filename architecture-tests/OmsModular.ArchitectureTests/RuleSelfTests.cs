using OmsModular.ArchitectureTests.Fixtures.Modules.Orders;
using OmsModular.ArchitectureTests.Fixtures.Modules.Payments;
using OmsModular.ArchitectureTests.Fixtures.Modules.Returns;
using OmsModular.Shared.Contracts;

namespace OmsModular.ArchitectureTests;

/// <summary>Each rule, fed a deliberately violating module or type set, reports the violation by name.</summary>
public sealed class RuleSelfTests
{
    private static readonly ModuleUnderTest Orders = ModuleUnderTest.From(new FixtureOrdersModule());
    private static readonly ModuleUnderTest Payments = ModuleUnderTest.From(new FixturePaymentsModule());
    private static readonly ModuleUnderTest Returns = ModuleUnderTest.From(new FixtureReturnsModule());
    private static readonly ModuleUnderTest[] Fixtures = [Orders, Payments, Returns];

    [Fact]
    public void Rule1_reports_a_module_that_uses_another_module()
    {
        var violations = Rules.NoDependencyOnOtherModules(Returns, Fixtures).ToArray();
        Assert.Contains("Modules.FixtureReturns -> Modules.FixturePayments (type RefundService)", violations);
        Assert.Empty(Rules.NoDependencyOnOtherModules(Orders, Fixtures));
    }

    [Fact]
    public void Rule6_reports_a_module_api_request_sent_undeclared_and_one_declared_but_never_sent()
    {
        var contracts = typeof(IIntegrationEvent).Assembly;
        Assert.Contains("Modules.FixtureReturns -> GetAvailability (type StockQuestion): a module API request it sends without declaring Sends<GetAvailability>()", Rules.SentRequestsAreDeclared(Returns, contracts));
        Assert.Contains("Modules.FixtureOrders declares Sends<AuthorizePaymentBatch>() but never uses it", Rules.SentRequestsAreDeclared(Orders, contracts));
        Assert.Empty(Rules.SentRequestsAreDeclared(Payments, contracts));
    }

    [Fact]
    public void Rule2_reports_contracts_with_dependencies_setters_or_behaviour()
    {
        var violations = Rules.ContractsArePlain(typeof(RuleSelfTests).Assembly, "OmsModular.ArchitectureTests.Fixtures.BadContracts").ToArray();
        Assert.Contains("Shared.Contracts -> non-BCL dependency (type LeakyEvent)", violations);
        Assert.Contains("Shared.Contracts: MutableEvent is not a record (contracts are plain immutable records)", violations);
        Assert.Contains("Shared.Contracts: MutableEvent.Id has a public setter (contracts are immutable)", violations);
        Assert.Contains("Shared.Contracts: BusyEvent.Doubled() is behaviour (contracts have none)", violations);
    }

    [Fact]
    public void Rule3_reports_module_to_module_and_shared_to_module_project_references_and_a_host_missing_one()
    {
        var graph = new Dictionary<string, IReadOnlyList<string>>
        {
            ["Host/OmsModular.Host.csproj"] = ["Modules/Orders/OmsModular.Modules.Orders.csproj"],
            ["Modules/Orders/OmsModular.Modules.Orders.csproj"] = ["Shared.Contracts/OmsModular.Shared.Contracts.csproj"],
            ["Modules/Returns/OmsModular.Modules.Returns.csproj"] = ["Modules/Payments/OmsModular.Modules.Payments.csproj"],
            ["Modules/Payments/OmsModular.Modules.Payments.csproj"] = [],
            ["Shared.Infrastructure/OmsModular.Shared.Infrastructure.csproj"] = ["Modules/Orders/OmsModular.Modules.Orders.csproj"],
        };
        var violations = Rules.ProjectReferences(graph).ToArray();
        Assert.Contains("Modules.Returns -> Modules.Payments (project reference Modules/Payments/OmsModular.Modules.Payments.csproj)", violations);
        Assert.Contains("Shared.Infrastructure/OmsModular.Shared.Infrastructure.csproj -> Modules.Orders (only the Host references modules)", violations);
        Assert.Contains("Host does not reference Modules.Returns", violations);
        Assert.Contains("Host does not reference Modules.Payments", violations);
    }

    [Fact]
    public void Rule4_reports_a_public_type_besides_the_registration()
    {
        Assert.Contains(
            "Modules.FixturePayments exposes public type PaymentGateway (only FixturePaymentsModule may be public)",
            Rules.OnlyRegistrationIsPublic(Payments));
        Assert.Empty(Rules.OnlyRegistrationIsPublic(Returns));
    }

    [Fact]
    public void Rule5_reports_another_schema_an_entity_in_two_contexts_and_sql_on_another_schema()
    {
        Assert.Contains("Modules.FixturePayments -> schema fixture_orders (entity FixturePayment)", Rules.ModelMapsOwnSchemaOnly(Payments));
        Assert.Empty(Rules.ModelMapsOwnSchemaOnly(Orders));
        Assert.Contains("Modules.FixtureReturns and Modules.FixturePayments both map entity FixturePayment", Rules.NoEntityInTwoContexts(Fixtures));
        Assert.Contains("Modules.FixturePayments -> schema fixture_orders (SQL in OrderPeek.get_Sql)", Rules.NoSqlOnOtherSchemas(Payments, Fixtures));
        Assert.Empty(Rules.NoSqlOnOtherSchemas(Orders, Fixtures));
    }

    [Fact]
    public void Rule6_reports_a_contract_outside_shared_contracts() =>
        Assert.Contains(
            "Modules.FixturePayments -> OmsModular.ArchitectureTests (contract PaymentTaken is not in Shared.Contracts)",
            Rules.ContractsComeFromSharedContracts(Payments, typeof(IIntegrationEvent).Assembly));

    [Fact]
    public void Rule7_reports_a_module_that_asks_where_a_peer_runs()
    {
        Assert.Contains(
            "Modules.FixturePayments -> ModuleRegistry (type OrderPeek): modules must not know where peers run",
            Rules.UnawareOfPeerLocation(Payments));
        Assert.Contains(
            "Modules.FixturePayments -> System.Net.Http (type RemoteOrders): modules must not know where peers run",
            Rules.UnawareOfPeerLocation(Payments));
        Assert.Empty(Rules.UnawareOfPeerLocation(Orders));
    }

    [Fact]
    public void Rule7_reports_a_module_file_that_reads_a_topology_setting()
    {
        var sources = new[]
        {
            ("Modules/Payments/Features/Refunds.cs", "var remote = configuration[\"Oms:Remote:Orders\"];"),
            ("Modules/Orders/Features/PlaceOrder.cs", "var limit = configuration.GetValue<int>(\"Oms:Orders:MaxLines\");"),
        };
        Assert.Equal(
            ["Modules/Payments/Features/Refunds.cs reads the topology setting Oms:Remote: modules must behave the same in every topology"],
            Rules.NoTopologySettingsInModules(sources).ToArray());
    }
}
