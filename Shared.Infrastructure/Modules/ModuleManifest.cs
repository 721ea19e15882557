using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using OmsModular.Shared.Contracts;
using OmsModular.Shared.Infrastructure.Messaging;
using OmsModular.Shared.Infrastructure.ModuleApi;
using OmsModular.Shared.Infrastructure.Persistence;

namespace OmsModular.Shared.Infrastructure.Modules;

/// <summary>
/// What a module declares about itself in one place. The Host, the messaging registry, the
/// architecture tests and the generated docs are all built from the manifests.
/// </summary>
public sealed class ModuleManifest
{
    internal ModuleManifest(
        string name,
        string schema,
        Type dbContextType,
        Action<IServiceCollection, ModuleDatabase> registerDbContext,
        IReadOnlyList<Type> publishes,
        IReadOnlyList<ConsumerDescriptor> consumes,
        IReadOnlyList<ModuleRequestDescriptor> handles,
        IReadOnlyList<Type> sends,
        bool partitionsAcrossConsumers = false)
    {
        PartitionsAcrossConsumers = partitionsAcrossConsumers;
        Sends = sends;
        Name = name;
        Schema = schema;
        DbContextType = dbContextType;
        RegisterDbContext = registerDbContext;
        Publishes = publishes;
        Consumes = consumes;
        Handles = handles;
    }

    /// <summary>The module's name, e.g. <c>Orders</c>.</summary>
    public string Name { get; }

    /// <summary>The PostgreSQL schema the module owns, e.g. <c>orders</c>.</summary>
    public string Schema { get; }

    /// <summary>The module's own DbContext type (maps only <see cref="Schema"/>).</summary>
    public Type DbContextType { get; }

    /// <summary>Integration event contracts the module publishes.</summary>
    public IReadOnlyList<Type> Publishes { get; }

    /// <summary>Integration event consumers of the module, each with its own delivery.</summary>
    public IReadOnlyList<ConsumerDescriptor> Consumes { get; }

    /// <summary>
    /// When set, the deliveries of one partition are handled one at a time across all of the
    /// module's consumers (not only per consumer), so several inbox processors can run without two
    /// of them working on the same partition (the same order) at once.
    /// </summary>
    public bool PartitionsAcrossConsumers { get; }

    /// <summary>Module API requests the module handles.</summary>
    public IReadOnlyList<ModuleRequestDescriptor> Handles { get; }

    /// <summary>Module API requests of other modules this module sends (synchronous calls; the architecture tests check the list against the code).</summary>
    public IReadOnlyList<Type> Sends { get; }

    internal Action<IServiceCollection, ModuleDatabase> RegisterDbContext { get; }

    public static Builder Create(string name, string schema) => new(name, schema);

    public override string ToString() => Name;

    public sealed class Builder
    {
        private readonly string _name;
        private readonly string _schema;
        private readonly List<Type> _publishes = [];
        private readonly List<ConsumerDescriptor> _consumes = [];
        private readonly List<ModuleRequestDescriptor> _handles = [];
        private readonly List<Type> _sends = [];
        private Type? _dbContextType;
        private bool _partitionsAcrossConsumers;
        private Action<IServiceCollection, ModuleDatabase>? _registerDbContext;

        internal Builder(string name, string schema)
        {
            if (string.IsNullOrWhiteSpace(name))
            {
                throw new ArgumentException("A module needs a name.", nameof(name));
            }

            if (string.IsNullOrWhiteSpace(schema) || !schema.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
            {
                throw new ArgumentException($"Schema '{schema}' must be lower-case letters, digits and underscores.", nameof(schema));
            }

            _name = name;
            _schema = schema;
        }

        public Builder UseDbContext<TContext>()
            where TContext : ModuleDbContext
        {
            _dbContextType = typeof(TContext);
            _registerDbContext = (services, database) => services.AddDbContext<TContext>(
                options => ModuleDbContextOptions.Configure(options, database.ConnectionString, _schema, typeof(TContext).Assembly));
            return this;
        }

        public Builder Publishes<TEvent>()
            where TEvent : class, IIntegrationEvent
        {
            _ = WireNames.Of(typeof(TEvent)); // refuses a contract without an explicit wire name
            _publishes.Add(typeof(TEvent));
            return this;
        }

        /// <summary>
        /// Declares a consumer. Its name (<c>schema.TypeName</c> unless given) keys its inbox rows,
        /// so it must stay stable once messages have been delivered to it.
        /// </summary>
        public Builder Consumes<TEvent, TConsumer>(string? consumerName = null)
            where TEvent : class, IIntegrationEvent
            where TConsumer : class, IIntegrationEventHandler<TEvent>
        {
            _consumes.Add(ConsumerDescriptor.Create<TEvent, TConsumer>(_name, consumerName ?? $"{_schema}.{typeof(TConsumer).Name}"));
            return this;
        }

        /// <summary>A consumer that handles the deliveries of an inbox batch in one call (<see cref="IIntegrationEventBatchHandler{TEvent}"/>).</summary>
        public Builder ConsumesInBatches<TEvent, TConsumer>(string? consumerName = null)
            where TEvent : class, IIntegrationEvent
            where TConsumer : class, IIntegrationEventBatchHandler<TEvent>
        {
            _consumes.Add(ConsumerDescriptor.CreateBatch<TEvent, TConsumer>(_name, consumerName ?? $"{_schema}.{typeof(TConsumer).Name}"));
            return this;
        }

        public Builder Handles<TRequest, TResponse, THandler>()
            where TRequest : IModuleRequest<TResponse>
            where THandler : class, IModuleRequestHandler<TRequest, TResponse>
        {
            _handles.Add(ModuleRequestDescriptor.Create<TRequest, TResponse, THandler>(_name));
            return this;
        }

        /// <summary>A module API request of another module that this module sends.</summary>
        public Builder Sends<TRequest>()
            where TRequest : class
        {
            if (!typeof(TRequest).GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IModuleRequest<>)))
            {
                throw new InvalidOperationException($"Module {_name}: {typeof(TRequest).Name} is not a module API request.");
            }

