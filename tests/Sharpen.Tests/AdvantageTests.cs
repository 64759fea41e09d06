using Sharpen.Algorithms;
using Sharpen.Torch;

namespace Sharpen.Tests;

using static RlTestData;

/// <summary>Advantage estimators against hand computations in doubles and the identities of docs/algorithms.md §7.</summary>
public class AdvantageTests
{
    static readonly AdvantageOptions Defaults = new();

    // Whitening as docs/algorithms.md §2.1 states it: (A − mean)/√(var + 1e−8) over loss tokens, Bessel variance, 0 elsewhere.
    static double[,] Whiten(double[,] a, double[,] mask)
    {
        double n = 0, sum = 0, squares = 0;
        foreach (var (x, m) in a.Cast<double>().Zip(mask.Cast<double>())) { n += m; sum += m * x; }
        var mean = sum / n;
        foreach (var (x, m) in a.Cast<double>().Zip(mask.Cast<double>())) squares += m * (x - mean) * (x - mean);
        var std = Math.Sqrt(squares / (n - 1) + 1e-8);
        var w = new double[a.GetLength(0), a.GetLength(1)];
        for (var b = 0; b < a.GetLength(0); b++)
            for (var t = 0; t < a.GetLength(1); t++) w[b, t] = mask[b, t] * (a[b, t] - mean) / std;
        return w;
    }

    // r[b,t] = tokenRewards[b,t] + R[b] on the last loss token of b.
    static double[,] Credit(double[,] tokenRewards, double[] R, double[,] mask)
    {
        var r = (double[,])tokenRewards.Clone();
        for (var b = 0; b < mask.GetLength(0); b++)
        {
            var last = -1;
            for (var t = 0; t < mask.GetLength(1); t++) if (mask[b, t] > 0) last = t;
            if (last >= 0) r[b, last] += R[b];
        }
        return r;
    }

    // Σ_{k≥t} γ^{k−t}·m_k·r_k, 0 on masked tokens.
    static double[,] RewardsToGo(double[,] r, double[,] mask, double gamma)
    {
        var g = new double[r.GetLength(0), r.GetLength(1)];
        for (var b = 0; b < r.GetLength(0); b++)
        {
            var running = 0.0;
            for (var t = r.GetLength(1) - 1; t >= 0; t--)
            {
                running = mask[b, t] * r[b, t] + gamma * running;
                g[b, t] = mask[b, t] * running;
            }
        }
        return g;
    }

    static double Mean(IEnumerable<double> x) => x.Average();

    static double BesselStd(double[] x)
    {
        var mu = x.Average();
        return Math.Sqrt(x.Sum(v => (v - mu) * (v - mu)) / (x.Length - 1));
    }

    // ---- GAE ---------------------------------------------------------------------------------

    // Row 0 has a tool-output token at t = 2 (skipped) and padding at t = 4; row 1 is all loss tokens.
    static readonly double[,] GaeMask = { { 1, 1, 0, 1, 0 }, { 1, 1, 1, 1, 1 } };
    static readonly double[,] GaeValues = { { 0.3, -0.2, 0.9, 0.5, 0.7 }, { 0.1, 0.4, -0.3, 0.2, 0.6 } };
    static readonly double[,] GaeTokenRewards = { { -0.01, -0.02, 0.0, -0.03, 0.0 }, { 0.02, -0.01, 0.05, 0.0, -0.04 } };
    static readonly double[] GaeOutcome = { 1.0, -0.5 };

