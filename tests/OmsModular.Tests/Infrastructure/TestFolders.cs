namespace OmsModular.Tests.Infrastructure;

/// <summary>The throwaway folders of earlier test runs (named <c>&lt;prefix&gt;&lt;pid&gt;-…</c>) whose process is gone: a killed run cannot clean up.</summary>
internal static class TestFolders
{
    public static void RemoveLeftovers(string prefix)
    {
        foreach (var directory in Directory.EnumerateDirectories(Path.GetTempPath(), prefix + "*"))
        {
            var rest = Path.GetFileName(directory)[prefix.Length..];
            var pidText = rest.Split('-')[0];
            if (int.TryParse(pidText, out var pid) && !ProcessExists(pid))
            {
                TryDelete(directory);
            }
        }
    }

    public static bool ProcessExists(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    public static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            // left for the OS to clean /tmp
        }
    }
}