            _sends.Add(typeof(TRequest));
            return this;
        }

        /// <summary>
        /// Handle the deliveries of one partition one at a time across all consumers of this module
        /// (a process manager keyed by the partition, e.g. the order), so it can run several processors.
        /// </summary>
        public Builder PartitionsAcrossConsumers()
        {
            _partitionsAcrossConsumers = true;
            return this;
        }

        public ModuleManifest Build()
        {
            if (_dbContextType is null || _registerDbContext is null)
            {
                throw new InvalidOperationException($"Module {_name} must declare its DbContext with UseDbContext<T>().");
            }

            var duplicateConsumer = _consumes.GroupBy(c => c.ConsumerName).FirstOrDefault(g => g.Count() > 1);
            if (duplicateConsumer is not null)
            {
                throw new InvalidOperationException($"Module {_name} declares consumer '{duplicateConsumer.Key}' twice.");
            }

            return new ModuleManifest(_name, _schema, _dbContextType, _registerDbContext, _publishes.ToArray(), _consumes.ToArray(), _handles.ToArray(), _sends.ToArray(), _partitionsAcrossConsumers);
        }
    }
}

/// <summary>
/// The connection a module uses: the shared database, or its own role when configured. Requests
/// use <see cref="ConnectionString"/>; the messaging workers use <see cref="WorkerConnectionString"/>,
/// the same database through a pool of their own, so a burst of requests waiting on row locks can
/// never starve the workers (or the other way round).
/// </summary>
public sealed record ModuleDatabase(string ModuleName, string Schema, string ConnectionString, string WorkerConnectionString)
{
    public ModuleDatabase(string moduleName, string schema, string connectionString)
        : this(moduleName, schema, Tuned(connectionString), SeparatePool(Tuned(connectionString), "oms-messaging", 30))
    {
    }

    /// <summary>
    /// Npgsql settings for many short transactions, unless the connection string sets them: a
    /// connection returned to the pool is not reset with <c>DISCARD ALL</c> (nothing here keeps
    /// session state: locks are transaction-scoped, no <c>SET</c>, no temporary tables). Automatic
    /// preparation stays off: with it, a statement that failed inside a transaction left its pooled
    /// connection reading another command's rows (npgsql/npgsql#6391; PooledConnectionTests).
    /// </summary>
    public static string Tuned(string connectionString)
    {
        var given = new System.Data.Common.DbConnectionStringBuilder { ConnectionString = connectionString }.Keys
            .Cast<string>().Select(k => k.Replace(" ", string.Empty, StringComparison.Ordinal)).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
        if (builder.MaxAutoPrepare > 0)
        {
            // Set by the operator: kept, but see the summary (PooledConnectionTests fails with it).
            Console.Error.WriteLine($"Warning: Max Auto Prepare={builder.MaxAutoPrepare} is set; with it a failed statement can leave a pooled connection broken (npgsql/npgsql#6391).");
        }


        if (!given.Contains("NoResetOnClose"))
        {
            builder.NoResetOnClose = true;
        }

        return builder.ConnectionString;
    }

    /// <summary>The same database under another application name (hence another Npgsql pool).</summary>
    public static string SeparatePool(string connectionString, string applicationName, int maxPoolSize) =>
        new Npgsql.NpgsqlConnectionStringBuilder(connectionString) { ApplicationName = applicationName, MaxPoolSize = maxPoolSize }.ConnectionString;
}
