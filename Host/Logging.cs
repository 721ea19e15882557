using Serilog;
using Serilog.Events;
using Serilog.Formatting.Compact;

namespace OmsModular.Host;

internal static class Logging
{
    /// <summary>Serilog: readable console in Development, compact JSON elsewhere; properties from the log context.</summary>
    public static void AddOmsLogging(this WebApplicationBuilder builder)
    {
        var development = builder.Environment.IsDevelopment();
        Log.Logger = Configure(new LoggerConfiguration(), builder.Configuration, development).CreateLogger();
        builder.Services.AddSerilog((services, logger) => Configure(logger, builder.Configuration, development).ReadFrom.Services(services));
    }

    private static LoggerConfiguration Configure(LoggerConfiguration logger, IConfiguration configuration, bool development)
    {
        logger.ReadFrom.Configuration(configuration)
            .Enrich.FromLogContext()
            .Enrich.WithProperty("Application", "OmsModular")
            // EF Core logs one harmless error when it first probes a missing migrations-history table.
            .Filter.ByExcluding(e => e.Level == LogEventLevel.Error
                                     && e.Properties.TryGetValue("commandText", out var sql)
                                     && sql.ToString().Contains("__ef_migrations_history", StringComparison.Ordinal));
        return development
            ? logger.WriteTo.Console(outputTemplate: "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj} {Properties:j}{NewLine}{Exception}")
            : logger.WriteTo.Console(new RenderedCompactJsonFormatter());
    }
}
