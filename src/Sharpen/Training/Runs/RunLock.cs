namespace Sharpen.Training;

/// <summary>
/// The exclusive lock on a run directory, held for the run's whole life: the file <c>.lock</c> in the run directory,
/// opened so that no other process can open it (on Linux an advisory <c>flock</c>, which the OS releases when the
/// process ends, even on <c>kill -9</c>) and holding the owner's process id. A second process on the same run gets an
/// error naming that id. The file is left in place when the run ends; only an open handle holds the lock.
/// </summary>
public sealed class RunLock : IDisposable
{
    /// <summary>The lock file's name inside a run directory.</summary>
    public const string FileName = ".lock";

    readonly FileStream file;

    RunLock(FileStream file) => this.file = file;

    /// <summary>Path of the lock file.</summary>
    public string Path => file.Name;

    /// <summary>Locks <paramref name="runDir"/> (created if missing) for this process.</summary>
    /// <exception cref="IOException">Another process holds the lock; the message names its process id.</exception>
    public static RunLock Acquire(string runDir)
    {
        Directory.CreateDirectory(runDir);
        var path = System.IO.Path.Combine(runDir, FileName);
        FileStream file;
        try
        {
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            var holder = int.TryParse(Durable.ReadIgnoringLocks(path)?.Trim(), out var pid) ? $"process {pid}" : "another process";
            throw new IOException($"run directory {runDir} is in use by {holder} (it holds {path}); wait for that run to end or stop it first", e);
        }
        file.SetLength(0);
        file.Write(System.Text.Encoding.ASCII.GetBytes($"{Environment.ProcessId}\n"));
        file.Flush(flushToDisk: true);
        return new RunLock(file);
    }

    /// <summary>Releases the lock.</summary>
    public void Dispose() => file.Dispose();
}
