using System.Diagnostics;
using System.Text;

namespace Sharpen.Rewards.Sandbox;

/// <summary>
/// Runs untrusted Python programs against their unit tests (ALGORITHMS §5.2, "Code"), each test in its own sandbox:
/// <list type="bullet">
/// <item>bubblewrap (as root) gives new pid, network, ipc, uts and mount namespaces: the program sees only /usr (read-only),
/// its own source (read-only, /sandbox), a fresh /proc and /dev, and a private size-capped tmpfs at /tmp, the only
/// writable place; the network namespace has only a loopback that is down, so nothing can be reached.</item>
/// <item>bubblewrap also installs a seccomp filter (<see cref="SeccompFilter"/>): no new namespaces, mounts, ptrace,
/// keyrings, bpf, perf events, userfaultfd or io_uring.</item>
/// <item>setpriv drops root for a uid reserved for this run (<see cref="SandboxOptions.UidBase"/>), clears groups and
/// every capability and sets no_new_privs, so RLIMIT_NPROC applies (root is exempt from it).</item>
/// <item>prlimit sets CPU time, address space, process count, file size, open files and core size (soft = hard, so the
/// program cannot raise them back).</item>
/// <item>The host kills the pid namespace at the wall-clock limit (killing its init kills every process in it), and after
/// every test checks that no process of the run's uid is left, else it throws <see cref="SandboxBreachException"/>.</item>
/// </list>
/// When a tool is missing or the start-up probe fails, <see cref="Run"/> throws <see cref="SandboxUnavailableException"/>;
/// it never runs a program unsandboxed. Thread-safe: concurrent runs take different uids. See docs/sandbox.md.
/// </summary>
/// <param name="options">Tool paths and the uid range (default <see cref="SandboxOptions.Default"/>).</param>
public sealed class PythonSandbox(SandboxOptions? options = null)
{
    /// <summary>Exit status of the driver when the program does not compile (a program exiting with it itself reads as a compile error).</summary>
    public const int CompileErrorExitCode = 97;

    const int SIGKILL = 9, SIGXCPU = 24;

    // Runs /sandbox/solution.py as __main__; -S leaves out the site module, so exit() and quit() are restored here.
    // With /sandbox/test.py (an assert test) the first stdin line is a token: the test runs after the program (an
    // exit(0) in the program does not skip it; a bare expression must not be false), and only then is the token
    // printed, so a program that ends the process early (os._exit(0)) cannot pass.
    static readonly string Driver = $$"""
        import builtins, os, sys
        builtins.exit = builtins.quit = sys.exit
        sys.argv = ['solution.py']

        def main():
            def read(name):
                with open('/sandbox/' + name, encoding='utf-8') as f:
                    return f.read()
            test = read('test.py') if os.path.exists('/sandbox/test.py') else None
            token = sys.stdin.readline().strip() if test is not None else None
            try:
                program = compile(read('solution.py'), 'solution.py', 'exec')
                if test is not None:
                    try:
                        check, expression = compile(test, 'test.py', 'eval'), True
                    except SyntaxError:
                        check, expression = compile(test, 'test.py', 'exec'), False
            except (SyntaxError, ValueError) as e:
                print(f'{type(e).__name__}: {e}', file=sys.stderr)
                sys.exit({{CompileErrorExitCode}})
            scope = {'__name__': '__main__', '__builtins__': builtins}
            if test is None:
                exec(program, scope)
                return
            try:
                exec(program, scope)
            except SystemExit as e:
                if e.code not in (None, 0):
                    raise
            if expression:
                value = eval(check, scope)
                if value is not None and not value:
                    raise AssertionError(test.strip())
            else:
                exec(check, scope)
            sys.stdout.flush()
            os.write(1, ('\n' + token + '\n').encode())

        main()
        """;

    readonly object probeLock = new();
    bool probed;

    /// <summary>The sandbox with the default options.</summary>
    public static PythonSandbox Default { get; } = new();

    /// <summary>Tool paths and the uid range.</summary>
    public SandboxOptions Options { get; } = options ?? SandboxOptions.Default;

