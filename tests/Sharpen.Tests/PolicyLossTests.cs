using Sharpen.Algorithms;
using Sharpen.Torch;

namespace Sharpen.Tests;

using static RlTestData;

/// <summary>Policy losses, entropy, value loss and rollout mismatch correction against hand values and docs/algorithms.md §7.</summary>
public class PolicyLossTests
{
    // One row of six loss tokens and a masked seventh; ratios inside and outside [1 − 0.2, 1 + 0.28].
    static readonly double[] Ratios = { 1.1, 1.5, 0.5, 1.5, 0.5, 0.9, 2.0 };
    static readonly double[] Adv = { 1, 1, 1, -2, -2, -2, 1 };
    static readonly double[] Mask7 = { 1, 1, 1, 1, 1, 1, 0 };

    static (Tensor LogProbs, PolicyLossInput Input) Batch(double[] ratios, double[] advantages, double[] mask, double[]? oldLogProbs = null)
    {
        var old = oldLogProbs ?? ratios.Select((_, i) => -0.5 - 0.1 * i).ToArray();
        var logp = Tensor.From(old.Select((o, i) => o + Math.Log(ratios[i])).ToArray(), 1, ratios.Length).RequiresGrad_();
        return (logp, new(logp, Tensor.From(old, 1, old.Length), Tensor.From(advantages, 1, advantages.Length), Tensor.From(mask, 1, mask.Length)));
    }

    static double[] Backward(Tensor loss, Tensor logp)
    {
        loss.Sum().Backward();
        return logp.Grad!.ToArray<double>();
    }

    [Fact]
    public void PpoClip_TakesThePessimisticTermAndCountsClippedTokens()
    {
        using var scope = new TensorScope();
        var (logp, input) = Batch(Ratios, Adv, Mask7);
        var result = PolicyLosses.Registry.Get("ppo_clip")(input, new(ClipLow: 0.2, ClipHigh: 0.28, DualClip: null));

        // max(−A·ρ, −A·clip(ρ, 0.8, 1.28)) token by token:
        //   ρ 1.1, A  1: max(−1.1, −1.1)  = −1.1
        //   ρ 1.5, A  1: max(−1.5, −1.28) = −1.28  clipped
        //   ρ 0.5, A  1: max(−0.5, −0.8)  = −0.5
        //   ρ 1.5, A −2: max( 3.0,  2.56) =  3.0
        //   ρ 0.5, A −2: max( 1.0,  1.6)  =  1.6   clipped
        //   ρ 0.9, A −2: max( 1.8,  1.8)  =  1.8
        //   masked                        =  0
        Close(new[] { -1.1, -1.28, -0.5, 3.0, 1.6, 1.8, 0.0 }, result.Loss);
        Close(2.0 / 6, result.Metrics["clipfrac"]);
        var logRatios = Ratios.Take(6).Select(r => Math.Log(r)).ToArray();
        Close(-logRatios.Average(), result.Metrics["ppo_kl"]);
        Close(logRatios.Select(l => Math.Exp(l) - 1 - l).Average(), result.Metrics["approx_kl"]);

        // d/dℓ of −A·ρ is −A·ρ; clipped tokens and the masked one get none.
        Close(new[] { -1.1, 0, -0.5, 3.0, 0, 1.8, 0 }, Backward(result.Loss, logp));
    }

    [Fact]
    public void DualClip_IsInactiveForPositiveAdvantages()
    {
        using var scope = new TensorScope();
        double[] ratios = { 1.1, 5.0, 0.3, 4.0 }, adv = { 1, 0.5, 2, 0 }, mask = { 1, 1, 1, 1 };
        var (logp, input) = Batch(ratios, adv, mask);
        var (logp2, input2) = Batch(ratios, adv, mask);
        var withDual = PolicyLosses.PpoClip(input, new(DualClip: 3.0));
        var without = PolicyLosses.PpoClip(input2, new(DualClip: null));
        Close(without.Loss, withDual.Loss, 0);
        Close(Backward(without.Loss, logp2), Backward(withDual.Loss, logp), 0);
        Assert.Equal(0.0, withDual.Metrics["clipfrac_lower"]);
    }

