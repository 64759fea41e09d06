using System.Net;
using System.Net.Sockets;
using Sharpen.Data;
using Sharpen.Rewards;
using Sharpen.Rewards.Sandbox;

namespace Sharpen.Tests;

/// <summary>
/// The Python code sandbox: verdicts on correct and wrong programs, every limit proved with numbers (wall clock, CPU,
/// processes, memory, file size, tmpfs size, output, network, writes outside), no process left behind, and refusal
/// to run without its isolation tool. Needs root and bubblewrap (./sharpen installs it).
/// </summary>
[Collection(Collection)]
public class SandboxTests
{
    /// <summary>The sandbox test classes run one after another: their timings and their checks of leftover folders assume no other sandbox runs.</summary>
    public const string Collection = "sandbox";

    const string Adder = """
        import sys

        def add(a, b):
            return a + b

        if __name__ == '__main__':
            data = sys.stdin.read().split()
            if data:
                print(add(int(data[0]), int(data[1])))
        """;

    static readonly PythonSandbox Sandbox = PythonSandbox.Default;

    /// <summary>Test limits: 256 MiB address space, 16 processes; a wall clock of 10 s that only the timeout tests shorten (CI machines can be busy).</summary>
    static readonly SandboxLimits Quick = new() { WallSeconds = 10, MemoryBytes = 256L << 20, MaxProcesses = 16 };

    static SandboxResult Run(string code, SandboxLimits? limits = null, params TestCase[] tests) =>
        Sandbox.Run(code, tests.Length > 0 ? tests : [TestCase.Stdio("", "")], limits ?? Quick);

