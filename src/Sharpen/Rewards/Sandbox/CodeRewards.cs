namespace Sharpen.Rewards.Sandbox;

/// <summary>
/// Rewards from per-test pass/fail (docs/algorithms.md §5.2, "Code"): binary, soft (fraction passed) and difficulty-weighted
/// (VeRPO). Each takes <c>passed[j]</c> for tests j = 1..n, n ≥ 1 (no tests is unscorable, never a reward).
/// </summary>
public static class CodeRewards
{
    /// <summary>1 when every test passed, else 0.</summary>
    public static double AllPassed(IReadOnlyList<bool> passed) => Check(passed).All(p => p) ? 1 : 0;

    /// <summary>The fraction of tests passed, passed/total (the soft code reward of Klear-Reasoner).</summary>
    public static double FractionPassed(IReadOnlyList<bool> passed) => (double)Check(passed).Count(p => p) / passed.Count;

    /// <summary>
    /// Σ_j w_j·pass_j / Σ_j w_j: passing a heavy (hard) test is worth more. Weights must be ≥ 0; when they are all 0
    /// (every test is trivial) this is <see cref="FractionPassed"/>.
    /// </summary>
    public static double DifficultyWeighted(IReadOnlyList<bool> passed, IReadOnlyList<double> weights)
    {
        if (Check(passed).Count != weights.Count) throw new ArgumentException($"{weights.Count} weights for {passed.Count} tests");
        if (weights.Any(w => !(w >= 0) || double.IsInfinity(w))) throw new ArgumentException("weights must be finite and ≥ 0");
        double total = weights.Sum();
        if (total == 0) return FractionPassed(passed);
        return passed.Select((p, j) => p ? weights[j] : 0).Sum() / total;
    }

    /// <summary>
    /// VeRPO (arXiv id not verified): R = α·<see cref="DifficultyWeighted"/>(passed, w) + (1 − α)·<see cref="AllPassed"/>(passed),
    /// with w_j = 1 − p̂_j from <see cref="DifficultyWeights"/>. α ∈ [0, 1]; α = 1 is the dense part alone.
    /// </summary>
    public static double VeRPO(IReadOnlyList<bool> passed, IReadOnlyList<double> weights, double alpha)
    {
        if (!(alpha >= 0 && alpha <= 1)) throw new ArgumentException($"alpha must lie in [0, 1], not {alpha}");
        return alpha * DifficultyWeighted(passed, weights) + (1 - alpha) * AllPassed(passed);
    }

    /// <summary>
    /// Test weights from pass rates: w_j = 1 − p̂_j, where p̂_j ∈ [0, 1] is the rate at which a reference population
    /// (earlier samples, other models) passes test j. Harder tests weigh more.
    /// </summary>
    public static double[] DifficultyWeights(IReadOnlyList<double> passRates) => passRates.Select(p =>
        p is >= 0 and <= 1 ? 1 - p : throw new ArgumentException($"a pass rate must lie in [0, 1], not {p}")).ToArray();

    static IReadOnlyList<bool> Check(IReadOnlyList<bool> passed) =>
        passed.Count > 0 ? passed : throw new ArgumentException("no tests: the sample is unscorable, not rewarded");
}