    [Fact]
    public void DualClip_CapsNegativeAdvantageLossAtMinusCTimesAWithZeroGradient()
    {
        using var scope = new TensorScope();
        double[] ratios = { 4.0, 2.0, 3.5 }, adv = { -2, -2, -0.5 }, mask = { 1, 1, 1 };
        var (logp, input) = Batch(ratios, adv, mask);
        var result = PolicyLosses.PpoClip(input, new(DualClip: 3.0));
        // ρ 4 > c: min(8, 6) = 6 = −c·A; ρ 2 < c: min(4, 6) = 4; ρ 3.5 > c: min(1.75, 1.5) = 1.5.
        Close(new[] { 6.0, 4.0, 1.5 }, result.Loss);
        Close(new[] { 0.0, 4.0, 0.0 }, Backward(result.Loss, logp));
        Close(2.0 / 3, result.Metrics["clipfrac_lower"]);
    }

    [Theory]
    [InlineData("ppo_clip")]
    [InlineData("gspo")]
    [InlineData("cispo")]
    [InlineData("reinforce")]
    public void AtRatioOne_EveryLossHasTheReinforceGradientMinusA(string name)
    {
        using var scope = new TensorScope();
        var old = Random(3, 4, seed: 7, lo: -3, hi: -0.1);
        var adv = Random(3, 4, seed: 8, lo: -2, hi: 2);
        var mask = new double[,] { { 1, 1, 1, 0 }, { 1, 1, 1, 1 }, { 1, 0, 0, 0 } };
        var logp = Leaf(old);
        var result = PolicyLosses.Registry.Get(name)(new(logp, Matrix(old), Matrix(adv), Matrix(mask)), new());

        var expected = new double[3, 4];
        for (var b = 0; b < 3; b++)
            for (var t = 0; t < 4; t++) expected[b, t] = -adv[b, t] * mask[b, t];
        Close(expected.Cast<double>().ToArray(), Backward(result.Loss, logp), 1e-12);
    }

    [Fact]
    public void Gspo_WithOneTokenResponses_EqualsTokenLevelPpo()
    {
        using var scope = new TensorScope();
        // Each row has one loss token (the rest is padding with junk ratios); ratios inside and outside the clip range.
        double[] ratios = { 1.1, 1.6, 0.4, 0.95, 1.7, 0.3 };
        double[] adv = { 1.5, 1.0, 0.7, -1.0, -0.8, -0.4 };
        var old = Random(6, 3, seed: 9, lo: -3, hi: -0.1);
        var cur = new double[6, 3];
        var mask = new double[6, 3];
        var advantages = new double[6, 3];
        for (var b = 0; b < 6; b++)
            for (var t = 0; t < 3; t++)
            {
                var loss = t == b % 3;
                mask[b, t] = loss ? 1 : 0;
                cur[b, t] = old[b, t] + (loss ? Math.Log(ratios[b]) : 0.8);
                advantages[b, t] = adv[b];
            }
        var options = new PolicyLossOptions(ClipLow: 0.2, ClipHigh: 0.28, DualClip: null);
        var (lp1, lp2) = (Leaf(cur), Leaf(cur));
        var gspo = PolicyLosses.Gspo(new(lp1, Matrix(old), Matrix(advantages), Matrix(mask)), options);
        var ppo = PolicyLosses.PpoClip(new(lp2, Matrix(old), Matrix(advantages), Matrix(mask)), options);
        Close(ppo.Loss, gspo.Loss, 1e-12);
        Close(Backward(ppo.Loss, lp2), Backward(gspo.Loss, lp1), 1e-12);
        Close(ppo.Metrics["clipfrac"], gspo.Metrics["clipfrac"]);
        Close(2.0 / 6, gspo.Metrics["clipfrac"]);                 // ρ 1.6 with A > 0 and ρ 0.3 with A < 0
    }

    [Fact]
    public void Gspo_UsesTheLengthNormalisedSequenceRatioOnEveryToken()
    {
        using var scope = new TensorScope();
        // log-ratios 0.1 and −0.3 on the two loss tokens: s = exp(−0.1), inside [0.8, 1.2]; the third token is padding.
        var old = new double[,] { { -1.0, -2.0, -0.5 } };
        var logp = Leaf(new double[,] { { -0.9, -2.3, 5.0 } });
        var result = PolicyLosses.Gspo(new(logp, Matrix(old), Matrix(new double[,] { { 2.0, 2.0, 2.0 } }), Matrix(new double[,] { { 1, 1, 0 } })), new());
        var s = Math.Exp(-0.1);
        Close(new[] { -2 * s, -2 * s, 0 }, result.Loss);
        Close(new[] { -2 * s, -2 * s, 0 }, Backward(result.Loss, logp));
    }

