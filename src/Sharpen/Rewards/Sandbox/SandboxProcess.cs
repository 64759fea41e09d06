using System.Diagnostics;
using System.Text;

namespace Sharpen.Rewards.Sandbox;

/// <summary>
/// The sandbox's Python side, harness.py (embedded in this assembly), and the exit statuses of its checker role.
/// Roles: <c>program</c> (a stdin/stdout test), <c>solution</c> and <c>checker</c> (the two halves of an assert test).
/// </summary>
static class Harness
{
    /// <summary>The checker's statuses: the test got to its end; it failed (AssertionError, a false bare expression, exit).</summary>
    public const int Passed = 0, Failed = 1;

    /// <summary>The checker's statuses: the test raised something else; a MemoryError; a reply over the output limit.</summary>
    public const int Raised = 2, Memory = 3, TooLong = 4;

    /// <summary>The checker's status when the solution ended, or broke the protocol, before the test was done.</summary>
    public const int Closed = 5;

    /// <summary>The source of harness.py.</summary>
    public static string Source { get; } = Load();

    static string Load()
    {
        using var stream = typeof(Harness).Assembly.GetManifestResourceStream("Sharpen.Rewards.Sandbox.harness.py")
                           ?? throw new InvalidOperationException("harness.py is not embedded in the Sharpen assembly");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }
}

/// <summary>
/// One sandbox (see <see cref="PythonSandbox"/>): bubblewrap, started as root, running harness.py in one role as the run's
/// uid under the limits, over a private folder of files bound read-only at /sandbox. Disposing kills whatever is left
/// and removes the folder.
/// </summary>
sealed class SandboxProcess : IDisposable
{
    readonly string dir;
    readonly Process process;

    SandboxProcess(string dir, Process process) => (this.dir, this.process) = (dir, process);