    /// <summary>
    /// Runs <paramref name="code"/> against each of <paramref name="tests"/> in turn, each in a fresh sandbox under
    /// <paramref name="limits"/>. A stdin/stdout test feeds its input and compares stdout (<see cref="TestCase.OutputMatches"/>);
    /// an assert test runs its statement in the program's namespace after the program, and passes only if it gets to its end.
    /// </summary>
    /// <exception cref="SandboxUnavailableException">The sandbox cannot isolate programs on this machine.</exception>
    /// <exception cref="SandboxBreachException">A process of the sandbox survived (it has been killed).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="ct"/> was cancelled (the running sandbox is killed first).</exception>
    public SandboxResult Run(string code, IReadOnlyList<TestCase> tests, SandboxLimits limits, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (tests.Count == 0) throw new ArgumentException("at least one test is required (no tests must not read as passing)", nameof(tests));
        limits.Validate();
        EnsureAvailable();
        using var lease = UidLease.Acquire(Options, ct);
        var clock = Stopwatch.StartNew();
        var results = new List<TestResult>(tests.Count);
        for (int i = 0; i < tests.Count; i++)
        {
            var test = tests[i];
            var token = Guid.NewGuid().ToString("N");
            var run = Launch(code, test.Assert, test.Assert != null ? token + "\n" : test.Input!, lease.Uid, limits, ct);
            var (outcome, stdout) = Classify(test, token, run);
            results.Add(new TestResult(i, outcome, Head(stdout, limits.ExcerptChars), Tail(run.Stderr, limits.ExcerptChars),
                run.WallSeconds, run.ExitCode, run.Killed));
        }
        return new SandboxResult(results, new ProcessAccounting(lease.Uid, results.Count,
            results.Count(r => r.Killed == KillReason.WallClock), results.Count(r => r.Killed == KillReason.OutputLimit),
            clock.Elapsed.TotalSeconds));
    }

    /// <summary>
    /// Throws <see cref="SandboxUnavailableException"/>, naming what is missing, unless every tool is present and, once per
    /// instance, a probe program confirms inside the sandbox that it runs as the reserved uid, sees only its own
    /// processes, has no network interface but a loopback and is under the seccomp filter.
    /// </summary>
    public void EnsureAvailable()
    {
        if (!OperatingSystem.IsLinux()) throw new SandboxUnavailableException("the code sandbox needs Linux namespaces; this is not Linux");
        foreach (var (path, package, inside) in new[] { (Options.ShellPath, "dash", false), (Options.BwrapPath, "bubblewrap", false),
                     (Options.SetprivPath, "util-linux", true), (Options.PrlimitPath, "util-linux", true), (Options.PythonPath, "python3-minimal", true) })
        {
            if (!File.Exists(path))
                throw new SandboxUnavailableException($"{path} is missing (Debian package {package}); refusing to run untrusted code without its sandbox");
            if (inside && !path.StartsWith("/usr/"))
                throw new SandboxUnavailableException($"{path} must lie under /usr, the only host folder the sandbox sees");
        }
        if (!Environment.IsPrivilegedProcess)
            throw new SandboxUnavailableException("the code sandbox must run as root (to create namespaces and drop to its own uid without user namespaces)");
        lock (probeLock)
        {
            if (probed) return;
            using var lease = UidLease.Acquire(Options, CancellationToken.None);
            const string probe = "import os, socket\nseccomp = [l.split()[1] for l in open('/proc/self/status') if l.startswith('Seccomp:')]\n"
                                 + "print(os.getuid(), sum(d.isdigit() for d in os.listdir('/proc')), [n for _, n in socket.if_nameindex()], seccomp)";
            // /proc lists only bubblewrap's init and this interpreter; seccomp mode 2 is a filter.
            string expected = $"{lease.Uid} 2 ['lo'] ['2']";
            Execution run;
            try { run = Launch(probe, null, "", lease.Uid, SandboxLimits.Default, CancellationToken.None); }
            catch (Exception e) when (e is not SandboxBreachException) { throw new SandboxUnavailableException($"the sandbox could not start: {e.Message}", e); }
            if (run.ExitCode != 0 || run.Stdout.Trim() != expected)
                throw new SandboxUnavailableException(
                    $"the sandbox probe failed (exit {run.ExitCode}, printed \"{run.Stdout.Trim()}\", expected \"{expected}\"): {Tail(run.Stderr, 2000)}");
            probed = true;
        }
    }