    /// <summary>Processes on the host (zombies included) whose real uid is <paramref name="uid"/>, read from /proc by the test itself.</summary>
    static int ProcessCount(int uid)
    {
        int count = 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)))
        {
            string status;
            try { status = File.ReadAllText(Path.Combine(dir, "status")); } catch (IOException) { continue; }
            if (status.Split('\n').First(l => l.StartsWith("Uid:")).Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == uid.ToString()) count++;
        }
        return count;
    }

    [Fact]
    public void CorrectSolution_PassesStdioAndAssertTests_AndLeavesNoFolderOrProcess()
    {
        var before = Directory.GetDirectories(Path.GetTempPath(), "sharpen-sandbox-*").ToHashSet();
        var result = Run(Adder, null,
            TestCase.Stdio("2 3\n", "5\n"),
            TestCase.Stdio("10 -4", "6   \n\n"),         // trailing spaces and blank lines are not compared
            TestCase.Assertion("assert add(2, 2) == 4"));

        Assert.Equal([TestOutcome.Passed, TestOutcome.Passed, TestOutcome.Passed], result.Tests.Select(t => t.Outcome));
        Assert.Equal(TestOutcome.Passed, result.Status);
        Assert.Equal(("5\n", ""), (result.Tests[0].Stdout, result.Tests[2].Stdout));   // an assert test's program prints to stderr
        Assert.Equal(4, result.Accounting.Sandboxes);                                    // an assert test takes two: program and checker
        Assert.InRange(result.Accounting.Uid, Sandbox.Options.UidBase, Sandbox.Options.UidBase + Sandbox.Options.UidSlots - 1);
        Assert.Equal(result.Accounting.Uid + Sandbox.Options.UidSlots, result.Accounting.CheckerUid);
        Assert.Equal((0, 0), (ProcessCount(result.Accounting.Uid), ProcessCount(result.Accounting.CheckerUid)));

        // Program and checker each count their own processes (two uids): one process allowed is enough for an assert test.
        var alone = Run(Adder, Quick with { MaxProcesses = 1 }, TestCase.Assertion("assert add(2, 3) == 5"));
        Assert.Equal(TestOutcome.Passed, alone.Status);
        Assert.Subset(before, Directory.GetDirectories(Path.GetTempPath(), "sharpen-sandbox-*").ToHashSet());   // private folders removed
    }

    [Fact]
    public void WrongSolution_FailsExactlyTheTestsItGetsWrong()
    {
        var multiplier = Adder.Replace("return a + b", "return a * b");
        var result = Run(multiplier, null,
            TestCase.Stdio("2 2", "4"),                  // 2·2 = 2+2
            TestCase.Stdio("2 3", "5"),                  // prints 6
            TestCase.Assertion("assert add(0, 0) == 0"),
            TestCase.Assertion("assert add(1, 5) == 6"));

        Assert.Equal([TestOutcome.Passed, TestOutcome.Failed, TestOutcome.Passed, TestOutcome.Failed], result.Tests.Select(t => t.Outcome));
        Assert.Equal("6\n", result.Tests[1].Stdout);
        Assert.Contains("AssertionError", result.Tests[3].Stderr);
        Assert.Equal(1, result.Tests[3].ExitCode);
        Assert.Equal(TestOutcome.Failed, result.Status);
        Assert.Equal(0.5, CodeRewards.FractionPassed(result.Passed));
    }

    [Fact]
    public void AssertTests_CannotBeSkippedByExitingEarly_AndBareExpressionsAreChecked()
    {
        var result = Run(Adder, null,
            TestCase.Assertion("add(2, 2) == 4"),                 // a bare expression, true
            TestCase.Assertion("add(2, 2) == 5"),                 // a bare expression, false
            TestCase.Assertion("def check(f):\n    assert f(1, 1) == 2\ncheck(add)"));
        Assert.Equal([TestOutcome.Passed, TestOutcome.Failed, TestOutcome.Passed], result.Tests.Select(t => t.Outcome));

        var exitsFirst = Run("import sys\ndef add(a, b):\n    return a * b\nsys.exit(0)", null, TestCase.Assertion("assert add(1, 5) == 6"));
        Assert.Equal(TestOutcome.Failed, exitsFirst.Status);        // the test still ran after exit(0)
        var killsItself = Run("import os\nprint('bye', flush=True)\nos._exit(0)", null, TestCase.Assertion("assert False"));
        Assert.Equal((TestOutcome.Failed, 0, ""), (killsItself.Status, killsItself.Tests[0].ExitCode, killsItself.Tests[0].Stdout));
        Assert.Equal("bye\nchecker: the solution ended\n", killsItself.Tests[0].Stderr);   // its print, then the checker's report
    }

    [Fact]
    public void OutputComparison_TrimsTrailingWhitespacePerLineOnly()
    {
        var test = TestCase.Stdio("", "1 2\n3");
        Assert.True(test.OutputMatches("1 2  \r\n3\t\n\n"));
        Assert.False(test.OutputMatches("1  2\n3"));      // inner whitespace counts
        Assert.False(test.OutputMatches(" 1 2\n3"));      // leading whitespace counts
        Assert.False(test.OutputMatches("1 2\n\n3"));     // inner blank lines count
    }

    [Fact]
    public void CompileAndRuntimeErrors_AreToldApart_AndExitStillWorksWithoutSite()
    {
        var syntax = Run("def f(:\n    pass", null, TestCase.Assertion("assert True"));
        Assert.Equal(TestOutcome.CompileError, syntax.Status);
        Assert.Equal(PythonSandbox.CompileErrorExitCode, syntax.Tests[0].ExitCode);
        Assert.Contains("SyntaxError", syntax.Tests[0].Stderr);

        var raises = Run("raise ValueError('bad input')", null, TestCase.Stdio("", ""));
        Assert.Equal(TestOutcome.RuntimeError, raises.Status);
        Assert.EndsWith("ValueError: bad input\n", raises.Tests[0].Stderr);

        var exits = Run("print(7)\nexit(0)\nprint(8)", null, TestCase.Stdio("", "7"));
        Assert.Equal(TestOutcome.Passed, exits.Status);
        var exitsNonZero = Run("print(7)\nquit(3)", null, TestCase.Stdio("", "7"));
        Assert.Equal((TestOutcome.RuntimeError, 3), (exitsNonZero.Status, exitsNonZero.Tests[0].ExitCode));
    }

    [Fact]
    public void InfiniteLoop_IsKilledAtTheWallLimit()
    {
        var limits = Quick with { WallSeconds = 1, CpuSeconds = 30 };   // the wall clock, not RLIMIT_CPU, must stop it
        var result = Run("while True:\n    pass", limits);

        var test = Assert.Single(result.Tests);
        Assert.Equal((TestOutcome.Timeout, KillReason.WallClock), (test.Outcome, test.Killed));
        Assert.InRange(test.WallSeconds, 1.0, 1.0 + 4.0);                            // far below the 30 s CPU limit, with slack for a loaded machine
        Assert.Equal(1, result.Accounting.KilledByWallClock);
        Assert.Equal(0, ProcessCount(result.Accounting.Uid));
    }

    [Fact]
    public void InfiniteLoop_CostsOneWallLimit_NotOnePerTest_ByDefault()
    {
        // Six tests of each form, 1 s each: run to the end they would cost ≥ 6 s; the first timeout skips the rest.
        var limits = Quick with { WallSeconds = 1, CpuSeconds = 30 };
        var stdio = Run("while True:\n    pass", limits, Enumerable.Range(0, 6).Select(i => TestCase.Stdio($"{i}", $"{i}")).ToArray());
        var asserts = Run("def add(a, b):\n    while True:\n        pass", limits,
            Enumerable.Range(0, 6).Select(i => TestCase.Assertion($"assert add({i}, 1) == {i + 1}")).ToArray());

        foreach (var result in new[] { stdio, asserts })
        {
            Assert.Equal([TestOutcome.Timeout, .. Enumerable.Repeat(TestOutcome.Skipped, 5)], result.Tests.Select(t => t.Outcome));
            Assert.Equal(TestOutcome.Timeout, result.Status);
            Assert.Equal((1, 1), (result.Accounting.KilledByWallClock, result.Tests.Count(t => t.WallSeconds > 0)));
            Assert.InRange(result.Accounting.WallSeconds, 1.0, 1.0 + 3.0);   // one wall limit plus start-up (slack for a busy machine), below 6 × 1 s
        }
        Assert.Equal((1, 2), (stdio.Accounting.Sandboxes, asserts.Accounting.Sandboxes));
    }

    [Fact]
    public void EarlyStop_NeverRunsEveryTest_AndFirstFailureStopsAtAWrongAnswer()
    {
        var loops = Run("while True:\n    pass", Quick with { WallSeconds = 1, CpuSeconds = 30, EarlyStop = EarlyStop.Never },
            TestCase.Stdio("", ""), TestCase.Stdio("", ""));
        Assert.Equal([TestOutcome.Timeout, TestOutcome.Timeout], loops.Tests.Select(t => t.Outcome));
        Assert.True(loops.Accounting.WallSeconds >= 2.0, $"{loops.Accounting.WallSeconds:F2} s");

        var multiplier = Adder.Replace("return a + b", "return a * b");
        var stops = Run(multiplier, Quick with { EarlyStop = EarlyStop.FirstFailure },
            TestCase.Stdio("2 2", "4"), TestCase.Assertion("assert add(1, 5) == 6"), TestCase.Stdio("2 2", "4"));
        Assert.Equal([TestOutcome.Passed, TestOutcome.Failed, TestOutcome.Skipped], stops.Tests.Select(t => t.Outcome));
        Assert.Equal((TestOutcome.Failed, 3), (stops.Status, stops.Accounting.Sandboxes));
        Assert.Equal(1.0 / 3, CodeRewards.FractionPassed(stops.Passed), 12);   // a skipped test counts as not passed
    }

    [Fact]
    public void CpuBoundLoop_IsStoppedByRlimitCpu_LongBeforeTheWallLimit()
    {
        var limits = Quick with { WallSeconds = 30, CpuSeconds = 1 };
        var result = Run("while True:\n    pass", limits);

        var test = Assert.Single(result.Tests);
        Assert.Equal((TestOutcome.Timeout, KillReason.None, 24), (test.Outcome, test.Killed, test.Signal));   // SIGXCPU
        Assert.InRange(test.WallSeconds, 1.0, 30);                                   // ≥ 1 s of CPU; not the wall clock (Killed = None)
    }

    [Fact]
    public void ProcessLimit_StopsForkingAtMaxProcesses_AndNoChildOutlivesTheSandbox()
    {
        // Children sleep for a minute; each fork counts until the first failure.
        const string forker = """
            import os, time
            n = 0
            try:
                while True:
                    if os.fork() == 0:
                        time.sleep(60)
                        os._exit(0)
                    n += 1
            except OSError as e:
                print(n, e.errno)
            """;
        var result = Run(forker, Quick with { MaxProcesses = 8 }, TestCase.Stdio("", "7 11"));   // 1 parent + 7 children; EAGAIN

        Assert.Equal(TestOutcome.Passed, result.Status);
        Assert.InRange(result.Tests[0].WallSeconds, 0, 5);   // the children, asleep for 60 s, died with the sandbox
        Assert.Equal(0, ProcessCount(result.Accounting.Uid));
    }

    [Fact]
    public void ForkBomb_IsContainedAndKilled_LeavingNoProcess()
    {
        const string bomb = """
            import os
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
            """;
        var result = Run(bomb, Quick with { WallSeconds = 1, MaxProcesses = 16 });

        Assert.Equal((TestOutcome.Timeout, KillReason.WallClock), (result.Status, result.Tests[0].Killed));
        Assert.InRange(result.Tests[0].WallSeconds, 1.0, 1.0 + 1.5);
        Assert.Equal(0, ProcessCount(result.Accounting.Uid));
    }

    [Fact]
    public void MemoryLimit_StopsA10GBAllocation_ButAllowsOneBelowIt()
    {
        var tenGb = Run("x = bytearray(10 * 1024**3)\nprint(len(x))", Quick, TestCase.Stdio("", "10737418240"));
        Assert.Equal(TestOutcome.MemoryLimit, tenGb.Status);
        Assert.EndsWith("MemoryError\n", tenGb.Tests[0].Stderr);

        var growing = Run("chunks = []\nwhile True:\n    chunks.append(bytearray(10**7))", Quick with { MemoryBytes = 128L << 20 });
        Assert.Equal(TestOutcome.MemoryLimit, growing.Status);

        var hundredMb = Run("x = bytearray(100 * 1024**2)\nprint(len(x))", Quick, TestCase.Stdio("", "104857600"));   // < 256 MiB
        Assert.Equal(TestOutcome.Passed, hundredMb.Status);
    }

    [Fact]
    public void Network_ALocalListenerIsUnreachableFromInside()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var code = $$"""
            import socket
            print([name for _, name in socket.if_nameindex()])
            try:
                socket.create_connection(('127.0.0.1', {{port}}), timeout=2)
                print('connected')
            except OSError as e:
                print(e.errno)
            """;
        var result = Run(code);

        var lines = result.Tests[0].Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("['lo']", lines[0]);
        Assert.Contains(lines[1], new[] { "111", "101" });    // ECONNREFUSED or ENETUNREACH, never "connected"
        Assert.False(listener.Pending());
    }

    [Fact]
    public void Seccomp_RefusesNewUserNamespaces_ButThreadsAndSubprocessesWork()
    {
        const string code = """
            import subprocess, threading
            t = threading.Thread(target=lambda: print('thread ok'))
            t.start(); t.join()
            r = subprocess.run(['/usr/bin/unshare', '--user', '--map-root-user', '/usr/bin/true'], capture_output=True, text=True)
            print(r.returncode, 'Operation not permitted' in r.stderr)
            """;
        var result = Run(code, null, TestCase.Stdio("", "thread ok\n1 True"));

        Assert.Equal(TestOutcome.Passed, result.Status);
    }

    [Fact]
    public void Writes_OutsideThePrivateTmpAreRefused_AndNothingAppearsOnTheHost()
    {
        var hostDir = Directory.CreateTempSubdirectory("sandbox-test-").FullName;
        try
        {
            string id = Guid.NewGuid().ToString("N");
            string[] targets =
            [
                Path.Combine(hostDir, "escaped.txt"),                 // the test's own folder (host /tmp)
                Path.Combine(AppContext.BaseDirectory, $"escaped-{id}.txt"),   // the test binaries' folder
                $"/usr/escaped-{id}.txt",                             // visible but read-only
                $"/escaped-{id}.txt",                                 // the sandbox's root, owned by root
                $"/tmp/escaped-{id}.txt",                             // allowed: the private tmpfs, not the host's /tmp
            ];
            var code = "import sys\nfor path in sys.stdin.read().split():\n    try:\n        open(path, 'w').write('x')\n        print('ok')\n"
                       + "    except OSError as e:\n        print(e.errno)";
            var result = Run(code, null, TestCase.Stdio(string.Join("\n", targets), "2\n2\n30\n13\nok"));

            Assert.Equal(TestOutcome.Passed, result.Status);   // ENOENT, ENOENT, EROFS, EACCES, ok
            Assert.All(targets, t => Assert.False(File.Exists(t), t));
        }
        finally { Directory.Delete(hostDir, recursive: true); }
    }

    [Fact]
    public void FileSizeAndTmpSizeLimits_StopLargeWrites()
    {
        var bigFile = Run("try:\n    open('/tmp/a', 'wb').write(b'x' * 2_000_000)\nexcept OSError as e:\n    print(e.errno)",
            Quick with { MaxFileBytes = 1 << 20 }, TestCase.Stdio("", "27"));      // EFBIG past 1 MiB
        Assert.Equal(TestOutcome.Passed, bigFile.Status);

        const string manyFiles = """
            n = 0
            try:
                for i in range(5):
                    open(f'/tmp/f{i}', 'wb').write(b'x' * 2**20)
                    n += 1
            except OSError as e:
                print(n, e.errno)
            """;
        var full = Run(manyFiles, Quick with { TmpBytes = 5L << 19 }, TestCase.Stdio("", "2 28"));   // 2.5 MiB tmpfs: ENOSPC on the third
        Assert.Equal(TestOutcome.Passed, full.Status);
    }

    [Fact]
    public void ConcurrentRuns_NeverShareAUid()
    {
        // One uid for the whole machine: two concurrent runs of 0.5 s must take turns (≥ 1 s in all), both as that uid.
        var locks = Directory.CreateTempSubdirectory("sandbox-locks-").FullName;
        try
        {
            var single = new PythonSandbox(new SandboxOptions { UidBase = Sandbox.Options.UidBase + 1000, UidSlots = 1, LockDirectory = locks });
            single.EnsureAvailable();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            var results = Enumerable.Range(0, 2).AsParallel().WithDegreeOfParallelism(2)
                .Select(_ => single.Run("import os, time\ntime.sleep(0.5)\nprint(os.getuid())", [TestCase.Stdio("", "")], Quick)).ToArray();

            Assert.True(clock.Elapsed.TotalSeconds >= 1.0, $"{clock.Elapsed.TotalSeconds:F2} s");
            Assert.All(results, r => Assert.Equal($"{single.Options.UidBase}\n", r.Tests[0].Stdout));
        }
        finally { Directory.Delete(locks, recursive: true); }
    }

    [Fact]
    public void OutputFlood_IsKilledAtTheOutputLimit()
    {
        var result = Run("while True:\n    print('x' * 1000)", Quick with { MaxOutputBytes = 64 << 10, ExcerptChars = 100 });

        var test = Assert.Single(result.Tests);
        Assert.Equal((TestOutcome.OutputLimit, KillReason.OutputLimit), (test.Outcome, test.Killed));
        Assert.Equal(100, test.Stdout.Length);
        Assert.Equal(0, ProcessCount(result.Accounting.Uid));
    }

    [Fact]
    public void Cancellation_KillsTheRunningSandbox()
    {
        var locks = Directory.CreateTempSubdirectory("sandbox-locks-").FullName;
        try
        {
            var single = new PythonSandbox(new SandboxOptions { UidBase = Sandbox.Options.UidBase + 2000, UidSlots = 1, LockDirectory = locks });
            single.EnsureAvailable();
            int uid = single.Options.UidBase;
            using var cts = new CancellationTokenSource();
            var run = Task.Run(() => single.Run("while True:\n    pass", [TestCase.Stdio("", "")], Quick with { WallSeconds = 20, CpuSeconds = 20 }, cts.Token));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (ProcessCount(uid) == 0 && clock.Elapsed.TotalSeconds < 10) Thread.Sleep(10);
            Assert.Equal(1, ProcessCount(uid));   // the interpreter is seen while it runs

            cts.Cancel();
            clock.Restart();
            Assert.ThrowsAny<OperationCanceledException>(() => run.GetAwaiter().GetResult());
            Assert.InRange(clock.Elapsed.TotalSeconds, 0, 3);
            Assert.Equal(0, ProcessCount(uid));
        }
        finally { Directory.Delete(locks, recursive: true); }
    }

    [Theory]
    [InlineData("bwrap")]
    [InlineData("setpriv")]
    public void MissingIsolationTool_RefusesToRun_AndRunsNothing(string tool)
    {
        var marker = Path.Combine(Path.GetTempPath(), $"sandbox-ran-{Guid.NewGuid():N}");
        var options = tool == "bwrap"
            ? new SandboxOptions { BwrapPath = "/nonexistent/bwrap" }
            : new SandboxOptions { SetprivPath = "/usr/nonexistent/setpriv" };
        var sandbox = new PythonSandbox(options);

        var e = Assert.Throws<SandboxUnavailableException>(() =>
            sandbox.Run($"open('{marker}', 'w').write('ran')", [TestCase.Stdio("", "")], Quick));
        Assert.Contains(tool == "bwrap" ? "/nonexistent/bwrap" : "/usr/nonexistent/setpriv", e.Message);
        Assert.Contains(tool == "bwrap" ? "bubblewrap" : "util-linux", e.Message);
        Assert.False(File.Exists(marker));
    }

    [Fact]
    public void CodeTestsReward_ScoresTheLastFencedProgram_AndIsUnscorableWithoutTests()
    {
        CodeTest[] tests = [new("2 2", "4", null), new("2 3", "5", null), new(null, null, "assert add(1, 5) == 6")];
        var completion = "First try:\n```python\nprint(0)\n```\nFixed, multiplying by mistake:\n```python\n"
                         + Adder.Replace("return a + b", "return a * b") + "\n```\n";
        var meta = new Dictionary<string, object?> { [RewardMeta.Tests] = tests, ["language"] = "python", ["timeout_s"] = 5.0 };

        var fraction = new CodeTestsReward().Score(new RewardInput("p", completion, meta));
        Assert.Equal((1.0 / 3, RewardStatus.Scored), (fraction.Value!.Value, fraction.Status));   // only 2·2 = 4 passes
        Assert.Equal((1.0 / 3, 0.0, 0.0), (fraction.Details["pass_fraction"], fraction.Details["all_passed"], fraction.Details["compile_error"]));

        // VeRPO, α = 0.5, pass rates 0.25, 0.5, 1 → weights 0.75, 0.5, 0: R = 0.5·0.75/1.25 + 0.5·0.
        meta[CodeTestsReward.TestPassRates] = new[] { 0.25, 0.5, 1.0 };
        var verpo = new CodeTestsReward(CodeTestsMode.VeRPO, alpha: 0.5).Score(new RewardInput("p", completion, meta));
        Assert.Equal(0.5 * 0.75 / 1.25, verpo.Value!.Value, 12);

        Assert.Equal(RewardStatus.Unscorable, new CodeTestsReward().Score(new RewardInput("p", completion)).Status);
        meta["language"] = "cpp";
        Assert.Null(new CodeTestsReward().Score(new RewardInput("p", completion, meta)).Value);
    }

    [Fact]
    public void DenseRewards_MatchHandValues()
    {
        bool[] passed = [true, false, true, true];
        Assert.Equal(0.75, CodeRewards.FractionPassed(passed));
        Assert.Equal(0.0, CodeRewards.AllPassed(passed));

        // Pass rates 0.9, 0.5, 0.2, 0 → weights 0.1, 0.5, 0.8, 1; passed weight 0.1 + 0.8 + 1 = 1.9 of 2.4.
        var weights = CodeRewards.DifficultyWeights([0.9, 0.5, 0.2, 0.0]);
        Assert.Equal([0.1, 0.5, 0.8, 1.0], weights.Select(w => Math.Round(w, 12)));
        Assert.Equal(1.9 / 2.4, CodeRewards.DifficultyWeighted(passed, weights), 12);
        Assert.Equal(0.5 * 1.9 / 2.4 + 0.5 * 0, CodeRewards.VeRPO(passed, weights, alpha: 0.5), 12);
        Assert.Equal(1.0, CodeRewards.VeRPO([true, true], [0.3, 0.7], alpha: 0.25), 12);

        // Failing only the hardest test costs more than failing only the easiest.
        Assert.Equal(1.4 / 2.4, CodeRewards.DifficultyWeighted([true, true, true, false], weights), 12);
        Assert.Equal(2.3 / 2.4, CodeRewards.DifficultyWeighted([false, true, true, true], weights), 12);
        Assert.Equal(0.75, CodeRewards.DifficultyWeighted(passed, [0, 0, 0, 0]));    // all trivial → fraction passed
        Assert.Throws<ArgumentException>(() => CodeRewards.FractionPassed([]));
    }
}
