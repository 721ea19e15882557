namespace OmsModular.Shared.Infrastructure.Hosting;

/// <summary>
/// A secret written to a file only its owner can read (0600 from the moment it exists): written to a
/// new file beside it and moved into place, so a reader sees the old content or the new, never a part,
/// and nothing is written through an existing file or link.
/// </summary>
public static class PrivateFile
{
    public static async Task WriteAsync(string file, string content)
    {
        var temporary = $"{file}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using (var stream = new FileStream(temporary, options))
        await using (var writer = new StreamWriter(stream))
        {
            await writer.WriteAsync(content).ConfigureAwait(false);
        }

        File.Move(temporary, file, overwrite: true);
    }
}
