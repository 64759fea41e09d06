using System.Diagnostics;

namespace Sharpen.Rewards.Sandbox;

/// <summary>
/// Runs untrusted Python programs against their unit tests (docs/algorithms.md §5.2, "Code"), each test in a fresh sandbox, an
/// assert test in two (the program's and a checker's, so that nothing the program can reach decides whether it passed):
/// <list type="bullet">
/// <item>bubblewrap (as root) gives new pid, network, ipc, uts and mount namespaces: the program sees only /usr (read-only),
/// its own source (read-only, /sandbox; never the tests), a fresh /proc and /dev, and a private size-capped tmpfs at /tmp, the only
/// writable place; the network namespace has only a loopback that is down, so nothing can be reached.</item>
/// <item>bubblewrap also installs a seccomp filter (<see cref="SeccompFilter"/>): no new namespaces, mounts, ptrace,
/// keyrings, bpf, perf events, userfaultfd or io_uring.</item>
/// <item>setpriv drops root for a uid reserved for this run (<see cref="SandboxOptions.UidBase"/>; the checker has another),
/// clears groups and every capability and sets no_new_privs, so RLIMIT_NPROC applies (root is exempt from it).</item>
/// <item>prlimit sets CPU time, address space, process count, file size, open files and core size (soft = hard, so the
/// program cannot raise them back).</item>
/// <item>The host kills the pid namespace at the wall-clock limit (killing its init kills every process in it), and after
/// every test checks that no process of the run's uids is left, else it throws <see cref="SandboxBreachException"/>.</item>
/// </list>
/// When a tool is missing or the start-up probe fails, <see cref="Run"/> throws <see cref="SandboxUnavailableException"/>;
/// it never runs a program unsandboxed. Thread-safe: concurrent runs take different uids. See docs/sandbox.md.
/// </summary>
/// <param name="options">Tool paths and the uid range (default <see cref="SandboxOptions.Default"/>).</param>
public sealed class PythonSandbox(SandboxOptions? options = null)
{
    /// <summary>Exit status of the harness when the program or the assert test does not compile (a program exiting with it itself reads as a compile error).</summary>
    public const int CompileErrorExitCode = 97;

    const int SIGKILL = 9, SIGXCPU = 24;

    readonly object probeLock = new();
    bool probed;

    /// <summary>The sandbox with the default options.</summary>
    public static PythonSandbox Default { get; } = new();

    /// <summary>Tool paths and the uid range.</summary>
    public SandboxOptions Options { get; } = options ?? SandboxOptions.Default;

    /// <summary>
    /// Runs <paramref name="code"/> against each of <paramref name="tests"/> in turn, each in fresh sandboxes under
    /// <paramref name="limits"/>. A stdin/stdout test feeds its input and compares stdout here (<see cref="TestCase.OutputMatches"/>).
    /// An assert test runs in a checker sandbox of its own against the program's values, which reach it only as plain
    /// data (numbers, strings, lists, …) or as references that equal nothing but themselves; the test passes only if it
    /// gets to its end. After a test that <see cref="SandboxLimits.EarlyStop"/> names, the rest are
    /// <see cref="TestOutcome.Skipped"/>.
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
        int sandboxes = 0;
        for (int i = 0; i < tests.Count; i++)
        {
            if (results.Count > 0 && limits.EarlyStop.StopsAfter(results[^1].Outcome))
            {
                results.Add(new TestResult(i, TestOutcome.Skipped, "", "", 0, 0, KillReason.None));
                continue;
            }
            var test = tests[i];
            results.Add(test.Assert is { } assert ? RunAssert(i, code, assert, lease, limits, ct) : RunStdio(i, code, test, lease.Uid, limits, ct));
            sandboxes += test.Assert != null ? 2 : 1;
            CheckNoneLeft(lease.Uid);
            CheckNoneLeft(lease.CheckerUid);
            ct.ThrowIfCancellationRequested();
        }
        return new SandboxResult(results, new ProcessAccounting(lease.Uid, lease.CheckerUid, sandboxes,
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
            try
            {
                run = RunProgram(probe, "", lease.Uid, SandboxLimits.Default, CancellationToken.None);
                CheckNoneLeft(lease.Uid);
            }
            catch (Exception e) when (e is not SandboxBreachException) { throw new SandboxUnavailableException($"the sandbox could not start: {e.Message}", e); }
            if (run.ExitCode != 0 || run.Stdout.Trim() != expected)
                throw new SandboxUnavailableException(
                    $"the sandbox probe failed (exit {run.ExitCode}, printed \"{run.Stdout.Trim()}\", expected \"{expected}\"): {Tail(run.Stderr, 2000)}");
            probed = true;
        }
    }

