using System.Text.RegularExpressions;
using Sharpen.Data;

namespace Sharpen.Rewards.Sandbox;

/// <summary>Which reward <see cref="CodeTestsReward"/> gives from the per-test results (<see cref="CodeRewards"/>).</summary>
public enum CodeTestsMode
{
    /// <summary>1 when every test passes, else 0.</summary>
    AllPassed,

    /// <summary>The fraction of tests passed.</summary>
    FractionPassed,

    /// <summary>VeRPO: α·difficulty-weighted fraction + (1 − α)·all passed, weights 1 − pass rate (meta "test_pass_rates"; uniform without it).</summary>
    VeRPO,
}

/// <summary>
/// The <c>code_tests</c> reward (docs/algorithms.md §5.2 "Code"): runs the completion's Python program against the sample's unit
/// tests in <see cref="PythonSandbox"/>. The program is the last fenced code block (```python, ```py or ```) of the
/// completion, else the whole completion. Meta: "tests" (required: a list of <see cref="CodeTest"/> or
/// <see cref="TestCase"/>), "language" (only "python" is scored), "timeout_s" and "memory_mb" (override the limits),
/// "test_pass_rates" (VeRPO). No tests or another language → unscorable (null). Details: "pass_fraction", "all_passed"
/// and, 0/1 each, "compile_error", "runtime_error", "timeout", "memory_limit", "output_limit", "skipped" (any test ended
/// so; tests are skipped after the first timeout by default, <see cref="SandboxLimits.EarlyStop"/>, and count as failed).
/// A sandbox that cannot run makes the constructor throw; one that breaks during a run makes <see cref="Score"/> throw
/// (the sample is then an error, never a reward).
/// </summary>
public sealed class CodeTestsReward : IRewardFunction
{
    /// <summary>Meta key of the per-test pass rates p̂_j ∈ [0, 1] of a reference population (VeRPO weights 1 − p̂_j).</summary>
    public const string TestPassRates = "test_pass_rates";

    static readonly Regex Fence = new(@"```(?:python3?|py)?[ \t]*\r?\n(.*?)```", RegexOptions.Singleline | RegexOptions.CultureInvariant);

    readonly CodeTestsMode mode;
    readonly double alpha;
    readonly SandboxLimits limits;
    readonly PythonSandbox sandbox;

    /// <summary>A code-tests reward.</summary>
    /// <param name="mode">How per-test results become a reward (default <see cref="CodeTestsMode.FractionPassed"/>).</param>
    /// <param name="alpha">VeRPO's α ∈ [0, 1], the weight of the dense part (default 1).</param>
    /// <param name="limits">Per-test limits and early stop (default <see cref="SandboxLimits.Default"/>); meta timeout_s/memory_mb override the limits.</param>
    /// <param name="sandbox">The sandbox (default <see cref="PythonSandbox.Default"/>).</param>
    /// <exception cref="SandboxUnavailableException">The sandbox cannot run on this machine.</exception>
    public CodeTestsReward(CodeTestsMode mode = CodeTestsMode.FractionPassed, double alpha = 1, SandboxLimits? limits = null, PythonSandbox? sandbox = null)
    {
        if (!(alpha >= 0 && alpha <= 1)) throw new ArgumentException($"alpha must lie in [0, 1], not {alpha}");
        (this.mode, this.alpha, this.limits, this.sandbox) = (mode, alpha, limits ?? SandboxLimits.Default, sandbox ?? PythonSandbox.Default);
        this.sandbox.EnsureAvailable();
    }

    /// <inheritdoc/>
    public string Name => "code_tests";

    /// <inheritdoc/>
    public RewardResult Score(RewardInput input)
    {
        var tests = Tests(input);
        var language = input.MetaText("language");
        if (tests is not { Count: > 0 } || language != null && !language.StartsWith("python", StringComparison.OrdinalIgnoreCase))
            return RewardResult.Unscorable();

        var runLimits = limits with
        {
            WallSeconds = double.TryParse(input.MetaText("timeout_s"), System.Globalization.CultureInfo.InvariantCulture, out var s) ? s : limits.WallSeconds,
            MemoryBytes = long.TryParse(input.MetaText("memory_mb"), out var mb) ? mb << 20 : limits.MemoryBytes,
        };
        var result = sandbox.Run(Program(input.Completion), tests, runLimits);
        var passed = result.Passed;
        double value = mode switch
        {
            CodeTestsMode.AllPassed => CodeRewards.AllPassed(passed),
            CodeTestsMode.FractionPassed => CodeRewards.FractionPassed(passed),
            _ => CodeRewards.VeRPO(passed, Weights(input, passed.Count), alpha),
        };
        double Any(TestOutcome o) => result.Tests.Any(t => t.Outcome == o) ? 1 : 0;
        return RewardResult.Scored(value, new Dictionary<string, double>
        {
            ["pass_fraction"] = CodeRewards.FractionPassed(passed), ["all_passed"] = CodeRewards.AllPassed(passed),
            ["compile_error"] = Any(TestOutcome.CompileError), ["runtime_error"] = Any(TestOutcome.RuntimeError),
            ["timeout"] = Any(TestOutcome.Timeout), ["memory_limit"] = Any(TestOutcome.MemoryLimit), ["output_limit"] = Any(TestOutcome.OutputLimit),
            ["skipped"] = Any(TestOutcome.Skipped),
        });
    }

    /// <summary>The program in <paramref name="completion"/>: its last fenced code block, else all of it.</summary>
    public static string Program(string completion)
    {
        var blocks = Fence.Matches(completion);
        return blocks.Count > 0 ? blocks[^1].Groups[1].Value : completion;
    }

    static IReadOnlyList<TestCase>? Tests(RewardInput input) =>
        input.Meta.TryGetValue(RewardMeta.Tests, out var v) ? v switch
        {
            null => null,
            IEnumerable<TestCase> cases => cases.ToArray(),
            IEnumerable<CodeTest> tests => tests.Select(TestCase.From).ToArray(),
            _ => throw new ArgumentException($"meta '{RewardMeta.Tests}' must be a list of CodeTest or TestCase, not {v.GetType().Name}"),
        } : null;

    static double[] Weights(RewardInput input, int count)
    {
        if (!input.Meta.TryGetValue(TestPassRates, out var v) || v is null) return Enumerable.Repeat(1.0, count).ToArray();
        var rates = v as IEnumerable<double> ?? throw new ArgumentException($"meta '{TestPassRates}' must be a list of numbers, not {v.GetType().Name}");
        return CodeRewards.DifficultyWeights(rates.ToArray());
    }
}
