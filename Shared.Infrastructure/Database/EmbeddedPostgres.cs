using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Npgsql;

namespace OmsModular.Shared.Infrastructure.Database;

/// <summary>Settings of a private PostgreSQL cluster.</summary>
public sealed record EmbeddedPostgresOptions
{
    /// <summary>Cluster directory (data, socket, log, credentials live below it).</summary>
    public required string Directory { get; init; }

    public string Database { get; init; } = "oms";

    public string User { get; init; } = "oms";

    /// <summary>Test clusters only: fsync off, synchronous_commit off. Never for user data.</summary>
    public bool FastUnsafe { get; init; }

    /// <summary>Extra <c>-c name=value</c> server settings.</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// Runs a private PostgreSQL cluster from the installed server binaries: initialised on first
/// start, started on a free loopback port, stopped cleanly. Data survives restarts. As root, the
/// server runs as the unprivileged <c>postgres</c> user (PostgreSQL refuses to run as root).
/// </summary>
public sealed class EmbeddedPostgres : IAsyncDisposable
{
    private const string ServiceUser = "postgres";
    private readonly EmbeddedPostgresOptions _options;
    private readonly string _binDirectory;
    private bool _startedHere;

    private string _directory;

    private EmbeddedPostgres(EmbeddedPostgresOptions options, string binDirectory)
    {
        _options = options;
        _binDirectory = binDirectory;
        _directory = options.Directory;
        RequestedDirectory = options.Directory;
    }

    /// <summary>Where the cluster lives: the directory asked for, or (as root, when the <c>postgres</c> user cannot reach that one) a folder it can.</summary>
    public string Directory => _directory;

    /// <summary>The folder the cluster was asked for (where its notes for the user are, also when it lives elsewhere).</summary>
    public string RequestedDirectory { get; }

    /// <summary>Set when the cluster lives elsewhere than asked, with the reason.</summary>
    public string? Relocation { get; private set; }

    /// <summary>The server was already running on this data directory (a Host that crashed); it is stopped with this one all the same.</summary>
    public bool Adopted { get; private set; }

    /// <summary>Where a cluster whose directory the <c>postgres</c> user cannot reach is placed instead (one folder per requested path).</summary>
    public const string RelocationRoot = "/var/lib/oms/embedded";

    public string ConnectionString { get; private set; } = string.Empty;

    public int Port { get; private set; }

    private string DataDirectory => Path.Combine(_directory, "data");

    private string SocketDirectory => Path.Combine(_directory, "run");

    private string LogFile => Path.Combine(_directory, "postgres.log");

    private string PasswordFile => Path.Combine(_directory, "password");

    private static bool IsRoot => Environment.UserName == "root" || (OperatingSystem.IsLinux() && GetEffectiveUserId() == 0);

    /// <summary>Initialises (first time) and starts the cluster, then ensures the database exists.</summary>
    public static async Task<EmbeddedPostgres> StartAsync(EmbeddedPostgresOptions options, CancellationToken cancellationToken = default)
    {
        var server = new EmbeddedPostgres(options, FindBinaries());
        await server.StartInternalAsync(cancellationToken).ConfigureAwait(false);
        return server;
    }