    /// <summary>One stdin/stdout test: the program reads the input, and its stdout is compared here, on the host.</summary>
    TestResult RunStdio(int index, string code, TestCase test, int uid, SandboxLimits limits, CancellationToken ct)
    {
        var run = RunProgram(code, test.Input!, uid, limits, ct);
        var outcome = run.Killed switch
        {
            KillReason.WallClock => TestOutcome.Timeout,
            KillReason.OutputLimit => TestOutcome.OutputLimit,
            _ when run.ExitCode == 0 => test.OutputMatches(run.Stdout) ? TestOutcome.Passed : TestOutcome.Failed,
            _ => ProgramFailure(run.ExitCode, run.Stderr),
        };
        return new TestResult(index, outcome, Head(run.Stdout, limits.ExcerptChars), Tail(run.Stderr, limits.ExcerptChars),
            run.WallSeconds, run.ExitCode, run.Killed);
    }

    /// <summary>
    /// One assert test, in two sandboxes: the solution runs the program and answers requests about its values; the
    /// checker, which alone holds the test, runs it against those answers and exits with the verdict. The host relays
    /// the requests and answers and reads only the checker's exit status (or the program's, when the program ended first).
    /// </summary>
    TestResult RunAssert(int index, string code, string assert, UidLease lease, SandboxLimits limits, CancellationToken ct)
    {
        var wake = new ManualResetEventSlim();   // not disposed: an Exited event may still set it after this method returns
        var clock = Stopwatch.StartNew();
        using var checker = SandboxProcess.Start(Options, new Dictionary<string, string> { ["test.py"] = assert },
            ["checker", limits.MaxOutputBytes.ToString()], lease.CheckerUid, limits, wake.Set);
        using var program = SandboxProcess.Start(Options, new Dictionary<string, string> { ["solution.py"] = code }, ["solution"], lease.Uid, limits, wake.Set);
        var output = new Capture(program.Stderr, limits.MaxOutputBytes, wake);   // the program's prints and traceback
        var report = new Capture(checker.Stderr, limits.MaxOutputBytes, wake);   // the failed test's traceback
        Task[] pipes = [output.Done, report.Done, Pipes.Relay(checker.Stdout, program.Stdin), Pipes.Relay(program.Stdout, checker.Stdin)];

        // Decided when the checker has ended, and when it ended because the program did, once the program has too.
        var killed = Await(() => checker.HasExited && (checker.ExitCode != Harness.Closed || program.HasExited),
            [output, report], limits.WallSeconds, clock, wake, ct);
        checker.Kill();
        program.Kill();
        double wall = clock.Elapsed.TotalSeconds;
        Task.WaitAll(pipes, TimeSpan.FromSeconds(5));   // the pipes close when the last sandbox process is gone

        bool programDecided = killed == KillReason.None && checker.ExitCode == Harness.Closed;
        var outcome = killed switch
        {
            KillReason.WallClock => TestOutcome.Timeout,
            KillReason.OutputLimit => TestOutcome.OutputLimit,
            _ when programDecided => program.ExitCode == 0 ? TestOutcome.Failed : ProgramFailure(program.ExitCode, output.Text),
            _ => checker.ExitCode switch
            {
                Harness.Passed => TestOutcome.Passed,
                Harness.Failed => TestOutcome.Failed,
                Harness.Memory => TestOutcome.MemoryLimit,
                Harness.TooLong => TestOutcome.OutputLimit,
                CompileErrorExitCode => TestOutcome.CompileError,
                128 + SIGXCPU or 128 + SIGKILL => TestOutcome.Timeout,
                _ => TestOutcome.RuntimeError,
            },
        };
        return new TestResult(index, outcome, "", Tail(output.Text + report.Text, limits.ExcerptChars), wall,
            programDecided ? program.ExitCode : checker.ExitCode, killed);
    }