    [Fact]
    public void Gae_MatchesTheRecursionSkippingMaskedTokens()
    {
        using var scope = new TensorScope();
        const double gamma = 0.9, lambda = 0.8;
        var r = Credit(GaeTokenRewards, GaeOutcome, GaeMask);
        var expectedA = new double[2, 5];
        var expectedReturns = new double[2, 5];
        for (var b = 0; b < 2; b++)
        {
            double nextValue = 0, lastGaeLam = 0;
            for (var t = 4; t >= 0; t--)
            {
                if (GaeMask[b, t] == 0) continue;                 // skipped: V_{t+1}, A_{t+1} carry across
                var delta = r[b, t] + gamma * nextValue - GaeValues[b, t];
                lastGaeLam = delta + gamma * lambda * lastGaeLam;
                nextValue = GaeValues[b, t];
                expectedA[b, t] = lastGaeLam;
                expectedReturns[b, t] = lastGaeLam + GaeValues[b, t];
            }
        }
        var values = Leaf(GaeValues);
        var input = new AdvantageInput(Matrix(GaeMask), Rewards: Vector(GaeOutcome), TokenRewards: Matrix(GaeTokenRewards), Values: values);

        var raw = AdvantageEstimators.Gae(input, new(Gamma: gamma, Lambda: lambda, Whiten: false));
        Close(expectedA, raw.Advantages);
        Close(expectedReturns, raw.Returns);
        Assert.False(raw.Advantages.RequiresGrad);

        var whitened = AdvantageEstimators.Registry.Get("gae")(input, new(Gamma: gamma, Lambda: lambda, Whiten: true));
        Close(Whiten(expectedA, GaeMask), whitened.Advantages);
        Close(expectedReturns, whitened.Returns);
    }

    [Fact]
    public void Gae_WithLambdaAndGammaOne_IsRewardsToGoMinusValues()
    {
        using var scope = new TensorScope();
        var mask = new double[,] { { 1, 1, 1, 1 }, { 1, 1, 1, 1 }, { 1, 1, 1, 1 } };
        var r = Random(3, 4, seed: 1);
        var v = Random(3, 4, seed: 2);
        var toGo = RewardsToGo(r, mask, 1.0);
        var expected = new double[3, 4];
        for (var b = 0; b < 3; b++)
            for (var t = 0; t < 4; t++) expected[b, t] = toGo[b, t] - v[b, t];

        var result = AdvantageEstimators.Gae(new(Matrix(mask), TokenRewards: Matrix(r), Values: Matrix(v)), new(Gamma: 1, Lambda: 1, Whiten: false));
        Close(expected, result.Advantages);
        Close(toGo, result.Returns);
    }

    [Fact]
    public void Gae_WithLambdaZero_IsTheOneStepTdResidual()
    {
        using var scope = new TensorScope();
        const double gamma = 0.95;
        var mask = new double[,] { { 1, 1, 1, 1 }, { 1, 1, 1, 1 } };
        var r = Random(2, 4, seed: 3);
        var v = Random(2, 4, seed: 4);
        var expected = new double[2, 4];
        for (var b = 0; b < 2; b++)
            for (var t = 0; t < 4; t++) expected[b, t] = r[b, t] + gamma * (t + 1 < 4 ? v[b, t + 1] : 0) - v[b, t];

        var result = AdvantageEstimators.Gae(new(Matrix(mask), TokenRewards: Matrix(r), Values: Matrix(v)), new(Gamma: gamma, Lambda: 0, Whiten: false));
        Close(expected, result.Advantages);
    }

    [Fact]
    public void Gae_WithoutValues_IsAnErrorNamingTheEstimator()
    {
        using var scope = new TensorScope();
        var e = Assert.Throws<ArgumentException>(() => AdvantageEstimators.Gae(new(Matrix(GaeMask), Rewards: Vector(GaeOutcome)), Defaults));
        Assert.StartsWith("gae:", e.Message);
    }

    // ---- GRPO family -------------------------------------------------------------------------

    // Two prompts: samples 0-2 answer prompt 0, samples 3-4 prompt 1 (ids need not be contiguous).
    static readonly long[] GroupIds = { 0, 0, 0, 1, 1 };
    static readonly double[] Outcome = { 1.0, 0.0, 0.5, 2.0, -1.0 };
    static readonly double[,] Mask5 = { { 1, 1, 0 }, { 1, 1, 1 }, { 1, 0, 0 }, { 1, 1, 1 }, { 1, 1, 0 } };

    static AdvantageResult Run(string name, double[] rewards, AdvantageOptions? options = null, long[]? ids = null) =>
        AdvantageEstimators.Registry.Get(name)(new(Matrix(Mask5), Rewards: Vector(rewards), GroupIds: Ids(ids ?? GroupIds)), options ?? Defaults);