    /// <summary>Finds <c>initdb</c> and <c>pg_ctl</c> on PATH or under <c>/usr/lib/postgresql/*/bin</c>.</summary>
    public static string FindBinaries()
    {
        var candidates = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(System.IO.Directory.Exists("/usr/lib/postgresql")
                ? System.IO.Directory.GetDirectories("/usr/lib/postgresql")
                    .OrderByDescending(d => int.TryParse(Path.GetFileName(d), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : 0)
                    .Select(d => Path.Combine(d, "bin"))
                : []);
        foreach (var directory in candidates)
        {
            if (File.Exists(Path.Combine(directory, "initdb")) && File.Exists(Path.Combine(directory, "pg_ctl")) && File.Exists(Path.Combine(directory, "postgres")))
            {
                return directory;
            }
        }

        throw new InvalidOperationException(
            "No connection string is configured (ConnectionStrings:Oms) and no PostgreSQL server binaries " +
            "(initdb, pg_ctl, postgres) were found on PATH or under /usr/lib/postgresql/*/bin. " +
            "Install PostgreSQL (Debian/Ubuntu: apt-get install postgresql) or set ConnectionStrings__Oms " +
            "to an existing server, e.g. \"Host=localhost;Database=oms;Username=oms;Password=...\".");
    }

    /// <summary>A shell command that stops this cluster at once (for a watchdog that outlives the caller).</summary>
    public string ShellStopCommand
    {
        get
        {
            var pgCtl = $"'{Path.Combine(_binDirectory, "pg_ctl")}' -D '{DataDirectory}' -m immediate -w stop";
            return IsRoot ? $"runuser -u {ServiceUser} -- {pgCtl}" : pgCtl;
        }
    }

    public async Task StopAsync()
    {
        if (!_startedHere)
        {
            return;
        }

        _startedHere = false;
        await RunAsync("pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"], CancellationToken.None, throwOnError: false).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private async Task StartInternalAsync(CancellationToken cancellationToken)
    {
        System.IO.Directory.CreateDirectory(_directory);
        if (IsRoot && !await ServiceUserReachesAsync(_directory, cancellationToken).ConfigureAwait(false))
        {
            // A clone in root's home folder or in a private (0700) folder: the postgres user cannot
            // traverse to it, so initdb could not even read its password file. The cluster goes where
            // it can live instead, the same folder for the same requested path; a note says where.
            var requested = Path.GetFullPath(_directory);
            var key = Convert.ToHexString(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(requested)))[..16].ToLowerInvariant();
            _directory = Path.Combine(RelocationRoot, key);
            System.IO.Directory.CreateDirectory(_directory);
            await File.WriteAllTextAsync(Path.Combine(_directory, "requested-directory"), requested + Environment.NewLine, cancellationToken).ConfigureAwait(false);
            await File.WriteAllTextAsync(
                Path.Combine(requested, "cluster-location"),
                $"The embedded PostgreSQL cluster for this folder lives in {_directory}: the postgres user it runs as cannot reach {requested}.{Environment.NewLine}",
                cancellationToken).ConfigureAwait(false);
            Relocation = $"the postgres user cannot reach {requested} (a parent folder is private), so the cluster lives in {_directory}";
            if (!await ServiceUserReachesAsync(_directory, cancellationToken).ConfigureAwait(false))
            {
                throw new InvalidOperationException(
                    $"The embedded PostgreSQL runs as the 'postgres' user, which can reach neither {requested} nor {_directory}. " +
                    "Give that user access to a folder (chmod o+x on its parents) and pass it with --data-dir, or configure ConnectionStrings:Oms.");
            }
        }

        System.IO.Directory.CreateDirectory(SocketDirectory);
        var password = await EnsurePasswordAsync(cancellationToken).ConfigureAwait(false);
        if (IsRoot)
        {
            await RunRawAsync("chown", [$"{ServiceUser}:", _directory, SocketDirectory], cancellationToken).ConfigureAwait(false);
        }

        if (!File.Exists(Path.Combine(DataDirectory, "PG_VERSION")))
        {
            await InitialiseAsync(password, cancellationToken).ConfigureAwait(false);
        }

        var running = await ReadRunningPortAsync(cancellationToken).ConfigureAwait(false);
        if (running is { } port)
        {
            // A server left running on this data directory (a Host that was killed): adopt it, and stop
            // it with this Host like one it started.
            Port = port;
            Adopted = true;
            _startedHere = true;
        }
        else
        {
            Port = FreePort();
            var settings = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["port"] = Port.ToString(CultureInfo.InvariantCulture),
                ["listen_addresses"] = "127.0.0.1",
                ["unix_socket_directories"] = SocketDirectory,
                ["max_connections"] = "200",
            };
            if (_options.FastUnsafe)
            {
                settings["fsync"] = "off";
                settings["synchronous_commit"] = "off";
                settings["full_page_writes"] = "off";
            }

            foreach (var (key, value) in _options.Settings)
            {
                settings[key] = value;
            }

            var serverOptions = string.Join(' ', settings.Select(s => $"-c {s.Key}={s.Value}"));
            await RunAsync("pg_ctl", ["-D", DataDirectory, "-l", LogFile, "-o", serverOptions, "-w", "-t", "60", "start"], cancellationToken).ConfigureAwait(false);
            _startedHere = true;
        }

        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = _options.User,
            Password = password,
            Database = "postgres",
            Pooling = false,
        };
        await using (var connection = new NpgsqlConnection(builder.ConnectionString))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection);
            exists.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _options.Database });
            if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
            {
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{_options.Database}\"", connection);
                await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        builder.Database = _options.Database;
        builder.Pooling = true;
        ConnectionString = builder.ConnectionString;
    }

    private async Task InitialiseAsync(string password, CancellationToken cancellationToken)
    {
        if (System.IO.Directory.Exists(DataDirectory))
        {
            System.IO.Directory.Delete(DataDirectory, recursive: true); // a half-done initdb
        }

        var passwordFile = Path.Combine(_directory, "initdb-password");
        await File.WriteAllTextAsync(passwordFile, password, cancellationToken).ConfigureAwait(false);
        try
        {
            if (IsRoot)
            {
                await RunRawAsync("chown", [$"{ServiceUser}:", passwordFile], cancellationToken).ConfigureAwait(false);
            }

            RestrictToOwner(passwordFile);
            await RunAsync(
                "initdb",
                ["-D", DataDirectory, "-U", _options.User, "--pwfile", passwordFile, "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"],
                cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(passwordFile);
        }
    }

    private async Task<string> EnsurePasswordAsync(CancellationToken cancellationToken)
    {
        if (File.Exists(PasswordFile))
        {
            return (await File.ReadAllTextAsync(PasswordFile, cancellationToken).ConfigureAwait(false)).Trim();
        }

        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(24));
        await File.WriteAllTextAsync(PasswordFile, password, cancellationToken).ConfigureAwait(false);
        RestrictToOwner(PasswordFile);
        return password;
    }

    /// <summary>Whether the service user can traverse every folder down to <paramref name="directory"/> (it owns the folder itself once chowned).</summary>
    private static async Task<bool> ServiceUserReachesAsync(string directory, CancellationToken cancellationToken)
    {
        var parent = Path.GetDirectoryName(Path.GetFullPath(directory)) ?? "/";
        var probe = await RunRawAsync("runuser", ["-u", ServiceUser, "--", "test", "-x", parent], cancellationToken, throwOnError: false).ConfigureAwait(false);
        return probe.ExitCode == 0;
    }

    private async Task<int?> ReadRunningPortAsync(CancellationToken cancellationToken)
    {
        var status = await RunAsync("pg_ctl", ["-D", DataDirectory, "status"], cancellationToken, throwOnError: false).ConfigureAwait(false);
        if (status.ExitCode != 0)
        {
            return null;
        }

        // postmaster.pid line 4 is the port
        var lines = await File.ReadAllLinesAsync(Path.Combine(DataDirectory, "postmaster.pid"), cancellationToken).ConfigureAwait(false);
        return lines.Length > 3 && int.TryParse(lines[3], NumberStyles.Integer, CultureInfo.InvariantCulture, out var port) ? port : null;
    }

    private static void RestrictToOwner(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private Task<(int ExitCode, string Output)> RunAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellationToken, bool throwOnError = true)
    {
        var executable = Path.Combine(_binDirectory, tool);
        return IsRoot
            ? RunRawAsync("runuser", ["-u", ServiceUser, "--", executable, .. arguments], cancellationToken, throwOnError)
            : RunRawAsync(executable, arguments, cancellationToken, throwOnError);
    }

    private static async Task<(int ExitCode, string Output)> RunRawAsync(string fileName, IReadOnlyList<string> arguments, CancellationToken cancellationToken, bool throwOnError = true)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        var output = (await stdout.ConfigureAwait(false)) + (await stderr.ConfigureAwait(false));
        if (throwOnError && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(fileName)} {string.Join(' ', arguments)} failed with exit code {process.ExitCode}: {output}");
        }

        return (process.ExitCode, output);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEffectiveUserId();
}
