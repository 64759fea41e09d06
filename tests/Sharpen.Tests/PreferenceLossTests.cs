using Sharpen.Algorithms.Preference;
using Sharpen.Torch;

namespace Sharpen.Tests;

/// <summary>
/// Preference losses (docs/algorithms.md §4): values against the formulas written out in plain C# doubles, the identities
/// of docs/algorithms.md §7, gradient signs, gradients against central finite differences, reference handling and the registries.
/// </summary>
public class PreferenceLossTests
{
    // ---- fixed data: 4 pairs; the 4th is past the hinge margin and has ℓ̄_w above −ln 2 (ORPO's other log1mexp branch) ----

    static readonly double[] Pc = [-12.3, -7.1, -20.4, -5.0];   // log π_θ(y_w|x)
    static readonly double[] Pr = [-14.0, -6.2, -19.9, -30.0];  // log π_θ(y_l|x)
    static readonly double[] Rc = [-12.8, -7.4, -19.0, -9.0];   // log π_ref(y_w|x)
    static readonly double[] Rr = [-13.1, -6.0, -20.7, -27.0];  // log π_ref(y_l|x)
    static readonly double[] Nc = [10, 4, 17, 16];              // |y_w|
    static readonly double[] Nr = [12, 5, 15, 20];              // |y_l|
    static readonly double[] Nll = [1.1, 0.9, 1.3, 0.4];        // NLL(y_w)
    static readonly double[] M = [0.05, -0.1, 0.2, 0.0];        // pair margins
    const double Delta = 0.07;                                  // BCO running mean

    static readonly PreferenceLossOptions Opt = new()
    {
        Beta = 0.3, LabelSmoothing = 0.15, SimpoGamma = 0.4, CpoAlpha = 0.7, OrpoLambda = 0.2, ExoEpsilon = 0.01,
        KtoDesirableWeight = 1.3, KtoUndesirableWeight = 0.8, ProTemperature = 0.7, ProSftWeight = 0.3,
    };

    static Tensor T(double[] v) => Tensor.From(v);

    static PreferenceBatch FixedBatch() => new(T(Pc), T(Pr), T(Rc), T(Rr), T(Nc), T(Nr), T(Nll), T(M), Delta);

    static double LogSig(double x) => -Math.Log(1 + Math.Exp(-x));
    static double Sig(double x) => 1 / (1 + Math.Exp(-x));
    static double Hw(int i) => Pc[i] - Rc[i];
    static double Hl(int i) => Pr[i] - Rr[i];
    static double Z(int i) => Opt.Beta * (Hw(i) - Hl(i)) - M[i];  // logit βΔ − m

    static double Smoothed(double z, double eps) => -(1 - eps) * LogSig(z) - eps * LogSig(-z);

    static double LogOdds(double meanLogp)
    {
        var p = Math.Exp(meanLogp);
        return Math.Log(p) - Math.Log(1 - p);
    }

    /// <summary>Per-pair expected loss for every registered pairwise loss, from the paper formulas.</summary>
    static readonly Dictionary<string, Func<int, double>> Expected = new()
    {
        ["sigmoid"] = i => -LogSig(Z(i)),
        ["ipo"] = i => Math.Pow(Hw(i) / Nc[i] - Hl(i) / Nr[i] - 1 / (2 * Opt.Beta), 2),
        ["hinge"] = i => Math.Max(0, 1 - Z(i)),
        ["cdpo"] = i => -(1 - Opt.LabelSmoothing) * LogSig(Z(i)) - Opt.LabelSmoothing * LogSig(-Z(i)),
        ["robust"] = i => (-(1 - Opt.LabelSmoothing) * LogSig(Z(i)) + Opt.LabelSmoothing * LogSig(-Z(i))) / (1 - 2 * Opt.LabelSmoothing),
        ["simpo"] = i => Smoothed(Opt.Beta * (Pc[i] / Nc[i] - Pr[i] / Nr[i]) - Opt.SimpoGamma, Opt.LabelSmoothing),
        ["orpo"] = i => Nll[i] - Opt.OrpoLambda * LogSig(LogOdds(Pc[i] / Nc[i]) - LogOdds(Pr[i] / Nr[i])),
        ["cpo"] = i => Smoothed(Opt.Beta * (Pc[i] - Pr[i]), Opt.LabelSmoothing) + Opt.CpoAlpha * Nll[i],
        ["bco_pair"] = i => -LogSig(Opt.Beta * Hw(i) - Delta) - LogSig(-(Opt.Beta * Hl(i) - Delta)),
        ["sppo_hard"] = i => Math.Pow(Hw(i) - 1 / (2 * Opt.Beta), 2) + Math.Pow(Hl(i) + 1 / (2 * Opt.Beta), 2),
        ["nca_pair"] = i => -LogSig(Opt.Beta * Hw(i)) - 0.5 * LogSig(-Opt.Beta * Hw(i)) - 0.5 * LogSig(-Opt.Beta * Hl(i)),
        ["apo_zero"] = i => 1 - Sig(Opt.Beta * Hw(i)) + Sig(Opt.Beta * Hl(i)),
        ["apo_down"] = i => Sig(Opt.Beta * Hw(i)) + 1 - Sig(Opt.Beta * (Hw(i) - Hl(i))),
        ["exo_pair"] = i =>
        {
            var q = Sig(Opt.Beta * (Hw(i) - Hl(i)));
            return q * (Math.Log(q) - Math.Log(1 - Opt.ExoEpsilon)) + (1 - q) * (Math.Log(1 - q) - Math.Log(Opt.ExoEpsilon));
        },
        ["sft"] = i => Nll[i],
    };

