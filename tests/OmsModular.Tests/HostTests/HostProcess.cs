using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OmsModular.Tests.HostTests;

/// <summary>The built Host binary run as its own process, exactly as a user runs it.</summary>
public sealed class HostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private HostProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Port { get; }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static string HostAssembly
    {
        get
        {
            var directory = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
            var configuration = directory.Parent!.Name; // bin/<Configuration>/net10.0
            while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "OmsModular.sln")))
            {
                directory = directory.Parent;
            }

            var path = Path.Combine(directory!.FullName, "Host", "bin", configuration, "net10.0", "OmsModular.Host.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("Build the Host first.", path);
        }
    }

    public static HostProcess Start(params string[] arguments) => StartOnPort(FreePort(), arguments);

    public static HostProcess StartOnPort(int port, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(HostAssembly)!,
        };
        start.ArgumentList.Add(HostAssembly);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add($"http://127.0.0.1:{port}");
        foreach (var key in start.Environment.Keys.Where(k => k.StartsWith("ConnectionStrings__", StringComparison.Ordinal) || k.StartsWith("Oms__", StringComparison.Ordinal)).ToArray())
        {
            start.Environment.Remove(key);
        }

        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["Oms__Jobs__PollInterval"] = "00:00:01";
        start.Environment["Oms__Notifications__Email__PickupDirectory"] = Path.Combine(Path.GetTempPath(), $"oms-test-mail-{Environment.ProcessId}"); // no SMTP server: .eml files, out of the build folders
        var process = Process.Start(start)!;
        // The runner may be killed without running anyone's clean-up: a detached watchdog stops the Host once the test process is gone.
        using var watchdog = Process.Start("setsid", [
            "/bin/sh", "-c",
            $"while kill -0 {Environment.ProcessId} 2>/dev/null && kill -0 {process.Id} 2>/dev/null; do sleep 1; done; kill -TERM {process.Id} 2>/dev/null",
        ]);
        return new HostProcess(process, port);
    }

    /// <summary>Runs the Host with a verb (e.g. <c>migrate</c>) and waits for it to exit.</summary>
    public static Task<(int ExitCode, string Output)> RunToExitAsync(TimeSpan timeout, params string[] arguments) =>
        RunToExitOnPortAsync(FreePort(), timeout, arguments);

    public static async Task<(int ExitCode, string Output)> RunToExitOnPortAsync(int port, TimeSpan timeout, params string[] arguments)
    {
        await using var host = StartOnPort(port, arguments);
        using var cancel = new CancellationTokenSource(timeout);
        await host._process.WaitForExitAsync(cancel.Token);
        return (host._process.ExitCode, host.Output);
    }

    public async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{Port}"), Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The Host exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var response = await client.GetAsync("/health/ready");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // not listening yet
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The Host did not become ready:\n{Output}");
            }

            await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMilliseconds(200)).Token).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    /// <summary>Kills the Host process alone (SIGKILL), as a crash would: nothing of it runs its shutdown.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
    }

    /// <summary>Stops the Host as a service manager would (SIGTERM) and waits for a clean exit.</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        if (!_process.HasExited)
        {
            using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync();
            using var cancel = new CancellationTokenSource(timeout);
            await _process.WaitForExitAsync(cancel.Token);
        }

        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                await StopAsync(TimeSpan.FromSeconds(30));
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
            }
        }

        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }
}
