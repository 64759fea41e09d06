namespace Sharpen.Tests;

using Sharpen.Algorithms.Reward;
using Sharpen.Models;
using Sharpen.Torch;

/// <summary>
/// Reward-model parts (docs/algorithms.md §5.1): the Bradley–Terry loss with margin and centring against the formula in plain
/// C# doubles and its gradient against central finite differences; the ensemble aggregations on a hand example;
/// one-member ensembles and K-head models against single models; bootstrap counts.
/// </summary>
public class RewardLossTests
{
    static readonly double[] Rw = [1.2, -0.4, 0.3, 2.5];    // r(x, y_w)
    static readonly double[] Rl = [0.7, 0.1, 0.9, -1.5];    // r(x, y_l)
    static readonly double[] M = [0.0, 0.25, -0.5, 1.0];    // pair margins
    const double C = 0.05;                                  // centring coefficient

    static double LogSig(double x) => -Math.Log(1 + Math.Exp(-x));

    static double Bt(double rw, double rl, double m, double c) => -LogSig(rw - rl - m) + c * (rw + rl) * (rw + rl);

    static Tensor T(double[] v) => Tensor.From(v);

    static void Close(double[] expected, double[] actual, double tol = 1e-12)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1, Math.Abs(expected[i])),
                $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    [Fact]
    public void BradleyTerryWithMarginAndCentringMatchesTheFormulaPerPairAndOnAverage()
    {
        using var scope = new TensorScope();
        var loss = RewardLosses.Registry.Get("bradley_terry")(T(Rw), T(Rl), T(M), C);   // [B]
        var expected = Enumerable.Range(0, Rw.Length).Select(i => Bt(Rw[i], Rl[i], M[i], C)).ToArray();
        Close(expected, loss.ToArray<double>());
        // docs/algorithms.md §5.1: L = −mean log σ(r_w − r_l − m) + c·mean((r_w + r_l)²)
        var bt = Enumerable.Range(0, Rw.Length).Average(i => -LogSig(Rw[i] - Rl[i] - M[i]));
        var center = Enumerable.Range(0, Rw.Length).Average(i => (Rw[i] + Rl[i]) * (Rw[i] + Rl[i]));
        Assert.Equal(bt + C * center, loss.Mean().ToDouble(), 12);
        // Pair 0: Δ = 0.5, no margin: −log σ(0.5) = log(1 + e^−0.5) = 0.474077…, centring 0.05·1.9² = 0.1805.
        Assert.Equal(0.4740769841801067 + 0.1805, loss[0].ToDouble(), 12);
    }

    [Fact]
    public void BradleyTerryWithoutCentringIsTheLogisticLossOfTheMarginShiftedDifference()
    {
        using var scope = new TensorScope();
        var loss = RewardLosses.BradleyTerry(T(Rw), T(Rl), T(M), 0);
        Close(Enumerable.Range(0, Rw.Length).Select(i => Math.Log(1 + Math.Exp(-(Rw[i] - Rl[i] - M[i])))).ToArray(), loss.ToArray<double>());
    }

    [Fact]
    public void BradleyTerryGradientMatchesCentralFiniteDifferences()
    {
        using var scope = new TensorScope();
        var rw = T(Rw).RequiresGrad_();
        var rl = T(Rl).RequiresGrad_();
        RewardLosses.BradleyTerry(rw, rl, T(M), C).Mean().Backward();
        var (gw, gl) = (rw.Grad!.ToArray<double>(), rl.Grad!.ToArray<double>());

        double Objective(double[] w, double[] l) => Enumerable.Range(0, w.Length).Average(i => Bt(w[i], l[i], M[i], C));
        const double h = 1e-6;
        for (var i = 0; i < Rw.Length; i++)
        {
            double[] wp = (double[])Rw.Clone(), wm = (double[])Rw.Clone(), lp = (double[])Rl.Clone(), lm = (double[])Rl.Clone();
            wp[i] += h; wm[i] -= h; lp[i] += h; lm[i] -= h;
            Assert.Equal((Objective(wp, Rl) - Objective(wm, Rl)) / (2 * h), gw[i], 8);
            Assert.Equal((Objective(Rw, lp) - Objective(Rw, lm)) / (2 * h), gl[i], 8);
        }
        // The BT part pushes r_w up and r_l down with equal and opposite force; centring adds 2c(r_w + r_l)/B to both.
        for (var i = 0; i < Rw.Length; i++) Assert.Equal(4 * C * (Rw[i] + Rl[i]) / Rw.Length, gw[i] + gl[i], 12);
    }

    // Members' rewards [B = 3, K = 3]; λ = 0.5.
    static readonly double[,] Members = { { 1, 2, 6 }, { 0.5, 0.5, 0.5 }, { -1, 3, 1 } };
    const double Lambda = 0.5;

    static double[] Row(int b) => Enumerable.Range(0, Members.GetLength(1)).Select(k => Members[b, k]).ToArray();

    [Fact]
    public void EnsembleAggregationsMatchTheirDefinitionsOnAHandExample()
    {
        using var scope = new TensorScope();
        var rewards = Tensor.From(Members);                                                         // [3, 3]
        double[] Agg(string name) => RewardEnsembles.Registry.Get(name)(rewards, Lambda).ToArray<double>();
        // Row 0: mean 3, min 1, population variance ((−2)² + (−1)² + 3²)/3 = 14/3, UWO 3 − 0.5·14/3 = 2/3.
        Close([3, 0.5, 1], Agg("mean"));
        Close([1, 0.5, -1], Agg("wco"));
        Close([2.0 / 3, 0.5, 1 - Lambda * 8.0 / 3], Agg("uwo"));
        // The same from the definitions, row by row.
        for (var b = 0; b < 3; b++)
        {
            var r = Row(b);
            var mean = r.Average();
            Assert.Equal(mean - Lambda * r.Average(x => (x - mean) * (x - mean)), Agg("uwo")[b], 12);
            Assert.Equal(r.Min(), Agg("wco")[b], 12);
        }
        Assert.Equal(new[] { "mean", "uwo", "wco" }, RewardEnsembles.Registry.Names.Order());
    }

    [Fact]
    public void EveryAggregationOfAOneMemberEnsembleIsThatMembersReward()
    {
        using var scope = new TensorScope();
        var single = T([0.3, -2.0, 7.5]);
        foreach (var name in RewardEnsembles.Registry.Names)
            Assert.Equal(single.ToArray<double>(), RewardEnsembles.Registry.Get(name)(single.Unsqueeze(1), Lambda).ToArray<double>());
    }

    static ModelConfig TinyConfig() => new()
    {
        VocabSize = 20, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 2, NumAttentionHeads = 4,
        NumKeyValueHeads = 2, MaxPositionEmbeddings = 64, PadTokenId = 0,
    };

    [Fact]
    public void EachHeadOfAnEnsembleScoresLikeASingleModelWithThatHeadsWeights()
    {
        using var scope = new TensorScope();
        using var _ = Torch.NoGrad();
        using var ensemble = new ScalarHeadModel(TinyConfig(), heads: 3);
        var ids = Tensor.From(new long[,] { { 5, 6, 7, 0, 0 }, { 8, 9, 10, 11, 12 } });
        var mask = ids.Ne(0);
        var all = ensemble.SequenceScoresAll(ids, mask);                                             // [2, 3]
        Assert.Equal(new long[] { 2, 3 }, all.Shape);
        var state = ensemble.StateDict();
        for (var k = 0; k < 3; k++)
        {
            using var single = new ScalarHeadModel(TinyConfig());
            var s = new Dictionary<string, Tensor>(state) { ["score.weight"] = state["score.weight"].Narrow(0, k, 1) };
            single.LoadStateDict(s);
            Assert.Equal(single.SequenceScores(ids, mask).ToArray<float>(), all.Select(1, k).ToArray<float>());
            // The K = 1 "ensemble" is the single model: its all-heads scores are its scores, under every aggregation.
            var one = single.SequenceScoresAll(ids, mask);                                           // [2, 1]
            foreach (var name in RewardEnsembles.Registry.Names)
                Assert.Equal(single.SequenceScores(ids, mask).ToArray<float>(), RewardEnsembles.Registry.Get(name)(one, Lambda).ToArray<float>());
        }
        Assert.Throws<InvalidOperationException>(() => ensemble.SequenceScores(ids, mask));
    }

    [Fact]
    public void BootstrapCountsResampleEachMemberWithReplacementFromItsOwnStream()
    {
        const int n = 20000, k = 3;
        var counts = Bootstrap.Counts(n, k, seed: 7);
        Assert.Equal(counts, Bootstrap.Counts(n, k, seed: 7));
        for (var member = 0; member < k; member++)
        {
            var c = Enumerable.Range(0, n).Select(i => counts[i * k + member]).ToArray();
            Assert.Equal(n, c.Sum());
            // P(a pair is left out) = (1 − 1/n)^n ≈ e⁻¹ = 0.3679; the binomial sd over n pairs is 0.0034.
            Assert.InRange(c.Count(x => x == 0) / (double)n, Math.Exp(-1) - 0.015, Math.Exp(-1) + 0.015);
        }
        var sameInAll = Enumerable.Range(0, n).Count(i => counts[i * k] == counts[i * k + 1] && counts[i * k] == counts[i * k + 2]);
        Assert.True(sameInAll < n / 2, $"members should resample independently; {sameInAll} of {n} counts agree in all three");
    }
}
