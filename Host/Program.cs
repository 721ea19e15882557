using OmsModular.Host;

// One binary. It hosts every module by default; --modules names a subset. Events reach modules of
// other processes over RabbitMQ (Oms:Messaging:Transport=RabbitMq); module API requests reach only
// the modules this process hosts.
//   dotnet OmsModular.Host.dll                      run (embedded PostgreSQL when no connection string)
//   dotnet OmsModular.Host.dll migrate              apply every hosted module's migrations and exit
//   dotnet OmsModular.Host.dll seed-demo            migrate, load the demo data set, and exit (or run with --seed-demo true)
//   dotnet OmsModular.Host.dll keys create --name web-shop --scopes orders:write --channel web
//   dotnet OmsModular.Host.dll --modules Orders,Pricing
var command = HostCommand.Parse(args);
var builder = WebApplication.CreateBuilder(command.HostArguments);
await builder.AddOmsHostAsync(command.Verb == "run" ? args : [command.Verb, .. command.HostArguments]);
try
{
    var app = builder.Build();
    app.UseOmsHost();

    if (command.Keys)
    {
        Environment.ExitCode = await app.RunKeysVerbAsync(command.HostArguments);
        return;
    }

    if (command.Migrate || command.SeedDemo)
    {
        await app.MigrateAndExitAsync(seedDemo: command.SeedDemo, provisionRoles: command.ProvisionRoles);
        return;
    }

    await app.PrepareAsync();
    await app.RunAsync();
}
finally
{
    // The embedded cluster is stopped with the Host; also when the Host fails to start (a port in
    // use, bad configuration), where no hosted service is stopped. Stopping twice is harmless.
    // A verb (migrate, seed-demo, keys) that found the cluster running leaves it running: a Host may be using it.
    if (builder.Services.FirstOrDefault(d => d.ServiceType == typeof(OmsModular.Shared.Infrastructure.Database.EmbeddedPostgres))?.ImplementationInstance
        is OmsModular.Shared.Infrastructure.Database.EmbeddedPostgres embedded
        && !(command.Verb != "run" && embedded.Adopted))
    {
        await embedded.StopAsync();
    }
}