    /// <summary>How a program that exited with a non-zero status ended.</summary>
    static TestOutcome ProgramFailure(int exitCode, string stderr)
    {
        // RLIMIT_CPU sends SIGXCPU at the soft limit and SIGKILL at the hard one (read as CPU time, not the OOM killer).
        if (exitCode is 128 + SIGXCPU or 128 + SIGKILL) return TestOutcome.Timeout;
        if (exitCode == CompileErrorExitCode) return TestOutcome.CompileError;
        return stderr.TrimEnd().Split('\n')[^1].StartsWith("MemoryError") ? TestOutcome.MemoryLimit : TestOutcome.RuntimeError;
    }

    /// <summary>One sandboxed run of a program on its own stdin and stdout: what it printed, how it ended, how long it took.</summary>
    sealed record Execution(string Stdout, string Stderr, int ExitCode, KillReason Killed, double WallSeconds);

    /// <summary>Runs <paramref name="code"/> in a sandbox with <paramref name="stdin"/> as input, killed at the wall-clock or output limit.</summary>
    Execution RunProgram(string code, string stdin, int uid, SandboxLimits limits, CancellationToken ct)
    {
        var wake = new ManualResetEventSlim();   // not disposed: the Exited event may still set it after this method returns
        var clock = Stopwatch.StartNew();
        using var program = SandboxProcess.Start(Options, new Dictionary<string, string> { ["solution.py"] = code }, ["program"], uid, limits, wake.Set);
        var stdout = new Capture(program.Stdout, limits.MaxOutputBytes, wake);
        var stderr = new Capture(program.Stderr, limits.MaxOutputBytes, wake);
        Task[] pipes = [stdout.Done, stderr.Done, Pipes.Feed(program.Stdin, stdin)];
        var killed = Await(() => program.HasExited, [stdout, stderr], limits.WallSeconds, clock, wake, ct);
        program.Kill();
        double wall = clock.Elapsed.TotalSeconds;
        Task.WaitAll(pipes, TimeSpan.FromSeconds(5));   // the pipes close when the last sandbox process is gone
        return new Execution(stdout.Text, stderr.Text, program.ExitCode, killed, wall);
    }

    /// <summary>
    /// Waits until <paramref name="decided"/> holds, an output overflows, <paramref name="ct"/> is cancelled or
    /// <paramref name="wallSeconds"/> have passed on <paramref name="clock"/>; returns why the sandboxes must be killed.
    /// <paramref name="wake"/> is set whenever any of these may have changed.
    /// </summary>
    static KillReason Await(Func<bool> decided, Capture[] outputs, double wallSeconds, Stopwatch clock, ManualResetEventSlim wake, CancellationToken ct)
    {
        using var cancel = ct.Register(wake.Set);
        while (true)
        {
            wake.Reset();
            if (outputs.Any(o => o.Overflow)) return KillReason.OutputLimit;
            if (ct.IsCancellationRequested || decided()) return KillReason.None;
            var left = TimeSpan.FromSeconds(wallSeconds) - clock.Elapsed;
            if (left <= TimeSpan.Zero) return KillReason.WallClock;
            wake.Wait(left);
        }
    }

    /// <summary>Checks that no process of <paramref name="uid"/> outlived its sandbox; any that did is killed, then reported.</summary>
    static void CheckNoneLeft(int uid)
    {
        int left = HostProcesses.KillLeftovers(uid, TimeSpan.FromSeconds(2));
        if (left > 0) throw new SandboxBreachException($"{left} process(es) of sandbox uid {uid} outlived their sandbox; they were killed");
    }

    static string Head(string text, int chars) => text.Length <= chars ? text : text[..chars];

    static string Tail(string text, int chars) => text.Length <= chars ? text : text[^chars..];
}