    /// <summary>
    /// Writes <paramref name="files"/> (name → text) to a fresh private folder and starts harness.py with
    /// <paramref name="arguments"/> (its role first) in a sandbox; <paramref name="exited"/> is called when it ends.
    /// </summary>
    public static SandboxProcess Start(SandboxOptions options, IReadOnlyDictionary<string, string> files, IReadOnlyList<string> arguments,
        int uid, SandboxLimits limits, Action exited)
    {
        Debug.Assert(OperatingSystem.IsLinux());   // checked by PythonSandbox.EnsureAvailable
        var dir = Directory.CreateTempSubdirectory("sharpen-sandbox-").FullName;
        try
        {
            // The folder is root's and bound read-only: the sandbox uid may read the files, not change them.
            File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
            foreach (var (name, text) in files)
            {
                File.WriteAllText(Path.Combine(dir, name), text);
                File.SetUnixFileMode(Path.Combine(dir, name), (UnixFileMode)0b110_100_100);
            }
            var filter = Path.Combine(dir, "seccomp.bpf");
            File.WriteAllBytes(filter, SeccompFilter.ForThisMachine());
            File.SetUnixFileMode(filter, (UnixFileMode)0b110_000_000);

            // The shell opens the filter as fd 3 for bubblewrap's --seccomp 3, then becomes bubblewrap (same pid).
            var start = new ProcessStartInfo(options.ShellPath)
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            foreach (var a in (string[])["-c", "exec 3<\"$1\" && shift && exec \"$@\"", "sh", filter, options.BwrapPath, "--seccomp", "3"])
                start.ArgumentList.Add(a);
            foreach (var a in Arguments(options, dir, uid, limits, arguments)) start.ArgumentList.Add(a);
            start.Environment.Clear();

            var process = new Process { StartInfo = start, EnableRaisingEvents = true };
            process.Exited += (_, _) => exited();
            process.Start();
            return new SandboxProcess(dir, process);
        }
        catch
        {
            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    /// <summary>The sandbox's stdin (write end).</summary>
    public Stream Stdin => process.StandardInput.BaseStream;

    /// <summary>The sandbox's stdout (read end).</summary>
    public Stream Stdout => process.StandardOutput.BaseStream;

    /// <summary>The sandbox's stderr (read end).</summary>
    public Stream Stderr => process.StandardError.BaseStream;

    /// <summary>Whether the sandbox has ended.</summary>
    public bool HasExited => process.HasExited;

    /// <summary>The exit status: the program's own, or 128 + signal when a signal ended it (bubblewrap's convention).</summary>
    public int ExitCode => process.ExitCode;

    /// <summary>Kills bubblewrap's init in the sandbox's pid namespace, which kills every process in it, then bubblewrap, and waits for it.</summary>
    public void Kill()
    {
        if (!process.HasExited)
        {
            foreach (var init in HostProcesses.ChildrenOf(process.Id)) HostProcesses.Kill(init);
            try { process.Kill(); } catch (InvalidOperationException) { }   // already exited
        }
        process.WaitForExit();
    }

    /// <summary>Kills what is left of the sandbox and removes its folder.</summary>
    public void Dispose()
    {
        try { Kill(); }
        finally
        {
            process.Dispose();
            Directory.Delete(dir, recursive: true);
        }
    }

    static IEnumerable<string> Arguments(SandboxOptions options, string dir, int uid, SandboxLimits limits, IReadOnlyList<string> harness)
    {
        string[] namespaces = ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox"];
        var files = new List<string> { "--ro-bind", "/usr", "/usr" };
        foreach (var top in new[] { "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32" })
        {
            var info = new FileInfo(top);
            if (info.LinkTarget is { } target) files.AddRange(["--symlink", target, top]);   // merged /usr: /bin -> usr/bin
            else if (Directory.Exists(top)) files.AddRange(["--ro-bind", top, top]);
        }
        files.AddRange(["--proc", "/proc", "--dev", "/dev", "--ro-bind", dir, "/sandbox",
            "--size", limits.TmpBytes.ToString(), "--perms", "1777", "--tmpfs", "/tmp", "--chdir", "/tmp"]);
        string[] environment = ["--clearenv", "--setenv", "PATH", "/usr/bin:/bin", "--setenv", "HOME", "/tmp",
            "--setenv", "TMPDIR", "/tmp", "--setenv", "LANG", "C.UTF-8"];
        string[] user = [options.SetprivPath, $"--reuid={uid}", $"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"];
        int cpu = limits.EffectiveCpuSeconds;
        string[] rlimits = [options.PrlimitPath, $"--cpu={cpu}:{cpu + 1}", $"--as={limits.MemoryBytes}", $"--nproc={limits.MaxProcesses}",
            $"--fsize={limits.MaxFileBytes}", $"--nofile={limits.MaxOpenFiles}", "--core=0", "--"];
        string[] python = [options.PythonPath, "-I", "-S", "-B", "-X", "utf8", "-c", Harness.Source];
        return [.. namespaces, .. files, .. environment, "--", .. user, .. rlimits, .. python, .. harness];
    }
}

/// <summary>Reads a stream to its end on its own thread, keeping at most a given number of bytes.</summary>
sealed class Capture
{
    readonly MemoryStream kept = new();

    /// <summary>Starts reading <paramref name="stream"/>; past <paramref name="maxBytes"/> it sets <paramref name="overflowed"/> once and keeps draining.</summary>
    public Capture(Stream stream, int maxBytes, ManualResetEventSlim overflowed) =>
        Done = Task.Factory.StartNew(() =>
        {
            var buffer = new byte[16384];
            int n;
            try
            {
                while ((n = stream.Read(buffer)) > 0)
                {
                    int room = maxBytes - (int)kept.Length;
                    lock (kept) kept.Write(buffer, 0, Math.Min(n, room));
                    if (n > room && !Overflow) { Overflow = true; overflowed.Set(); }   // keep draining so the writer is not stuck
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException) { }   // the sandbox is gone
        }, TaskCreationOptions.LongRunning);

    /// <summary>Completes at end of stream.</summary>
    public Task Done { get; }

    /// <summary>Whether more than the kept bytes arrived.</summary>
    public bool Overflow { get; private set; }

    /// <summary>The kept bytes as UTF-8 text (invalid bytes become U+FFFD).</summary>
    public string Text { get { lock (kept) return Encoding.UTF8.GetString(kept.GetBuffer(), 0, (int)kept.Length); } }
}

/// <summary>Copies between sandboxes and into them, each copy on its own thread.</summary>
static class Pipes
{
    /// <summary>Writes <paramref name="input"/> to <paramref name="stdin"/> and closes it; a sandbox that ends without reading it all is not an error.</summary>
    public static Task Feed(Stream stdin, string input) => Task.Factory.StartNew(() =>
    {
        try
        {
            stdin.Write(Encoding.UTF8.GetBytes(input));
            stdin.Close();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { }
    }, TaskCreationOptions.LongRunning);

    /// <summary>
    /// Copies <paramref name="from"/> to <paramref name="to"/> until the end of <paramref name="from"/>, then closes
    /// <paramref name="to"/>. When <paramref name="to"/> is gone it keeps draining, so that the writer is never stuck.
    /// </summary>
    public static Task Relay(Stream from, Stream to) => Task.Factory.StartNew(() =>
    {
        var buffer = new byte[16384];
        bool open = true;
        try
        {
            int n;
            while ((n = from.Read(buffer)) > 0)
            {
                if (!open) continue;
                try { to.Write(buffer, 0, n); to.Flush(); }
                catch (Exception e) when (e is IOException or ObjectDisposedException) { open = false; }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException) { }
        try { to.Close(); } catch (Exception e) when (e is IOException or ObjectDisposedException) { }
    }, TaskCreationOptions.LongRunning);
}