    [Fact]
    public void Grpo_IsGroupCentredRewardOverBesselStdOnEveryLossToken()
    {
        using var scope = new TensorScope();
        double[] g0 = { 1.0, 0.0, 0.5 };
        double mu0 = (1.0 + 0.0 + 0.5) / 3, mu1 = 0.5;
        var sigma0 = Math.Sqrt(((1 - mu0) * (1 - mu0) + mu0 * mu0 + (0.5 - mu0) * (0.5 - mu0)) / 2);
        var sigma1 = Math.Sqrt((1.5 * 1.5 + 1.5 * 1.5) / 1);
        Close(sigma0, BesselStd(g0), 1e-15);
        var expected = new[]
        {
            (1.0 - mu0) / (sigma0 + 1e-6), (0.0 - mu0) / (sigma0 + 1e-6), (0.5 - mu0) / (sigma0 + 1e-6),
            (2.0 - mu1) / (sigma1 + 1e-6), (-1.0 - mu1) / (sigma1 + 1e-6),
        };

        var result = Run("grpo", Outcome);
        Close(Broadcast(expected, Mask5), result.Advantages);
        Close(Broadcast(expected, Mask5), result.Returns);
    }

    [Fact]
    public void Grpo_OutcomeScoreIsTheSumOfTokenRewardsOnLossTokens()
    {
        using var scope = new TensorScope();
        // Each sample's outcome spread over its tokens (masked tokens carry junk that must not count).
        var tokenRewards = new double[5, 3];
        for (var b = 0; b < 5; b++)
        {
            var n = Enumerable.Range(0, 3).Count(t => Mask5[b, t] > 0);
            for (var t = 0; t < 3; t++) tokenRewards[b, t] = Mask5[b, t] > 0 ? Outcome[b] / n : 7.0;
        }
        var fromTokens = AdvantageEstimators.Grpo(new(Matrix(Mask5), TokenRewards: Matrix(tokenRewards), GroupIds: Ids(GroupIds)), Defaults);
        Close(Run("grpo", Outcome).Advantages, fromTokens.Advantages);
    }

    [Fact]
    public void DrGrpo_DiffersFromGrpoOnlyByTheStdDivision()
    {
        using var scope = new TensorScope();
        var centred = new[] { 1.0 - 0.5, 0.0 - 0.5, 0.5 - 0.5, 2.0 - 0.5, -1.0 - 0.5 };
        var drGrpo = Run("grpo", Outcome, new(Scale: RewardScale.None));
        Close(Broadcast(centred, Mask5), drGrpo.Advantages);

        var sigma = new[] { 0.5, 0.5, 0.5, BesselStd([2.0, -1.0]), BesselStd([2.0, -1.0]) };
        var grpo = Run("grpo", Outcome).Advantages.ToArray<double>();
        var rescaled = grpo.Select((a, i) => a * (sigma[i / 3] + 1e-6)).ToArray();
        Close(drGrpo.Advantages.ToArray<double>(), rescaled, 1e-12);
    }

    [Fact]
    public void LitePpo_DividesByTheStdOfTheWholeBatch()
    {
        using var scope = new TensorScope();
        var batchStd = BesselStd(Outcome);
        var mu = new[] { 0.5, 0.5, 0.5, 0.5, 0.5 };
        var expected = Outcome.Select((R, i) => (R - mu[i]) / (batchStd + 1e-6)).ToArray();
        Close(Broadcast(expected, Mask5), Run("grpo", Outcome, new(Scale: RewardScale.Batch)).Advantages);
    }

    [Fact]
    public void Grpo_IsInvariantToAPerPromptShiftAndPositiveScale()
    {
        using var scope = new TensorScope();
        var shifted = Outcome.Select((R, i) => R + (GroupIds[i] == 0 ? 3.0 : -7.5)).ToArray();
        var scaled = Outcome.Select((R, i) => R * (GroupIds[i] == 0 ? 4.0 : 0.25)).ToArray();
        var noEps = new AdvantageOptions(Eps: 0);
        var reference = Run("grpo", Outcome, noEps).Advantages;
        Close(reference, Run("grpo", shifted, noEps).Advantages, 1e-12);
        Close(reference, Run("grpo", scaled, noEps).Advantages, 1e-12);
        Close(Run("grpo", Outcome, new(Scale: RewardScale.None)).Advantages, Run("grpo", shifted, new(Scale: RewardScale.None)).Advantages, 1e-12);
    }

