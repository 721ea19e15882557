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
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await output + (await error is { Length: > 0 } e ? "\n[stderr] " + e : string.Empty));
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
            // Warnings count too: the document has none, and a new one should be looked at.
            var report = Path.Combine(Path.GetTempPath(), $"oms-spectral-{Guid.NewGuid():N}.json");
            var (spectralExit, spectral) = await RunAsync(Path.Combine(LintDirectory, "node_modules", ".bin", "spectral"),
                "lint", document, "--ruleset", ".spectral.yaml", "--format", "json", "--output", report, "--fail-severity", "warn");
            var findings = JsonDocument.Parse(await File.ReadAllTextAsync(report)).RootElement.EnumerateArray()
                .Select(f => $"{f.GetProperty("code")} ({f.GetProperty("severity")}): {f.GetProperty("message")} at {string.Join('.', f.GetProperty("path").EnumerateArray())}").ToArray();
            File.Delete(report);
            Assert.True(findings.Length == 0 && spectralExit == 0, $"Spectral (exit {spectralExit}):\n{string.Join('\n', findings)}\n{spectral}");

            var (redoclyExit, redocly) = await RunAsync(Path.Combine(LintDirectory, "node_modules", ".bin", "redocly"), "lint", document, "--config", "redocly.yaml", "--format", "stylish", "--max-problems", "100");
            Assert.True(redoclyExit == 0 && !System.Text.RegularExpressions.Regex.IsMatch(redocly, @"You have \d+ warnings?"), "Redocly:\n" + redocly);
        }
        finally
        {
            File.Delete(document);
        }
    }
}