    /// <summary>The test's outcome and the program's stdout (without the assert test's token line).</summary>
    static (TestOutcome, string) Classify(TestCase test, string token, Execution run)
    {
        var stdout = run.Stdout;
        bool tokenSeen = false;
        if (test.Assert != null && stdout.EndsWith("\n" + token + "\n"))
            (stdout, tokenSeen) = (stdout[..^(token.Length + 2)], true);
        if (run.Killed == KillReason.WallClock) return (TestOutcome.Timeout, stdout);
        if (run.Killed == KillReason.OutputLimit) return (TestOutcome.OutputLimit, stdout);
        // RLIMIT_CPU sends SIGXCPU at the soft limit and SIGKILL at the hard one (read as CPU time, not the OOM killer).
        if (run.ExitCode is 128 + SIGXCPU or 128 + SIGKILL) return (TestOutcome.Timeout, stdout);
        if (run.ExitCode == CompileErrorExitCode) return (TestOutcome.CompileError, stdout);
        if (run.ExitCode == 0)
            return (test.Assert != null ? tokenSeen : test.OutputMatches(stdout)) ? (TestOutcome.Passed, stdout) : (TestOutcome.Failed, stdout);
        var lastLine = run.Stderr.TrimEnd().Split('\n')[^1];
        if (lastLine.StartsWith("MemoryError")) return (TestOutcome.MemoryLimit, stdout);
        if (lastLine.StartsWith("AssertionError") && test.Assert != null) return (TestOutcome.Failed, stdout);
        return (TestOutcome.RuntimeError, stdout);
    }

    /// <summary>One sandboxed run of a program: what it printed, how it ended, how long it took.</summary>
    sealed record Execution(string Stdout, string Stderr, int ExitCode, KillReason Killed, double WallSeconds);

