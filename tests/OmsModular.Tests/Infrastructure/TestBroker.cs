using System.Diagnostics;
using RabbitMQ.Client;

namespace OmsModular.Tests.Infrastructure;

/// <summary>
/// One throwaway RabbitMQ node per test run, from the <c>rabbitmq-server</c> package that
/// <c>scripts/prerequisites.sh</c> installs: its own node name, loopback ports, and database and log
/// folders, run as the <c>rabbitmq</c> user when the tests run as root, removed afterwards. Or the broker
/// named by <c>OMS_TEST_RABBITMQ_URI</c>.
/// </summary>
public static class TestBroker
{
    public const string UriVariable = "OMS_TEST_RABBITMQ_URI";
    private const string ServiceUser = "rabbitmq";

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static Node? _node;
    private static string? _external = Environment.GetEnvironmentVariable(UriVariable) is { Length: > 0 } uri ? uri : null;

    /// <summary>Whether the tests run their own node (which they may stop and start), not an external broker.</summary>
    public static bool IsOwn => _external is null;

    /// <summary>The AMQP URI of the test broker, started on first use.</summary>
    public static async Task<string> GetUriAsync()
    {
        if (_external is not null)
        {
            return _external;
        }

        await Gate.WaitAsync();
        try
        {
            _node ??= await Node.StartAsync();
            return _node.Uri;
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Stops the node (as a broker outage would) and starts it again on the same ports and data after <paramref name="down"/>.</summary>
    public static async Task RestartAsync(TimeSpan down)
    {
        await StopAsync();
        await Task.Delay(down);
        await StartAgainAsync();
    }

    /// <summary>Stops the node; its queues and persistent messages stay on disk for <see cref="StartAgainAsync"/>.</summary>
    public static async Task StopAsync()
    {
        await Gate.WaitAsync();
        try
        {
            await (_node ?? throw new InvalidOperationException("No test broker was started.")).StopAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    public static async Task StartAgainAsync()
    {
        await Gate.WaitAsync();
        try
        {
            await (_node ?? throw new InvalidOperationException("No test broker was started.")).RunAsync();
        }
        finally
        {
            Gate.Release();
        }
    }

    private sealed class Node
    {
        private readonly string _directory;
        private readonly int _port;
        private readonly int _distributionPort;
        private Process? _process;

        private Node(string directory, int port, int distributionPort)
        {
            _directory = directory;
            _port = port;
            _distributionPort = distributionPort;
        }

        public string Uri => $"amqp://guest:guest@127.0.0.1:{_port}/";

        private string NodeName => $"oms-test-{Environment.ProcessId}@localhost";

        public static async Task<Node> StartAsync()
        {
            if (!File.Exists("/usr/lib/rabbitmq/bin/rabbitmq-server"))
            {
                throw new InvalidOperationException("rabbitmq-server is not installed: run scripts/prerequisites.sh (or set " + UriVariable + ").");
            }

            TestFolders.RemoveLeftovers("oms-test-rmq-");
            var directory = Path.Combine(Path.GetTempPath(), $"oms-test-rmq-{Environment.ProcessId}-{Guid.NewGuid():N}");
            Directory.CreateDirectory(Path.Combine(directory, "log"));
            var node = new Node(directory, HostTests.HostProcess.FreePort(), HostTests.HostProcess.FreePort());
            await File.WriteAllTextAsync(Path.Combine(directory, "rabbitmq.conf"), $"""
                listeners.tcp.default = 127.0.0.1:{node._port}
                disk_free_limit.absolute = 1MB
                loopback_users = none
                """);
            await File.WriteAllTextAsync(Path.Combine(directory, "enabled_plugins"), "[].");
            if (IsRoot)
            {
                await ExecAsync("chown", "-R", $"{ServiceUser}:", directory);
            }

            AppDomain.CurrentDomain.ProcessExit += (_, _) => node.StopAsync().GetAwaiter().GetResult();
            // The runner may kill this process without exit handlers: a detached watchdog stops the node and
            // removes its folder (started first, so a node that fails to start is not left behind either).
            using var watchdog = Process.Start("setsid", [
                "/bin/sh", "-c",
                $"while kill -0 {Environment.ProcessId} 2>/dev/null; do sleep 1; done; {node.ShellKill("TERM")}; sleep 5; {node.ShellKill("KILL")}; rm -rf '{directory}'",
            ]);
            try
            {
                await node.RunAsync();
            }
            catch
            {
                await node.StopAsync();
                throw;
            }

            return node;
        }

        public async Task RunAsync()
        {
            var start = new ProcessStartInfo(IsRoot ? "runuser" : "/usr/lib/rabbitmq/bin/rabbitmq-server")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = _directory,
            };
            if (IsRoot)
            {
                foreach (var argument in new[] { "-u", ServiceUser, "--", "/usr/lib/rabbitmq/bin/rabbitmq-server" })
                {
                    start.ArgumentList.Add(argument);
                }
            }

            var environment = new Dictionary<string, string>
            {
                ["HOME"] = _directory, // the Erlang cookie lives here
                ["RABBITMQ_NODENAME"] = NodeName,
                ["RABBITMQ_NODE_IP_ADDRESS"] = "127.0.0.1",
                ["RABBITMQ_NODE_PORT"] = _port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["RABBITMQ_DIST_PORT"] = _distributionPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["RABBITMQ_CONFIG_FILE"] = Path.Combine(_directory, "rabbitmq.conf"),
                ["RABBITMQ_ENABLED_PLUGINS_FILE"] = Path.Combine(_directory, "enabled_plugins"),
                ["RABBITMQ_MNESIA_BASE"] = Path.Combine(_directory, "mnesia"),
                ["RABBITMQ_LOG_BASE"] = Path.Combine(_directory, "log"),
                ["RABBITMQ_PID_FILE"] = Path.Combine(_directory, "rabbitmq.pid"),
                ["ERL_EPMD_ADDRESS"] = "127.0.0.1",
                ["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"] = "-kernel inet_dist_use_interface {127,0,0,1}",
            };
            foreach (var (key, value) in environment)
            {
                start.Environment[key] = value;
            }

            _process = Process.Start(start)!;
            _process.OutputDataReceived += (_, _) => { };
            _process.ErrorDataReceived += (_, _) => { };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();

            var factory = new ConnectionFactory { Uri = new System.Uri(Uri) };
            var deadline = DateTime.UtcNow.AddSeconds(90);
            while (true)
            {
                try
                {
                    await using var connection = await factory.CreateConnectionAsync();
                    return;
                }
                catch (Exception) when (DateTime.UtcNow < deadline && !_process.HasExited)
                {
                    await Task.Delay(250);
                }
                catch (Exception exception)
                {
                    var log = Directory.EnumerateFiles(Path.Combine(_directory, "log")).Select(File.ReadAllText).LastOrDefault() ?? string.Empty;
                    throw new InvalidOperationException($"The test RabbitMQ node did not start: {exception.Message}\n{log[^Math.Min(log.Length, 4000)..]}", exception);
                }
            }
        }

        public async Task StopAsync()
        {
            if (_process is null)
            {
                return;
            }

            // rabbitmq-server is a shell script that starts the Erlang VM; SIGTERM to the VM stops the node cleanly.
            await ExecAsync("/bin/sh", "-c", ShellKill("TERM"));
            if (!_process.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                await ExecAsync("/bin/sh", "-c", ShellKill("KILL"));
                _process.WaitForExit(TimeSpan.FromSeconds(10));
            }
        }

        /// <summary>A shell command that signals this node's Erlang VM, found by the node name in its environment (it is not on its command line).</summary>
        public string ShellKill(string signal) =>
            $"for p in $(pgrep -x beam.smp); do grep -qz '^RABBITMQ_NODENAME={NodeName}$' /proc/$p/environ 2>/dev/null && kill -{signal} $p; done";
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static async Task ExecAsync(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true })!;
        await process.WaitForExitAsync();
    }
}