    [Fact]
    public void Grpo_WithAllEqualRewardsInAGroup_GivesZeroAdvantage()
    {
        using var scope = new TensorScope();
        var a = Run("grpo", [0.7, 0.7, 0.7, 1.0, 0.0]).Advantages.ToArray<double>();
        Assert.All(a.Take(9), x => Assert.True(Math.Abs(x) < 1e-9, $"A = {x:R}"));   // mean 0.7 rounds: |R − μ| ~ 1e−16
        Assert.True(Math.Abs(a[9]) > 0.5);
    }

    [Theory]
    [InlineData("grpo")]
    [InlineData("rloo")]
    public void GroupEstimators_RejectAGroupOfOneAndNameTheEstimator(string name)
    {
        using var scope = new TensorScope();
        var e = Assert.Throws<ArgumentException>(() => Run(name, Outcome, ids: [0, 0, 0, 4, 2]));
        Assert.StartsWith(name + ":", e.Message);
        Assert.Contains("group 4", e.Message);
    }

    [Fact]
    public void Grpo_AllowingSingleSamples_GivesThemTheirReward()
    {
        using var scope = new TensorScope();
        var a = Run("grpo", Outcome, new(AllowSingleSample: true), ids: [0, 0, 0, 4, 2]).Advantages;
        Close(2.0 / (1 + 1e-6), a[3][0]);
        Close(-1.0 / (1 + 1e-6), a[4][0]);
        Close(0.5 / (0.5 + 1e-6), a[0][0]);
    }

    // ---- RLOO --------------------------------------------------------------------------------

    [Fact]
    public void Rloo_SubtractsTheMeanOfTheOtherSamples()
    {
        using var scope = new TensorScope();
        var expected = new double[5];
        for (var i = 0; i < 5; i++)
        {
            var others = Enumerable.Range(0, 5).Where(j => j != i && GroupIds[j] == GroupIds[i]).Select(j => Outcome[j]);
            expected[i] = Outcome[i] - Mean(others);
        }
        var result = Run("rloo", Outcome);
        Close(Broadcast(expected, Mask5), result.Advantages);
        Close(Broadcast(expected, Mask5), result.Returns);
    }

    [Fact]
    public void Rloo_IsGOverGMinusOneTimesTheGroupCentredReward()
    {
        using var scope = new TensorScope();
        var rewards = new[] { 0.3, -1.2, 2.2, 0.9, 1.7, -0.4, 0.0 };
        long[] ids = [5, 5, 5, 5, 1, 1, 1];
        double mu5 = rewards.Take(4).Average(), mu1 = rewards.Skip(4).Average();
        var expected = rewards.Select((R, i) => ids[i] == 5 ? 4.0 / 3 * (R - mu5) : 3.0 / 2 * (R - mu1)).ToArray();
        var mask = new double[7, 1];
        for (var b = 0; b < 7; b++) mask[b, 0] = 1;
        var a = AdvantageEstimators.Rloo(new(Matrix(mask), Rewards: Vector(rewards), GroupIds: Ids(ids)), Defaults).Advantages;
        Close(Broadcast(expected, mask), a, 1e-12);
    }

    [Fact]
    public void Rloo_IsInvariantToAPerPromptShift()
    {
        using var scope = new TensorScope();
        var shifted = Outcome.Select((R, i) => R + (GroupIds[i] == 0 ? -2.0 : 11.0)).ToArray();
        Close(Run("rloo", Outcome).Advantages, Run("rloo", shifted).Advantages, 1e-12);
    }

    // ---- REINFORCE++ and ReMax ---------------------------------------------------------------

