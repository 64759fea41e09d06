namespace Sharpen.Rewards.Sandbox;

/// <summary>When <see cref="PythonSandbox.Run"/> stops running a program's tests early; the tests left are <see cref="TestOutcome.Skipped"/>.</summary>
public enum EarlyStop
{
    /// <summary>Run every test.</summary>
    Never,

    /// <summary>Stop after the first test that times out: a program stuck in a loop costs one wall-clock limit, not one per test.</summary>
    FirstTimeout,

    /// <summary>Stop after the first test that does not pass (enough for <see cref="CodeTestsMode.AllPassed"/>, whose reward it leaves unchanged).</summary>
    FirstFailure,
}

/// <summary>
/// Resource limits for one test run of <see cref="PythonSandbox"/>. Each test runs in its own sandbox (an assert test in
/// two), so every limit is per test and, where it says so, per process. Defaults follow docs/algorithms.md §1/§5.2 (5 s, 1024 MB).
/// </summary>
public sealed record SandboxLimits
{
    /// <summary>The defaults.</summary>
    public static SandboxLimits Default { get; } = new();

    /// <summary>Wall-clock limit in seconds; past it the whole sandbox is killed (default 5, the data's <c>timeout_s</c>).</summary>
    public double WallSeconds { get; init; } = 5;

    /// <summary>CPU-time limit in whole seconds per process (RLIMIT_CPU; SIGXCPU, then SIGKILL a second later). Null: ⌈<see cref="WallSeconds"/>⌉.</summary>
    public int? CpuSeconds { get; init; }

    /// <summary>
    /// Address-space limit in bytes per process (RLIMIT_AS; default 1 GiB, the data's <c>memory_mb</c>). It bounds each
    /// process, not the sandbox: a program that forks may use up to <see cref="MaxProcesses"/> times this, plus /tmp.
    /// </summary>
    public long MemoryBytes { get; init; } = 1L << 30;

    /// <summary>Most processes and threads the sandbox user may have at once (RLIMIT_NPROC; default 32). Stops fork bombs.</summary>
    public int MaxProcesses { get; init; } = 32;

    /// <summary>Largest file the program may write, in bytes (RLIMIT_FSIZE; default 16 MiB).</summary>
    public long MaxFileBytes { get; init; } = 16L << 20;

    /// <summary>Size in bytes of the sandbox's only writable place, a private tmpfs at /tmp (default 64 MiB).</summary>
    public long TmpBytes { get; init; } = 64L << 20;

    /// <summary>Most open file descriptors per process (RLIMIT_NOFILE; default 64).</summary>
    public int MaxOpenFiles { get; init; } = 64;

    /// <summary>Most bytes kept from stdout and from stderr each; a program that prints more is killed (default 1 MiB).</summary>
    public int MaxOutputBytes { get; init; } = 1 << 20;

    /// <summary>Characters of stdout (its start) and stderr (its end) kept in each <see cref="TestResult"/> (default 1000).</summary>
    public int ExcerptChars { get; init; } = 1000;

    /// <summary>
    /// When to stop running tests early (default <see cref="EarlyStop.FirstTimeout"/>: a timeout skips the tests after
    /// it, which then count as not passed, so a fraction-passed reward sees them failed rather than waiting for each).
    /// </summary>
    public EarlyStop EarlyStop { get; init; } = EarlyStop.FirstTimeout;

    internal int EffectiveCpuSeconds => CpuSeconds ?? (int)Math.Ceiling(WallSeconds);

    internal void Validate()
    {
        if (!(WallSeconds > 0)) throw new ArgumentException($"WallSeconds must be positive, not {WallSeconds}");
        if (EffectiveCpuSeconds < 1) throw new ArgumentException($"CpuSeconds must be at least 1, not {CpuSeconds}");
        if (MemoryBytes < 32L << 20) throw new ArgumentException($"MemoryBytes must be at least 32 MiB (Python needs it to start), not {MemoryBytes}");
        if (MaxProcesses < 1) throw new ArgumentException($"MaxProcesses must be at least 1, not {MaxProcesses}");
        if (MaxFileBytes < 0 || TmpBytes < 4096 || MaxOpenFiles < 8 || MaxOutputBytes < 1 || ExcerptChars < 0)
            throw new ArgumentException("MaxFileBytes ≥ 0, TmpBytes ≥ 4096, MaxOpenFiles ≥ 8, MaxOutputBytes ≥ 1 and ExcerptChars ≥ 0 are required");
    }
}

static class EarlyStopExtensions
{
    /// <summary>Whether the tests after one that ended with <paramref name="outcome"/> are skipped.</summary>
    public static bool StopsAfter(this EarlyStop stop, TestOutcome outcome) => outcome == TestOutcome.Skipped || stop switch
    {
        EarlyStop.FirstTimeout => outcome == TestOutcome.Timeout,
        EarlyStop.FirstFailure => outcome != TestOutcome.Passed,
        _ => false,
    };
}