    [Fact]
    public void Cispo_WeighsEveryTokenByTheDetachedBoundedRatio()
    {
        using var scope = new TensorScope();
        double[] ratios = { 0.5, 2.0, 7.0 }, adv = { 1, -1, 2 }, mask = { 1, 1, 1 };
        var (logp, input) = Batch(ratios, adv, mask);
        var l = logp.ToArray<double>();
        // ρ̂ = min(ρ, 5) = (0.5, 2, 5); L = −ρ̂·A·ℓ, gradient −ρ̂·A.
        var result = PolicyLosses.Cispo(input, new());
        Close(new[] { -0.5 * l[0], 2 * l[1], -10 * l[2] }, result.Loss);
        Close(new[] { -0.5, 2, -10 }, Backward(result.Loss, logp));
        Close(1.0 / 3, result.Metrics["clipfrac"]);

        var (logp2, input2) = Batch(ratios, adv, mask);
        var bounded = PolicyLosses.Cispo(input2, new(CispoMin: 0.8));
        Close(new[] { -0.8, 2, -10 }, Backward(bounded.Loss, logp2));
        Close(2.0 / 3, bounded.Metrics["clipfrac"]);
    }

    [Fact]
    public void Registry_UnknownName_ListsTheKnownLosses()
    {
        var e = Assert.Throws<ArgumentException>(() => PolicyLosses.Registry.Get("sapo"));
        Assert.Contains("unknown policy loss 'sapo'", e.Message);
        foreach (var name in new[] { "ppo_clip", "gspo", "cispo", "reinforce" }) Assert.Contains(name, e.Message);
    }

    // ---- entropy and value loss --------------------------------------------------------------

    [Fact]
    public void Entropy_IsMinusSumOfPLogPPerToken()
    {
        using var scope = new TensorScope();
        var logits = new double[] { 1.0, -0.5, 2.0, 0.0, 0.3, 0.3, 0.3, 0.3 };   // [1, 2, 4]
        var expected = new double[2];
        for (var t = 0; t < 2; t++)
        {
            var z = logits.Skip(4 * t).Take(4).ToArray();
            var logSum = Math.Log(z.Sum(Math.Exp));
            expected[t] = -z.Sum(v => Math.Exp(v - logSum) * (v - logSum));
        }
        Close(Math.Log(4), expected[1], 1e-15);
        var h = Entropy.FromLogits(Tensor.From(logits, 1, 2, 4));
        Assert.Equal(new long[] { 1, 2 }, h.Shape);
        Close(expected, h);
    }

    [Fact]
    public void ValueLoss_IsHalfTheLargerOfTheUnclippedAndClippedSquaredErrors()
    {
        using var scope = new TensorScope();
        var values = Leaf(new double[,] { { 1.0, 2.0, 0.5, 1.5, 9.0 } });
        var oldValues = Matrix(new double[,] { { 0.9, 1.0, 0.5, 1.0, 0.0 } });
        var returns = Matrix(new double[,] { { 0.0, 0.0, 1.0, 2.0, 0.0 } });
        var mask = Matrix(new double[,] { { 1, 1, 1, 1, 0 } });
        var result = ValueLoss.Clipped(values, oldValues, returns, mask, clipRange: 0.2);
        // V 1.0: (1)² vs clip→1.0: (1)²          → ½·1
        // V 2.0: (2)² vs clip→1.2: (1.2)²        → ½·4
        // V 0.5: (−.5)² vs clip→0.5: (−.5)²      → ½·0.25
        // V 1.5: (−.5)² vs clip→1.2: (−.8)²      → ½·0.64, clipped: no gradient
        Close(new[] { 0.5, 2.0, 0.125, 0.32, 0 }, result.Loss);
        Close(0.25, result.Metrics["vf_clipfrac"]);
        Close(new[] { 1.0, 2.0, -0.5, 0, 0 }, Backward(result.Loss, values));

        var unclipped = ValueLoss.Clipped(values.Detach(), oldValues, returns, mask, clipRange: null);
        Close(new[] { 0.5, 2.0, 0.125, 0.125, 0 }, unclipped.Loss);
    }

    // ---- rollout/training mismatch correction ------------------------------------------------

