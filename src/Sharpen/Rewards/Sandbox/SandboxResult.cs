namespace Sharpen.Rewards.Sandbox;

/// <summary>How one test (or, for <see cref="SandboxResult.Status"/>, a whole run) ended; docs/algorithms.md §5.2 statuses.</summary>
public enum TestOutcome
{
    /// <summary>The expected output was printed and the program exited with status 0, or the assert test got to its end.</summary>
    Passed,

    /// <summary>
    /// The program exited with 0 but printed something else; or the assert test raised AssertionError, a bare expression
    /// was false, or the program ended (with status 0) before the test was done.
    /// </summary>
    Failed,

    /// <summary>The program exited with another status, raised, or died of a signal that is not a limit; or the assert test raised something other than AssertionError.</summary>
    RuntimeError,

    /// <summary>The program (or the assert test's code) is not valid Python.</summary>
    CompileError,

    /// <summary>The wall-clock limit (the sandbox was killed) or the CPU-time limit (SIGXCPU/SIGKILL from RLIMIT_CPU) was reached.</summary>
    Timeout,

    /// <summary>The address-space limit was reached (Python raised MemoryError).</summary>
    MemoryLimit,

    /// <summary>The program printed more than <see cref="SandboxLimits.MaxOutputBytes"/> (or, in an assert test, gave back a value larger than that) and was killed.</summary>
    OutputLimit,

    /// <summary>Not run: an earlier test stopped the run (<see cref="SandboxLimits.EarlyStop"/>). Counts as not passed.</summary>
    Skipped,
}

/// <summary>Why the host killed a sandbox.</summary>
public enum KillReason
{
    /// <summary>Not killed: the program ended by itself (possibly by a resource-limit signal).</summary>
    None,

    /// <summary>Wall-clock limit reached.</summary>
    WallClock,

    /// <summary>Output limit reached.</summary>
    OutputLimit,
}

/// <summary>The result of one test.</summary>
/// <param name="Index">Position of the test in the list given to <see cref="PythonSandbox.Run"/>.</param>
/// <param name="Outcome">How the test ended.</param>
/// <param name="Stdout">
/// The start of the program's stdout (at most <see cref="SandboxLimits.ExcerptChars"/> characters); empty for an assert
/// test, whose program prints to its stderr.
/// </param>
/// <param name="Stderr">
/// The end (at most <see cref="SandboxLimits.ExcerptChars"/> characters) of the program's stderr: the traceback; for an
/// assert test, the program's prints and traceback followed by the checker's report (the failed test's traceback).
/// </param>
/// <param name="WallSeconds">Seconds from starting the sandbox(es) to their end, including their own start-up (~0.05 s); 0 when skipped.</param>
/// <param name="ExitCode">
/// The exit status of the process whose end decided the outcome, or 128 + signal when a signal ended it (bubblewrap's
/// convention): the program's for a stdin/stdout test; for an assert test the checker's (0 passed, 1 failed, 2 raised,
/// 3 MemoryError, 4 a value over the output limit, 97 the test does not compile), or the program's when it ended
/// before the test was done.
/// </param>
/// <param name="Killed">Whether and why the host killed the sandbox.</param>
public sealed record TestResult(int Index, TestOutcome Outcome, string Stdout, string Stderr, double WallSeconds, int ExitCode, KillReason Killed)
{
    /// <summary>Whether the test passed.</summary>
    public bool Passed => Outcome == TestOutcome.Passed;

    /// <summary>The signal that ended the program (exit status above 128), else null.</summary>
    public int? Signal => ExitCode > 128 ? ExitCode - 128 : null;
}

/// <summary>What the sandbox spent on one run; every sandbox was gone (no process of <see cref="Uid"/> or <see cref="CheckerUid"/> left) when it was returned.</summary>
/// <param name="Uid">The user id the programs ran as.</param>
/// <param name="CheckerUid">The user id the checkers of assert tests ran as.</param>
/// <param name="Sandboxes">How many sandboxes were started (one per stdin/stdout test, two per assert test, none per skipped test).</param>
/// <param name="KilledByWallClock">How many were killed at the wall-clock limit.</param>
/// <param name="KilledByOutputLimit">How many were killed for printing too much.</param>
/// <param name="WallSeconds">Total seconds spent, from the first start to the last clean-up.</param>
public sealed record ProcessAccounting(int Uid, int CheckerUid, int Sandboxes, int KilledByWallClock, int KilledByOutputLimit, double WallSeconds);

/// <summary>The result of running a program against its tests.</summary>
/// <param name="Tests">One result per test, in order.</param>
/// <param name="Accounting">Processes and time spent.</param>
public sealed record SandboxResult(IReadOnlyList<TestResult> Tests, ProcessAccounting Accounting)
{
    /// <summary>
    /// The run's status: <see cref="TestOutcome.Passed"/> when every test passed, else the first outcome present in the
    /// order CompileError, Timeout, MemoryLimit, OutputLimit, RuntimeError, Failed (a skipped test always follows one of these).
    /// </summary>
    public TestOutcome Status => Tests.All(t => t.Passed) ? TestOutcome.Passed
        : StatusOrder.First(s => Tests.Any(t => t.Outcome == s));

    /// <summary>Per test, whether it passed (the input of <see cref="CodeRewards"/>).</summary>
    public IReadOnlyList<bool> Passed => Tests.Select(t => t.Passed).ToArray();

    static readonly TestOutcome[] StatusOrder =
        [TestOutcome.CompileError, TestOutcome.Timeout, TestOutcome.MemoryLimit, TestOutcome.OutputLimit, TestOutcome.RuntimeError, TestOutcome.Failed, TestOutcome.Skipped];
}
