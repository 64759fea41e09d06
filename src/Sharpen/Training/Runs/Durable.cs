using System.Runtime.InteropServices;
using System.Text;

namespace Sharpen.Training;

/// <summary>
/// File operations a run directory relies on to survive a crash: a file written beside its place, flushed to disk and
/// renamed over it; a directory's entries flushed to disk after a rename or a removal (fsync on the directory, a no-op
/// on Windows); and reading a small file that another process holds open with an exclusive lock.
/// </summary>
static class Durable
{
    /// <summary>Writes <paramref name="text"/> (UTF-8) to <paramref name="path"/>: to <c>path.tmp</c>, fsync, then renamed.</summary>
    public static void WriteAllText(string path, string text)
    {
        var tmp = path + ".tmp";
        using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(Encoding.UTF8.GetBytes(text));
            file.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Flushes the entries of directory <paramref name="dir"/> (creations, renames, removals) to disk; best effort.</summary>
    public static void SyncDirectory(string dir)
    {
        if (OperatingSystem.IsWindows()) return;
        var fd = open(dir, O_RDONLY);
        if (fd < 0) return;
        try { fsync(fd); }
        finally { close(fd); }
    }

    /// <summary>
    /// The first <paramref name="max"/> bytes of <paramref name="path"/> as UTF-8, read with plain POSIX calls so that the
    /// advisory lock another process holds on the file does not stop it; null when it cannot be read (or on Windows).
    /// </summary>
    public static string? ReadIgnoringLocks(string path, int max = 256)
    {
        if (OperatingSystem.IsWindows()) return null;
        var fd = open(path, O_RDONLY);
        if (fd < 0) return null;
        try
        {
            var buffer = new byte[max];
            var n = read(fd, buffer, max);
            return n < 0 ? null : Encoding.UTF8.GetString(buffer, 0, (int)n);
        }
        finally { close(fd); }
    }

    const int O_RDONLY = 0;

    [DllImport("libc", SetLastError = true)]
    static extern int open(string path, int flags);

    [DllImport("libc", SetLastError = true)]
    static extern int fsync(int fd);

    [DllImport("libc", SetLastError = true)]
    static extern int close(int fd);

    [DllImport("libc", SetLastError = true)]
    static extern nint read(int fd, byte[] buffer, nint count);
}