    [Theory]
    [InlineData("token_truncate")]
    [InlineData("token_mask")]
    [InlineData("sequence_truncate")]
    [InlineData("sequence_mask")]
    public void Correction_WithOpenBoundsAndMatchingRolloutLogProbs_LeavesTheLossUnchanged(string name)
    {
        using var scope = new TensorScope();
        var old = Random(3, 4, seed: 11, lo: -3, hi: -0.1);
        var cur = Random(3, 4, seed: 12, lo: -3, hi: -0.1);
        var adv = Random(3, 4, seed: 13, lo: -2, hi: 2);
        var mask = new double[,] { { 1, 1, 0, 0 }, { 1, 1, 1, 1 }, { 1, 1, 1, 0 } };
        var weights = MismatchCorrections.Registry.Get(name)(Matrix(old), Matrix(old), Matrix(mask), new(CMin: 0, CMax: double.PositiveInfinity));
        Close(mask, weights.Weights, 0);

        var (lp1, lp2) = (Leaf(cur), Leaf(cur));
        var plain = LossAggregations.TokenMean(PolicyLosses.PpoClip(new(lp1, Matrix(old), Matrix(adv), Matrix(mask)), new()).Loss, Matrix(mask), new());
        var weighted = LossAggregations.TokenMean(PolicyLosses.PpoClip(new(lp2, Matrix(old), Matrix(adv), Matrix(mask)), new()).Loss * weights.Weights, Matrix(mask), new());
        Close(plain.ToDouble(), weighted, 0);
        plain.Backward();
        weighted.Backward();
        Close(lp1.Grad!, lp2.Grad!, 0);
    }

    // ℓ^old − ℓ^roll per token; row 0: weights e^0.5, e^−0.2, e^1.5 (masked), row 1: e^−2, e^0.3, e^0.4.
    static readonly double[,] OldLogProbs = { { -1.0, -1.2, -0.5 }, { -3.0, -0.7, -0.6 } };
    static readonly double[,] RolloutLogProbs = { { -1.5, -1.0, -2.0 }, { -1.0, -1.0, -1.0 } };
    static readonly double[,] CorrectionMask = { { 1, 1, 0 }, { 1, 1, 1 } };

    static CorrectionResult Correct(string name, double cMin, double cMax) =>
        MismatchCorrections.Registry.Get(name)(Matrix(OldLogProbs), Matrix(RolloutLogProbs), Matrix(CorrectionMask), new(cMin, cMax));

    [Fact]
    public void TokenCorrections_TruncateOrZeroWeightsOutsideTheBounds()
    {
        using var scope = new TensorScope();
        double e(double x) => Math.Exp(x);
        var truncated = Correct("token_truncate", 0.5, 1.5);
        Close(new double[,] { { 1.5, e(-0.2), 0 }, { 0.5, e(0.3), e(0.4) } }, truncated.Weights, 1e-12);
        Close(2.0 / 5, truncated.Metrics["frac_truncated"]);   // e^0.5 = 1.65 and e^−2 = 0.14
        var absDiff = new[] { 0.5, 0.2, 2.0, 0.3, 0.4 };
        Close(absDiff.Average(), truncated.Metrics["mean_abs_logp_diff"]);

        var masked = Correct("token_mask", 0.5, 1.5);
        Close(new double[,] { { 0, e(-0.2), 0 }, { 0, e(0.3), e(0.4) } }, masked.Weights, 1e-12);
        Close(2.0 / 5, masked.Metrics["frac_masked"]);
        Close((e(-0.2) + e(0.3) + e(0.4)) / 5, masked.Metrics["mean_weight"]);
    }

    [Fact]
    public void SequenceCorrections_ApplyTheProductOfTokenWeightsToTheWholeSequence()
    {
        using var scope = new TensorScope();
        // Sequence log-weights: row 0: 0.5 − 0.2 = 0.3 (the masked token does not count); row 1: −2 + 0.3 + 0.4 = −1.3.
        double w0 = Math.Exp(0.3), w1 = Math.Exp(-1.3);
        var truncated = Correct("sequence_truncate", 0.5, 3.0);
        Close(new double[,] { { w0, w0, 0 }, { 0.5, 0.5, 0.5 } }, truncated.Weights, 1e-12);
        Close(3.0 / 5, truncated.Metrics["frac_truncated"]);

        var masked = Correct("sequence_mask", 0.5, 3.0);
        Close(new double[,] { { w0, w0, 0 }, { 0, 0, 0 } }, masked.Weights, 1e-12);
        var kept = Correct("sequence_mask", 0.2, 3.0);
        Close(new double[,] { { w0, w0, 0 }, { w1, w1, w1 } }, kept.Weights, 1e-12);
        Close(0.0, kept.Metrics["frac_masked"]);
    }
}
