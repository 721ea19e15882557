using Microsoft.Extensions.DependencyInjection;
using OmsModular.Shared.Contracts;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Shared.Infrastructure.Modules;

namespace OmsModular.Tests.Messaging;

[IntegrationEvent("test.something-happened", 1)]
public sealed record ImpostorOfSomethingHappened(Guid Id) : IIntegrationEvent;

public sealed record NoWireName(Guid Id) : IIntegrationEvent;

/// <summary>The registry built from the manifests refuses what would go wrong at run time.</summary>
public sealed class ModuleRegistryTests
{
    private static IModule Module(string name, Func<ModuleManifest.Builder, ModuleManifest.Builder> declare) =>
        new TestModule(declare(ModuleManifest.Create(name, name.ToLowerInvariant()).UseDbContext<TestDbContext<TagA>>()).Build());

    [Fact]
    public void Two_contracts_with_one_wire_name_are_refused_at_startup()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new ModuleRegistry(
        [
            Module("One", b => b.Publishes<SomethingHappened>()),
            Module("Two", b => b.Publishes<ImpostorOfSomethingHappened>()),
        ]));
        Assert.Contains("test.something-happened.v1", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_event_without_an_explicit_wire_name_is_refused()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Module("One", b => b.Publishes<NoWireName>()));
        Assert.Contains("[IntegrationEvent(name, version)]", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_consumer_of_an_event_nobody_publishes_is_refused()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new ModuleRegistry(
            [Module("One", b => b.Consumes<SomethingHappened, RecordingConsumer<TagA>>())]));
        Assert.Contains("no module declares it publishes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_request_handled_by_two_modules_is_refused()
    {
        var error = Assert.Throws<InvalidOperationException>(() => new ModuleRegistry(
        [
            Module("One", b => b.Handles<AskQuestion, Answer, AnswerQuestion<TagA>>()),
            Module("Two", b => b.Handles<AskQuestion, Answer, AnswerQuestion<TagA>>()),
        ]));
        Assert.Contains("handled by both One and Two", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Two_modules_on_one_schema_are_refused() =>
        Assert.Throws<InvalidOperationException>(() => new ModuleRegistry(
            [Module("One", b => b), new TestModule(ModuleManifest.Create("Other", "one").UseDbContext<TestDbContext<TagB>>().Build())]));

    [Fact]
    public void Only_the_named_modules_are_hosted_and_unknown_names_are_refused()
    {
        IModule[] modules =
        [
            Module("One", b => b.Publishes<SomethingHappened>()),
            Module("Two", b => b.Consumes<SomethingHappened, RecordingConsumer<TagA>>().Handles<AskQuestion, Answer, AnswerQuestion<TagA>>()),
        ];
        var registry = new ModuleRegistry(modules, ["one"]);
        Assert.Equal(["One"], registry.Hosted.Select(m => m.Name));
        Assert.Empty(registry.HostedConsumersOf("test.something-happened.v1")); // Two is elsewhere
        var unavailable = Assert.Throws<ModuleNotAvailableException>(() => registry.FindRequestHandler(typeof(AskQuestion)));
        Assert.Contains("Two", unavailable.Message, StringComparison.Ordinal);

        var unknown = Assert.Throws<InvalidOperationException>(() => new ModuleRegistry(modules, ["One", "Three"]));
        Assert.Contains("Three", unknown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publishing_an_event_the_manifest_does_not_declare_is_refused()
    {
        await using var harness = await MessagingHarness.CreateAsync();
        await using var scope = harness.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<TestDbContext<TagC>>();
        var error = Assert.Throws<InvalidOperationException>(() => db.Publish(new SomethingHappened(Guid.NewGuid(), "k", 0)));
        Assert.Contains("does not declare", error.Message, StringComparison.Ordinal);
    }
}