    public static TheoryData<string> PairwiseNames => new(PreferenceLosses.Registry.Names.Order());

    static void Close(double[] expected, double[] actual, double tol = 1e-10)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1, Math.Abs(expected[i])),
                $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    static double[] D(Tensor t) => t.ToArray<double>();

    // ---- values ----------------------------------------------------------------------------------

    [Fact]
    public void EveryRegisteredPairwiseLossHasAWrittenOutExpectation() =>
        Assert.Equal(Expected.Keys.Order(), PreferenceLosses.Registry.Names.Order());

    [Theory]
    [MemberData(nameof(PairwiseNames))]
    public void PairwiseLossMatchesItsFormula(string name)
    {
        using var scope = new TensorScope();
        var result = PreferenceLosses.Registry.Get(name).Compute(FixedBatch(), Opt);
        Assert.Equal(DType.Float64, result.Loss.DType);
        Close(Enumerable.Range(0, Pc.Length).Select(Expected[name]).ToArray(), D(result.Loss));
    }

    [Fact]
    public void HingeIsZeroPastItsMarginInTheFixedBatch()
    {
        using var scope = new TensorScope();
        Assert.True(Z(3) > 1);
        Assert.Equal(0.0, D(PreferenceLosses.Registry.Get("hinge").Compute(FixedBatch(), Opt).Loss)[3]);
    }

    [Fact]
    public void DpoReportsRewardsMarginsAndAccuracy()
    {
        using var scope = new TensorScope();
        var r = PreferenceLosses.Registry.Get("sigmoid").Compute(FixedBatch(), Opt);
        var idx = Enumerable.Range(0, Pc.Length).ToArray();
        Close(idx.Select(i => Opt.Beta * Hw(i)).ToArray(), D(r.ChosenRewards));
        Close(idx.Select(i => Opt.Beta * Hl(i)).ToArray(), D(r.RejectedRewards));
        Close(idx.Select(i => Opt.Beta * (Hw(i) - Hl(i))).ToArray(), D(r.Margins));
        Assert.Equal(new[] { 1.0, 1.0, 0.0, 1.0 }, D(r.Accuracy));  // Δ = 1.4, 0.5, −2.2, 7
    }

    [Fact]
    public void ChosenNllDefaultsToMinusSummedLogProbOverLength()
    {
        using var scope = new TensorScope();
        var batch = FixedBatch() with { ChosenNll = null };
        Close(Pc.Select((p, i) => -p / Nc[i]).ToArray(), D(PreferenceLosses.Registry.Get("sft").Compute(batch, Opt).Loss));
    }

    [Fact]
    public void CombineIsTheWeightedSumAndReportsTheFirstLossRewards()
    {
        using var scope = new TensorScope();
        var rpo = PreferenceLosses.Combine(["sigmoid", "sft"], [1.0, 0.5]);
        Assert.True(rpo.NeedsReference);
        var r = rpo.Compute(FixedBatch(), Opt);
        Close(Enumerable.Range(0, Pc.Length).Select(i => -LogSig(Z(i)) + 0.5 * Nll[i]).ToArray(), D(r.Loss));
        Close(Enumerable.Range(0, Pc.Length).Select(i => Opt.Beta * Hw(i)).ToArray(), D(r.ChosenRewards));
        Assert.False(PreferenceLosses.Combine(["simpo", "sft"], [1.0, 1.0]).NeedsReference);
        Assert.Throws<ArgumentException>(() => PreferenceLosses.Combine(["sigmoid", "sft"], [1.0]));
    }

    // ---- unpaired ---------------------------------------------------------------------------------

    static readonly double[] Up = [-3.2, -8.1, -5.5, -2.0];
    static readonly double[] Ur = [-3.6, -7.7, -5.0, -2.9];
    static readonly bool[] Good = [true, false, true, false];
    static readonly double[] Kl = [0.3, -0.1, 0.5];  // mismatched-pair log-ratios, mean 0.2333

    static UnpairedBatch FixedUnpaired() => new(T(Up), T(Ur), Tensor.From(Good), T(Kl), Delta);

    [Fact]
    public void KtoMatchesItsFormula()
    {
        using var scope = new TensorScope();
        var z0 = Math.Max(0, Kl.Average());
        var expected = Up.Select((p, i) => Good[i]
            ? Opt.KtoDesirableWeight * (1 - Sig(Opt.Beta * (p - Ur[i] - z0)))
            : Opt.KtoUndesirableWeight * (1 - Sig(Opt.Beta * (z0 - (p - Ur[i]))))).ToArray();
        var r = PreferenceLosses.Unpaired.Get("kto").Compute(FixedUnpaired(), Opt);
        Close(expected, D(r.Loss));
        Close(Up.Select((p, i) => Opt.Beta * (p - Ur[i])).ToArray(), D(r.Rewards));
    }

    [Fact]
    public void KtoReferencePointClampsAtZeroAndCarriesNoGradient()
    {
        using var scope = new TensorScope();
        Assert.Equal(0.0, Kto.ReferencePoint(T([-0.4, 0.1])).ToDouble());
        var kl = T(Kl).RequiresGrad_();
        var policy = T(Up).RequiresGrad_();
        var batch = new UnpairedBatch(policy, T(Ur), Tensor.From(Good), kl);
        PreferenceLosses.Unpaired.Get("kto").Compute(batch, Opt).Loss.Sum().Backward();
        Assert.Null(kl.Grad);
        Assert.NotNull(policy.Grad);
    }

    [Fact]
    public void BcoMatchesItsFormula()
    {
        using var scope = new TensorScope();
        var expected = Up.Select((p, i) =>
        {
            var r = Opt.Beta * (p - Ur[i]);
            return Good[i] ? -LogSig(r - Delta) : -LogSig(-(r - Delta));
        }).ToArray();
        Close(expected, D(PreferenceLosses.Unpaired.Get("bco").Compute(FixedUnpaired(), Opt).Loss));
    }

    [Fact]
    public void ApoZeroUnpairedMatchesItsFormula()
    {
        using var scope = new TensorScope();
        var expected = Up.Select((p, i) => Good[i]
            ? Opt.KtoDesirableWeight * (1 - Sig(Opt.Beta * (p - Ur[i])))
            : Opt.KtoUndesirableWeight * Sig(Opt.Beta * (p - Ur[i]))).ToArray();
        Close(expected, D(PreferenceLosses.Unpaired.Get("apo_zero_unpaired").Compute(FixedUnpaired(), Opt).Loss));
    }

    // ---- listwise ---------------------------------------------------------------------------------

    static readonly double[,] Lp = { { -4, -6, -5 }, { -10, -9, -12 } };
    static readonly double[,] Lr = { { -4.5, -5.5, -5.2 }, { -9.6, -9.3, -11 } };
    static readonly double[,] Ls = { { 0.5, 2, 1 }, { 3, 1, 2 } };
    static readonly double[,] Ln = { { 5, 4, 2 }, { 10, 3, 8 } };

    static ListwiseBatch FixedListwise() => new(Tensor.From(Lp), Tensor.From(Lr), Tensor.From(Ls), Tensor.From(Ln));

    [Fact]
    public void ProMatchesItsFormula()
    {
        using var scope = new TensorScope();
        var expected = new double[2];
        for (var b = 0; b < 2; b++)
        {
            var order = Enumerable.Range(0, 3).OrderByDescending(k => Ls[b, k]).ToArray();
            var meanLogp = order.Select(k => Lp[b, k] / Ln[b, k]).ToArray();  // ℓ̄ of y^1..y^K
            var s = meanLogp.Select(x => x / Opt.ProTemperature).ToArray();
            for (var k = 0; k < 3; k++)
                expected[b] += Math.Log(Enumerable.Range(k, 3 - k).Sum(j => Math.Exp(s[j]))) - s[k];
            expected[b] += Opt.ProSftWeight * -meanLogp[0];
        }
        Close(expected, D(PreferenceLosses.Listwise.Get("pro").Compute(FixedListwise(), Opt).Loss));
    }

    [Fact]
    public void LipoLambdaMatchesItsFormula()
    {
        using var scope = new TensorScope();
        var expected = new double[2];
        for (var b = 0; b < 2; b++)
        {
            var s = Enumerable.Range(0, 3).Select(k => Opt.Beta * (Lp[b, k] - Lr[b, k])).ToArray();
            var rank = s.Select(si => 1 + s.Count(sj => sj > si)).ToArray();
            var gain = Enumerable.Range(0, 3).Select(k => Math.Pow(2, Ls[b, k]) - 1).ToArray();
            var invD = rank.Select(t => 1 / Math.Log2(1 + t)).ToArray();
            for (var i = 0; i < 3; i++)
                for (var j = 0; j < 3; j++)
                    if (Ls[b, i] > Ls[b, j])
                        expected[b] += Math.Abs(gain[i] - gain[j]) * Math.Abs(invD[i] - invD[j]) * -LogSig(s[i] - s[j]);
        }
        Close(expected, D(PreferenceLosses.Listwise.Get("lipo_lambda").Compute(FixedListwise(), Opt).Loss));
    }

    // ---- identities (docs/algorithms.md §7) ---------------------------------------------------------------

    static (Tensor Pc, Tensor Pr, PreferenceBatch Batch) RandomBatch(int seed, int n = 6)
    {
        var rng = new Random(seed);
        double[] Draw(double lo, double hi) => Enumerable.Range(0, n).Select(_ => lo + (hi - lo) * rng.NextDouble()).ToArray();
        var rc = Draw(-30, -5);
        var rr = Draw(-30, -5);
        var pc = T(rc.Select(r => r + 4 * rng.NextDouble() - 2).ToArray()).RequiresGrad_();  // h ∈ [−2, 2]
        var pr = T(rr.Select(r => r + 4 * rng.NextDouble() - 2).ToArray()).RequiresGrad_();
        var nc = Enumerable.Range(0, n).Select(_ => (double)rng.Next(1, 21)).ToArray();
        var nr = Enumerable.Range(0, n).Select(_ => (double)rng.Next(1, 21)).ToArray();
        return (pc, pr, new PreferenceBatch(pc, pr, T(rc), T(rr), T(nc), T(nr)));
    }

    /// <summary>Loss values and d(Σ loss)/d(policy chosen, rejected log-probs) of <paramref name="loss"/> on <paramref name="batch"/>.</summary>
    static (double[] Loss, double[] GradChosen, double[] GradRejected) ValueAndGrad(
        IPreferenceLoss loss, Tensor pc, Tensor pr, PreferenceBatch batch, PreferenceLossOptions options)
    {
        pc.ZeroGrad();
        pr.ZeroGrad();
        var l = loss.Compute(batch, options).Loss;
        l.Sum().Backward();
        var zeros = new double[pc.Numel];
        return (D(l), pc.Grad is { } gc ? D(gc) : zeros, pr.Grad is { } gr ? D(gr) : zeros);
    }

    [Fact]
    public void RobustAndConservativeDpoWithZeroFlipRateAreDpoInValueAndGradient()
    {
        using var scope = new TensorScope();
        var (pc, pr, batch) = RandomBatch(1);
        batch = batch with { Margin = T([0.1, -0.2, 0.0, 0.3, 0.05, -0.4]) };
        var options = new PreferenceLossOptions { Beta = 0.5, LabelSmoothing = 0 };
        var dpo = ValueAndGrad(PreferenceLosses.Registry.Get("sigmoid"), pc, pr, batch, options);
        foreach (var name in new[] { "robust", "cdpo" })
        {
            var other = ValueAndGrad(PreferenceLosses.Registry.Get(name), pc, pr, batch, options);
            Close(dpo.Loss, other.Loss, 1e-14);
            Close(dpo.GradChosen, other.GradChosen, 1e-14);
            Close(dpo.GradRejected, other.GradRejected, 1e-14);
        }
    }

    [Fact]
    public void LipoWithTwoCompletionsIsDpoScaledByItsLambdaWeight()
    {
        using var scope = new TensorScope();
        var (pc, pr, batch) = RandomBatch(2);
        var options = new PreferenceLossOptions { Beta = 0.4 };
        var dpo = ValueAndGrad(PreferenceLosses.Registry.Get("sigmoid"), pc, pr, batch, options);

        // y_w is listed second, so the list loss must use the scores, not the order.
        var psi = new[] { 0.3, 1.7 };  // ψ_l, ψ_w
        var list = new ListwiseBatch(
            Tensor.Stack([pr, pc], 1), Tensor.Stack([batch.ReferenceRejected!, batch.ReferenceChosen!], 1),  // [B, 2]
            Tensor.From(Enumerable.Repeat(psi, 6).SelectMany(x => x).ToArray(), 6, 2));
        var lipo = PreferenceLosses.Listwise.Get("lipo_lambda");

        // Δ ≡ 1: exactly DPO.
        pc.ZeroGrad();
        pr.ZeroGrad();
        var pairLogistic = lipo.Compute(list, options with { LipoLambdaWeights = false }).Loss;
        pairLogistic.Sum().Backward();
        Close(dpo.Loss, D(pairLogistic), 1e-14);
        Close(dpo.GradChosen, D(pc.Grad!), 1e-14);
        Close(dpo.GradRejected, D(pr.Grad!), 1e-14);

        // Lambda weights: with ranks {1, 2}, Δ = |2^ψ_w − 2^ψ_l|·(1 − 1/log₂ 3) for every pair.
        var delta = Math.Abs(Math.Pow(2, psi[1]) - Math.Pow(2, psi[0])) * (1 - 1 / Math.Log2(3));
        Close(dpo.Loss.Select(l => delta * l).ToArray(), D(lipo.Compute(list, options).Loss), 1e-12);
    }

    [Fact]
    public void ProWithTwoCompletionsAndUnitTemperatureIsLogisticLossOnLengthNormalisedScores()
    {
        using var scope = new TensorScope();
        var (pc, pr, batch) = RandomBatch(3);
        var list = new ListwiseBatch(
            Tensor.Stack([pr, pc], 1), null, Tensor.From(Enumerable.Repeat(new[] { 0.0, 1.0 }, 6).SelectMany(x => x).ToArray(), 6, 2),
            Tensor.Stack([batch.RejectedLengths!, batch.ChosenLengths!], 1));
        var pro = PreferenceLosses.Listwise.Get("pro").Compute(list, new PreferenceLossOptions { ProTemperature = 1, ProSftWeight = 0 }).Loss;
        // SimPO with β = 1, γ = 0 is −log σ(ℓ̄_w − ℓ̄_l).
        var logistic = PreferenceLosses.Registry.Get("simpo").Compute(batch, new PreferenceLossOptions { Beta = 1, SimpoGamma = 0 }).Loss;
        Close(D(logistic), D(pro), 1e-13);
        var ell = D(pc).Zip(D(batch.ChosenLengths!), (p, n) => p / n).Zip(D(pr).Zip(D(batch.RejectedLengths!), (p, n) => p / n), (w, l) => -LogSig(w - l));
        Close(ell.ToArray(), D(pro), 1e-12);
    }

    [Fact]
    public void LengthNormalisedIpoEqualsSummedIpoWhenEveryLengthIsOne()
    {
        using var scope = new TensorScope();
        var (pc, pr, batch) = RandomBatch(4);
        var ones = T(Enumerable.Repeat(1.0, 6).ToArray());
        batch = batch with { ChosenLengths = ones, RejectedLengths = ones };
        var ipo = PreferenceLosses.Registry.Get("ipo");
        var averaged = ValueAndGrad(ipo, pc, pr, batch, new PreferenceLossOptions { IpoLengthNormalize = true });
        var summed = ValueAndGrad(ipo, pc, pr, batch, new PreferenceLossOptions { IpoLengthNormalize = false });
        Close(summed.Loss, averaged.Loss, 1e-14);
        Close(summed.GradChosen, averaged.GradChosen, 1e-14);
        // And with real lengths the two differ.
        var real = RandomBatch(4).Batch;
        Assert.NotEqual(D(ipo.Compute(real, new PreferenceLossOptions()).Loss), D(ipo.Compute(real, new PreferenceLossOptions { IpoLengthNormalize = false }).Loss));
    }

    [Fact]
    public void KtoWithZeroReferencePointAndOnlyDesirableExamplesIsApoZeroUnpaired()
    {
        using var scope = new TensorScope();
        var rng = new Random(5);
        var h = Enumerable.Range(0, 6).Select(_ => 6 * rng.NextDouble() - 3).ToArray();
        var batch = new UnpairedBatch(T(h), T(new double[6]), Tensor.From(Enumerable.Repeat(true, 6).ToArray()), T([-0.5, 0.2]));
        var options = new PreferenceLossOptions { Beta = 0.7 };
        var kto = D(PreferenceLosses.Unpaired.Get("kto").Compute(batch, options).Loss);
        Close(D(PreferenceLosses.Unpaired.Get("apo_zero_unpaired").Compute(batch, options).Loss), kto, 1e-15);
        Close(h.Select(x => 1 - Sig(0.7 * x)).ToArray(), kto, 1e-12);
    }

    // ---- gradient signs ---------------------------------------------------------------------------

    /// <summary>
    /// d loss/d log π_θ(y_w) ≤ 0 and d loss/d log π_θ(y_l) ≥ 0 where the formula promises it. The random points keep
    /// |h| ≤ 2 with β = 0.1 and ε = 0.1, inside the region where the losses with a target (ipo, sppo_hard, cdpo,
    /// exo_pair, nca_pair) still push toward it. apo_down's chosen gradient has no fixed sign (it lowers y_w on purpose),
    /// so only its rejected gradient is checked.
    /// </summary>
    [Theory]
    [MemberData(nameof(PairwiseNames))]
    public void PairwiseLossRaisesChosenAndLowersRejected(string name)
    {
        using var scope = new TensorScope();
        var options = new PreferenceLossOptions { LabelSmoothing = 0.1 };
        for (var seed = 10; seed < 14; seed++)
        {
            var (pc, pr, batch) = RandomBatch(seed, 8);
            var (_, gc, gr) = ValueAndGrad(PreferenceLosses.Registry.Get(name), pc, pr, batch, options);
            if (name != "apo_down") Assert.All(gc, g => Assert.True(g <= 0, $"{name}: d/d chosen = {g}"));
            Assert.All(gr, g => Assert.True(g >= 0, $"{name}: d/d rejected = {g}"));
            Assert.Contains(gc, g => g != 0);
        }
    }

    /// <summary>The documented exceptions: past their targets these losses push the chosen log-prob down, and hinge stops.</summary>
    [Theory]
    [InlineData("ipo", 8.0, 0.0)]         // Δ̄ = 8 > 1/(2β) = 5
    [InlineData("sppo_hard", 8.0, -5.0)]  // h_w = 8 > 5
    [InlineData("cdpo", 20.0, -10.0)]     // σ(βΔ) = σ(3) > 1 − ε = 0.9
    [InlineData("exo_pair", 50.0, -30.0)] // σ(βΔ) = σ(8) > 1 − 1e-3
    [InlineData("nca_pair", 10.0, 0.0)]   // σ(βh_w) = σ(1) > 2/3
    [InlineData("apo_down", 0.0, -20.0)]  // σ'(βh_w) = σ'(0) > σ'(βΔ) = σ'(2)
    public void LossWithATargetPushesChosenDownPastIt(string name, double hw, double hl)
    {
        using var scope = new TensorScope();
        var pc = T([hw]).RequiresGrad_();
        var pr = T([hl]).RequiresGrad_();
        var batch = new PreferenceBatch(pc, pr, T([0.0]), T([0.0]), T([1.0]), T([1.0]));
        var (_, gc, _) = ValueAndGrad(PreferenceLosses.Registry.Get(name), pc, pr, batch, new PreferenceLossOptions { LabelSmoothing = 0.1 });
        Assert.True(gc[0] > 0, $"{name}: d/d chosen = {gc[0]}");
    }

    [Fact]
    public void HingePastItsMarginHasZeroGradient()
    {
        using var scope = new TensorScope();
        var pc = T([-1.0, -1.0]).RequiresGrad_();
        var pr = T([-12.0, -10.5]).RequiresGrad_();  // βΔ = 1.1 and 0.95
        var batch = new PreferenceBatch(pc, pr, T([0.0, 0.0]), T([0.0, 0.0]));
        var (loss, gc, gr) = ValueAndGrad(PreferenceLosses.Registry.Get("hinge"), pc, pr, batch, new PreferenceLossOptions());
        Close([0.0, 0.05], loss, 1e-12);
        Close([0.0, -0.1], gc, 1e-12);
        Close([0.0, 0.1], gr, 1e-12);
    }

    // ---- gradients against central finite differences -------------------------------------------

    /// <summary>
    /// Compares autograd with central differences (h = 1e-6) for every input that requires grad, on the scalar
    /// Σ_i v_i·f(inputs)_i with fixed random weights v so each output element counts.
    /// </summary>
    static void CheckGradients(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        var y = f(inputs);
        var v = Tensor.From(Enumerable.Range(0, (int)y.Numel).Select(i => Math.Sin(3.7 * i + 1)).ToArray(), y.Shape);
        (y * v).Sum().Backward();
        const double h = 1e-6;
        for (var k = 0; k < inputs.Length; k++)
        {
            if (!inputs[k].RequiresGrad) continue;
            var analytic = D(inputs[k].Grad!);
            var x = D(inputs[k]);
            for (var i = 0; i < x.Length; i++)
            {
                double At(double xi)
                {
                    var args = (Tensor[])inputs.Clone();
                    var moved = (double[])x.Clone();
                    moved[i] = xi;
                    args[k] = Tensor.From(moved, inputs[k].Shape);
                    return (f(args) * v).Sum().ToDouble();
                }
                var numeric = (At(x[i] + h) - At(x[i] - h)) / (2 * h);
                Assert.True(Math.Abs(analytic[i] - numeric) <= 1e-7 * Math.Max(1, Math.Abs(numeric)),
                    $"input {k}, element {i}: autograd {analytic[i]:R}, finite difference {numeric:R}");
            }
        }
    }

    [Theory]
    [InlineData("sigmoid")]
    [InlineData("ipo")]
    [InlineData("simpo")]
    [InlineData("orpo")]
    public void PairwiseGradientMatchesFiniteDifferences(string name)
    {
        using var scope = new TensorScope();
        var loss = PreferenceLosses.Registry.Get(name);
        var (pc, pr, batch) = RandomBatch(20);
        // Lengths putting ℓ̄ ≈ −0.4 on even and ≈ −3 on odd examples: both branches of ORPO's log1mexp (split at −ln 2).
        double[] Lengths(Tensor logp) => D(logp).Select((p, i) => i % 2 == 0 ? Math.Ceiling(-p / 0.4) : Math.Max(1, Math.Floor(-p / 3))).ToArray();
        batch = batch with { ChosenLengths = T(Lengths(pc)), RejectedLengths = T(Lengths(pr)) };
        var options = new PreferenceLossOptions { Beta = 0.8, OrpoLambda = 0.5 };
        CheckGradients(x => loss.Compute(batch with { PolicyChosen = x[0], PolicyRejected = x[1], ChosenNll = null }, options).Loss, pc, pr);
    }

    [Fact]
    public void OrpoLog1mexpIsAccurateNearZeroAndFarBelow()
    {
        using var scope = new TensorScope();
        double[] x = [-1e-12, -1e-6, -0.3, -0.7, -5, -40];
        // log(1 − eˣ) by series where it cancels: 1 − eˣ = −x(1 + x/2 + x²/6 + …).
        double[] expected = [Math.Log(1e-12) + Math.Log(1 - 5e-13), Math.Log(1e-6) + Math.Log(1 - 5e-7 + 1e-12 / 6),
            Math.Log(1 - Math.Exp(-0.3)), Math.Log(1 - Math.Exp(-0.7)), Math.Log(1 - Math.Exp(-5)), -Math.Exp(-40)];
        Close(expected, D(Orpo.Log1mexp(T(x))), 1e-14);
    }

    [Fact]
    public void KtoGradientMatchesFiniteDifferences()
    {
        using var scope = new TensorScope();
        var policy = T([-3.2, -8.1, -5.5, -2.0, -4.4]).RequiresGrad_();
        var desirable = Tensor.From(new[] { true, false, true, false, true });
        var reference = T([-3.6, -7.7, -5.0, -2.9, -4.0]);
        var kto = PreferenceLosses.Unpaired.Get("kto");
        CheckGradients(x => kto.Compute(new UnpairedBatch(x[0], reference, desirable, T(Kl)), Opt).Loss, policy);
    }

    [Fact]
    public void LipoGradientMatchesFiniteDifferences()
    {
        using var scope = new TensorScope();
        var rng = new Random(21);
        var policy = Tensor.From(Enumerable.Range(0, 8).Select(_ => -10 + 4 * rng.NextDouble()).ToArray(), 2, 4).RequiresGrad_();
        var reference = Tensor.From(Enumerable.Range(0, 8).Select(_ => -10 + 4 * rng.NextDouble()).ToArray(), 2, 4);
        var scores = Tensor.From(new[] { 1.0, 3.0, 0.0, 2.0, 2.5, 0.5, 1.5, 1.5 }, 2, 4);  // one tie, skipped
        var lipo = PreferenceLosses.Listwise.Get("lipo_lambda");
        CheckGradients(x => lipo.Compute(new ListwiseBatch(x[0], reference, scores), Opt).Loss, policy);
    }

    // ---- reference handling ---------------------------------------------------------------------

    [Fact]
    public void ReferenceFreeLossesSaySoAndIgnoreReferenceLogProbs()
    {
        using var scope = new TensorScope();
        var free = PreferenceLosses.Registry.Names.Where(n => !PreferenceLosses.Registry.Get(n).NeedsReference).Order();
        Assert.Equal(new[] { "cpo", "orpo", "sft", "simpo" }, free);
        var noReference = FixedBatch() with { ReferenceChosen = null, ReferenceRejected = null };
        foreach (var name in free)
        {
            var loss = PreferenceLosses.Registry.Get(name);
            Close(D(loss.Compute(FixedBatch(), Opt).Loss), D(loss.Compute(noReference, Opt).Loss), 0);
        }
        Assert.False(PreferenceLosses.Listwise.Get("pro").NeedsReference);
        Assert.Equal(D(PreferenceLosses.Listwise.Get("pro").Compute(FixedListwise(), Opt).Loss),
            D(PreferenceLosses.Listwise.Get("pro").Compute(FixedListwise() with { Reference = null }, Opt).Loss));
    }

    [Theory]
    [MemberData(nameof(PairwiseNames))]
    public void LossNeedingReferenceNamesItselfWhenReferenceIsMissing(string name)
    {
        using var scope = new TensorScope();
        var loss = PreferenceLosses.Registry.Get(name);
        if (!loss.NeedsReference) return;
        var ex = Assert.Throws<ArgumentException>(() => loss.Compute(FixedBatch() with { ReferenceRejected = null }, Opt));
        Assert.Contains($"'{name}' needs reference log-probs", ex.Message);
    }

    [Fact]
    public void UnpairedAndListwiseLossesNeedingReferenceNameThemselves()
    {
        using var scope = new TensorScope();
        foreach (var name in PreferenceLosses.Unpaired.Names)
        {
            Assert.True(PreferenceLosses.Unpaired.Get(name).NeedsReference);
            var ex = Assert.Throws<ArgumentException>(() => PreferenceLosses.Unpaired.Get(name).Compute(FixedUnpaired() with { Reference = null }, Opt));
            Assert.Contains($"'{name}' needs reference log-probs", ex.Message);
        }
        var lipo = Assert.Throws<ArgumentException>(() => PreferenceLosses.Listwise.Get("lipo_lambda").Compute(FixedListwise() with { Reference = null }, Opt));
        Assert.Contains("'lipo_lambda' needs reference log-probs", lipo.Message);
    }

    [Fact]
    public void MissingInputsAndBadFlipRateAreClearErrors()
    {
        using var scope = new TensorScope();
        var noLengths = FixedBatch() with { ChosenLengths = null };
        Assert.Contains("ChosenLengths", Assert.Throws<ArgumentException>(() => PreferenceLosses.Registry.Get("simpo").Compute(noLengths, Opt)).Message);
        Assert.Contains("KlEstimates", Assert.Throws<ArgumentException>(() =>
            PreferenceLosses.Unpaired.Get("kto").Compute(FixedUnpaired() with { KlEstimates = null }, Opt)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() =>
            PreferenceLosses.Registry.Get("robust").Compute(FixedBatch(), Opt with { LabelSmoothing = 0.5 }));
    }

    // ---- registries ------------------------------------------------------------------------------

    [Fact]
    public void RegistriesHoldTheDocumentedNames()
    {
        Assert.Equal(
            new[] { "apo_down", "apo_zero", "bco_pair", "cdpo", "cpo", "exo_pair", "hinge", "ipo", "nca_pair", "orpo", "robust", "sft", "sigmoid", "simpo", "sppo_hard" },
            PreferenceLosses.Registry.Names.Order());
        Assert.Equal(new[] { "apo_zero_unpaired", "bco", "kto" }, PreferenceLosses.Unpaired.Names.Order());
        Assert.Equal(new[] { "lipo_lambda", "pro" }, PreferenceLosses.Listwise.Names.Order());
    }

    [Fact]
    public void UnknownLossNameErrorListsTheKnownNames()
    {
        var ex = Assert.Throws<ArgumentException>(() => PreferenceLosses.Registry.Get("dpo"));
        Assert.Contains("unknown preference loss 'dpo'", ex.Message);
        Assert.All(PreferenceLosses.Registry.Names, n => Assert.Contains(n, ex.Message));
        Assert.Contains("kto", Assert.Throws<ArgumentException>(() => PreferenceLosses.Unpaired.Get("ktoo")).Message);
        Assert.Throws<ArgumentException>(() => PreferenceLosses.Combine(["sigmoid", "nope"], [1.0, 1.0]));
    }
}