    /// <summary>
    /// Writes <paramref name="source"/> (and <paramref name="test"/>, if any) to a private folder, runs it in a sandbox as
    /// <paramref name="uid"/> with <paramref name="stdin"/> as input, kills the sandbox at the wall-clock or output limit,
    /// then removes the folder and checks that no process of <paramref name="uid"/> is left.
    /// </summary>
    Execution Launch(string source, string? test, string stdin, int uid, SandboxLimits limits, CancellationToken ct)
    {
        Debug.Assert(OperatingSystem.IsLinux());   // checked by EnsureAvailable
        var dir = Directory.CreateTempSubdirectory("sharpen-sandbox-").FullName;
        try
        {
            // The folder is root's and bound read-only: the sandbox uid may read the program, not change it.
            File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
            File.WriteAllText(Path.Combine(dir, "solution.py"), source);
            File.SetUnixFileMode(Path.Combine(dir, "solution.py"), (UnixFileMode)0b110_100_100);
            if (test != null)
            {
                File.WriteAllText(Path.Combine(dir, "test.py"), test);
                File.SetUnixFileMode(Path.Combine(dir, "test.py"), (UnixFileMode)0b110_100_100);
            }
            var filter = Path.Combine(dir, "seccomp.bpf");
            File.WriteAllBytes(filter, SeccompFilter.ForThisMachine());
            File.SetUnixFileMode(filter, (UnixFileMode)0b110_000_000);

            // The shell opens the filter as fd 3 for bubblewrap's --seccomp 3, then becomes bubblewrap (same pid).
            var start = new ProcessStartInfo(Options.ShellPath)
            {
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            foreach (var a in (string[])["-c", "exec 3<\"$1\" && shift && exec \"$@\"", "sh", filter, Options.BwrapPath, "--seccomp", "3"])
                start.ArgumentList.Add(a);
            foreach (var a in Arguments(dir, uid, limits)) start.ArgumentList.Add(a);
            start.Environment.Clear();

            var stop = new ManualResetEventSlim();   // not disposed: the Exited event may still set it after this method returns
            using var process = new Process { StartInfo = start, EnableRaisingEvents = true };
            process.Exited += (_, _) => stop.Set();
            var clock = Stopwatch.StartNew();
            process.Start();
            Capture stdout, stderr;
            Task feed;
            var killed = KillReason.None;
            try
            {
                using var cancel = ct.Register(stop.Set);
                stdout = new Capture(process.StandardOutput.BaseStream, limits.MaxOutputBytes, stop);
                stderr = new Capture(process.StandardError.BaseStream, limits.MaxOutputBytes, stop);
                feed = Task.Factory.StartNew(() => Feed(process.StandardInput.BaseStream, stdin), TaskCreationOptions.LongRunning);
                stop.Wait(TimeSpan.FromSeconds(limits.WallSeconds));
                if (!process.HasExited)
                {
                    killed = stdout.Overflow || stderr.Overflow ? KillReason.OutputLimit : KillReason.WallClock;
                    KillSandbox(process);
                }
            }
            catch
            {
                KillSandbox(process);   // never leave a sandbox running behind an exception
                throw;
            }
            process.WaitForExit();
            double wall = clock.Elapsed.TotalSeconds;
            // The pipes close when the last sandbox process is gone; a reader still blocked means something survived.
            Task.WaitAll([stdout.Done, stderr.Done, feed], TimeSpan.FromSeconds(5));

            int left = HostProcesses.KillLeftovers(uid, TimeSpan.FromSeconds(2));
            if (left > 0) throw new SandboxBreachException($"{left} process(es) of sandbox uid {uid} outlived their sandbox; they were killed");
            ct.ThrowIfCancellationRequested();
            return new Execution(stdout.Text, stderr.Text, process.ExitCode, killed, wall);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Kills bubblewrap's init in the sandbox's pid namespace, which kills every process in it, then bubblewrap.</summary>
    static void KillSandbox(Process bwrap)
    {
        foreach (var init in HostProcesses.ChildrenOf(bwrap.Id)) HostProcesses.Kill(init);
        try { bwrap.Kill(); } catch (InvalidOperationException) { }   // already exited
    }

    IEnumerable<string> Arguments(string dir, int uid, SandboxLimits limits)
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
        string[] user = [Options.SetprivPath, $"--reuid={uid}", $"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"];
        int cpu = limits.EffectiveCpuSeconds;
        string[] rlimits = [Options.PrlimitPath, $"--cpu={cpu}:{cpu + 1}", $"--as={limits.MemoryBytes}", $"--nproc={limits.MaxProcesses}",
            $"--fsize={limits.MaxFileBytes}", $"--nofile={limits.MaxOpenFiles}", "--core=0", "--"];
        string[] python = [Options.PythonPath, "-I", "-S", "-B", "-X", "utf8", "-c", Driver];
        return [.. namespaces, .. files, .. environment, "--", .. user, .. rlimits, .. python];
    }

    static void Feed(Stream stdin, string input)
    {
        try
        {
            stdin.Write(Encoding.UTF8.GetBytes(input));
            stdin.Close();
        }
        catch (IOException) { }   // the program exited (or was killed) without reading all of its input
    }

    static string Head(string text, int chars) => text.Length <= chars ? text : text[..chars];

    static string Tail(string text, int chars) => text.Length <= chars ? text : text[^chars..];

    /// <summary>Reads a stream to its end on its own thread, keeping at most a given number of bytes.</summary>
    sealed class Capture
    {
        readonly MemoryStream kept = new();

        public Capture(Stream stream, int maxBytes, ManualResetEventSlim overflowed) =>
            Done = Task.Factory.StartNew(() =>
            {
                var buffer = new byte[16384];
                int n;
                while ((n = stream.Read(buffer)) > 0)
                {
                    int room = maxBytes - (int)kept.Length;
                    kept.Write(buffer, 0, Math.Min(n, room));
                    if (n > room && !Overflow) { Overflow = true; overflowed.Set(); }   // keep draining so the writer is not stuck
                }
            }, TaskCreationOptions.LongRunning);

        /// <summary>Completes at end of stream.</summary>
        public Task Done { get; }

        /// <summary>Whether more than the kept bytes arrived.</summary>
        public bool Overflow { get; private set; }

        /// <summary>The kept bytes as UTF-8 text (invalid bytes become U+FFFD).</summary>
        public string Text => Encoding.UTF8.GetString(kept.GetBuffer(), 0, (int)kept.Length);
    }
}