    static readonly double[,] KlShaping = { { -0.02, -0.01, 0.03 }, { 0.01, -0.04, -0.02 }, { -0.05, 0.9, 0.9 }, { 0.0, 0.02, -0.01 }, { 0.01, 0.01, 0.5 } };

    [Fact]
    public void ReinforcePlusPlus_WhitensDiscountedReturnsOverTheBatch()
    {
        using var scope = new TensorScope();
        const double gamma = 0.9;
        var returns = RewardsToGo(Credit(KlShaping, Outcome, Mask5), Mask5, gamma);
        var input = new AdvantageInput(Matrix(Mask5), Rewards: Vector(Outcome), TokenRewards: Matrix(KlShaping));

        var result = AdvantageEstimators.Registry.Get("reinforce_pp")(input, new(Gamma: gamma));
        Close(Whiten(returns, Mask5), result.Advantages);
        Close(returns, result.Returns);
        var a = result.Advantages.ToArray<double>().Where((_, i) => Mask5[i / 3, i % 3] > 0).ToArray();
        Close(0.0, a.Average(), 1e-12);
        Close(1.0, BesselStd(a), 1e-6);
    }

    [Fact]
    public void ReinforcePlusPlusBaseline_CentresTheOutcomeOnItsGroupBeforeAddingTokenRewards()
    {
        using var scope = new TensorScope();
        long[] ids = [0, 0, 0, 3, 3];
        double mu0 = 0.5, mu3 = 0.5;
        var centred = Outcome.Select((R, i) => R - (ids[i] == 0 ? mu0 : mu3)).ToArray();
        var returns = RewardsToGo(Credit(KlShaping, centred, Mask5), Mask5, 1.0);
        var input = new AdvantageInput(Matrix(Mask5), Rewards: Vector(Outcome), TokenRewards: Matrix(KlShaping), GroupIds: Ids(ids));

        var result = AdvantageEstimators.Registry.Get("reinforce_pp_baseline")(input, Defaults);
        Close(Whiten(returns, Mask5), result.Advantages);
        Close(returns, result.Returns);
    }

    [Fact]
    public void ReinforcePlusPlusBaseline_UsesAZeroBaselineForAGroupOfOne()
    {
        using var scope = new TensorScope();
        long[] ids = [0, 0, 0, 3, 9];
        var centred = new[] { 0.5, -0.5, 0.0, 2.0, -1.0 };
        var returns = RewardsToGo(Credit(KlShaping, centred, Mask5), Mask5, 1.0);
        var input = new AdvantageInput(Matrix(Mask5), Rewards: Vector(Outcome), TokenRewards: Matrix(KlShaping), GroupIds: Ids(ids));
        Close(returns, AdvantageEstimators.ReinforcePlusPlusBaseline(input, Defaults).Returns);
    }

    [Fact]
    public void ReMax_SubtractsTheGreedyRewardFromRewardsToGo()
    {
        using var scope = new TensorScope();
        var greedy = new[] { 0.5, 0.5, 1.0, -1.0, 0.0 };
        var returns = RewardsToGo(Credit(KlShaping, Outcome, Mask5), Mask5, 1.0);
        var expected = new double[5, 3];
        for (var b = 0; b < 5; b++)
            for (var t = 0; t < 3; t++) expected[b, t] = Mask5[b, t] * (returns[b, t] - greedy[b]);
        var input = new AdvantageInput(Matrix(Mask5), Rewards: Vector(Outcome), TokenRewards: Matrix(KlShaping), GreedyRewards: Vector(greedy));

        var result = AdvantageEstimators.Registry.Get("remax")(input, new(Gamma: 0.5));
        Close(expected, result.Advantages);
        Close(returns, result.Returns);
    }

    [Fact]
    public void Registry_UnknownName_ListsTheKnownEstimators()
    {
        var e = Assert.Throws<ArgumentException>(() => AdvantageEstimators.Registry.Get("ppo"));
        Assert.Contains("unknown advantage estimator 'ppo'", e.Message);
        foreach (var name in new[] { "gae", "grpo", "rloo", "reinforce_pp", "reinforce_pp_baseline", "remax" })
            Assert.Contains(name, e.Message);
    }
}
