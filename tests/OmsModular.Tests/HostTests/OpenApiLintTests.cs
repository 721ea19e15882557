using System.Diagnostics;
using System.Text.Json;

namespace OmsModular.Tests.HostTests;

/// <summary>The Host's OpenAPI document passes Spectral (spectral:oas) and Redocly (recommended) with no error.</summary>
[Collection(HostCollection.Name)]
public sealed class OpenApiLintTests(HostFixture host)
{
    private static readonly string LintDirectory = Path.Combine(Root(), "tests", "openapi-lint");

    private static string Root()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(directory.FullName, "OmsModular.sln")))
        {
            directory = directory.Parent!;
        }

        return directory.FullName;
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string file, params string[] arguments)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = LintDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment = { ["REDOCLY_TELEMETRY"] = "off", ["REDOCLY_SUPPRESS_UPDATE_NOTICE"] = "true", ["NO_COLOR"] = "1" },
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await output + await error);
    }

    private static async Task EnsureLintersAsync()
    {
        if (!File.Exists(Path.Combine(LintDirectory, "node_modules", ".bin", "spectral")))
        {
            // scripts/prerequisites.sh installs them; a run without it installs them here (pinned by the lock file).
            var (exitCode, output) = await RunAsync("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error");
            Assert.True(exitCode == 0, output);
        }
    }

    [Fact]
    public async Task The_openapi_document_has_no_lint_errors()
    {
        await EnsureLintersAsync();
        var document = Path.Combine(Path.GetTempPath(), $"oms-openapi-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(document, await host.Client.GetStringAsync("/openapi/v1.json"));
        try
        {
            var (_, spectral) = await RunAsync(Path.Combine(LintDirectory, "node_modules", ".bin", "spectral"), "lint", document, "--ruleset", ".spectral.yaml", "--format", "json", "--quiet");
            var findings = JsonDocument.Parse(spectral[spectral.IndexOf('[', StringComparison.Ordinal)..]).RootElement.EnumerateArray().ToArray();
            var errors = findings.Where(f => f.GetProperty("severity").GetInt32() == 0).Select(f => $"{f.GetProperty("code")}: {f.GetProperty("message")}").ToArray();
            Assert.True(errors.Length == 0, "Spectral errors:\n" + string.Join('\n', errors));

            var (redoclyExit, redocly) = await RunAsync(Path.Combine(LintDirectory, "node_modules", ".bin", "redocly"), "lint", document, "--config", "redocly.yaml", "--format", "stylish");
            Assert.True(redoclyExit == 0, "Redocly errors:\n" + redocly);
            Assert.Contains("valid", redocly, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(document);
        }
    }
}
