using System.Runtime.InteropServices;

namespace Sharpen.Rewards.Sandbox;

/// <summary>The host's view of processes, read from /proc: who runs as a uid, who is whose child, and SIGKILL.</summary>
static class HostProcesses
{
    const int SIGKILL = 9;

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int sig);

    /// <summary>Sends SIGKILL to <paramref name="pid"/>; a process that is already gone is not an error.</summary>
    public static void Kill(int pid) => kill(pid, SIGKILL);

    /// <summary>Pids of every process (zombies included) whose real uid is <paramref name="uid"/>.</summary>
    public static List<int> OfUid(int uid)
    {
        var pids = new List<int>();
        foreach (var (pid, dir) in All())
        {
            var line = ReadOrNull(Path.Combine(dir, "status"))?.Split('\n').FirstOrDefault(l => l.StartsWith("Uid:"));
            if (line != null && line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == uid.ToString()) pids.Add(pid);
        }
        return pids;
    }

    /// <summary>Pids of the direct children of <paramref name="parent"/>.</summary>
    public static List<int> ChildrenOf(int parent)
    {
        var pids = new List<int>();
        foreach (var (pid, dir) in All())
        {
            // /proc/<pid>/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses, so read after the last ')'.
            var stat = ReadOrNull(Path.Combine(dir, "stat"));
            var rest = stat?[(stat.LastIndexOf(')') + 2)..].Split(' ');
            if (rest != null && rest.Length > 1 && rest[1] == parent.ToString()) pids.Add(pid);
        }
        return pids;
    }

    /// <summary>
    /// Waits up to <paramref name="patience"/> for every process of <paramref name="uid"/> to be gone (a killed pid namespace
    /// is reaped within milliseconds); then SIGKILLs whatever is left (until none is) and returns how many were left.
    /// </summary>
    public static int KillLeftovers(int uid, TimeSpan patience)
    {
        var deadline = DateTime.UtcNow + patience;
        List<int> left;
        while ((left = OfUid(uid)).Count > 0 && DateTime.UtcNow < deadline) Thread.Sleep(10);
        int found = left.Count;
        for (int round = 0; left.Count > 0 && round < 100; round++)   // a process may fork between listing and killing
        {
            foreach (var pid in left) Kill(pid);
            Thread.Sleep(10);
            left = OfUid(uid);
        }
        return found;
    }

    static IEnumerable<(int Pid, string Dir)> All()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
            if (int.TryParse(Path.GetFileName(dir), out int pid)) yield return (pid, dir);
    }

    static string? ReadOrNull(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return null; }          // the process ended while we looked
        catch (UnauthorizedAccessException) { return null; }
    }
}

/// <summary>
/// One slot of the reserved uid range, held by this run until disposed: a uid for the programs and one for the checkers
/// of assert tests (so that neither's processes count against the other's RLIMIT_NPROC). Processes on the machine share
/// the range through one lock file per slot (an exclusive advisory lock, released by the kernel if the holder dies).
/// </summary>
sealed class UidLease : IDisposable
{
    readonly FileStream lockFile;

    UidLease(int uid, int checkerUid, FileStream lockFile) => (Uid, CheckerUid, this.lockFile) = (uid, checkerUid, lockFile);

    /// <summary>The uid programs run as: <see cref="SandboxOptions.UidBase"/> + slot.</summary>
    public int Uid { get; }

    /// <summary>The uid checkers run as: <see cref="SandboxOptions.UidBase"/> + <see cref="SandboxOptions.UidSlots"/> + slot.</summary>
    public int CheckerUid { get; }

    /// <summary>Takes a free slot, waiting while all are held. Processes a crashed holder left behind are killed first.</summary>
    public static UidLease Acquire(SandboxOptions options, CancellationToken ct)
    {
        Directory.CreateDirectory(options.LockDirectory);
        int start = Random.Shared.Next(options.UidSlots);
        while (true)
        {
            for (int i = 0; i < options.UidSlots; i++)
            {
                int uid = options.UidBase + (start + i) % options.UidSlots, checkerUid = uid + options.UidSlots;
                try
                {
                    var file = new FileStream(Path.Combine(options.LockDirectory, $"{uid}.lock"), FileMode.OpenOrCreate,
                        FileAccess.ReadWrite, FileShare.None);
                    HostProcesses.KillLeftovers(uid, TimeSpan.Zero);
                    HostProcesses.KillLeftovers(checkerUid, TimeSpan.Zero);
                    return new UidLease(uid, checkerUid, file);
                }
                catch (IOException) { }   // held by another run
            }
            ct.WaitHandle.WaitOne(50);
            ct.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Releases the slot.</summary>
    public void Dispose() => lockFile.Dispose();
}
