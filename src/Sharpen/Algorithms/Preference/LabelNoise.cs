using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// DPO under label noise, where each pair's label is flipped with probability ε; z = β·Δ − m as in DPO.
/// </summary>
public static class LabelNoise
{
    /// <summary>
    /// cDPO, conservative DPO (label smoothing): L = (1−ε)·(−log σ(z)) + ε·(−log σ(−z)), the cross-entropy against the
    /// soft target 1 − ε. ε = 0 is DPO. Rewards β·h.
    /// </summary>
    public static PreferenceLossResult Conservative(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var (hw, hl) = batch.LogRatios();
        return new(Smoothed(batch.Logits(o.Beta), o.LabelSmoothing), o.Beta * hw, o.Beta * hl);
    }

    /// <summary>
    /// rDPO, registered as <c>robust</c> (Provably Robust DPO, Chowdhury et al., arXiv 2403.00409): the unbiased estimator
    /// L = [(1−ε)·(−log σ(z)) − ε·(−log σ(−z))] / (1 − 2ε), ε ∈ [0, 0.5) the flip rate. ε = 0 is DPO. Rewards β·h.
    /// </summary>
    public static PreferenceLossResult Robust(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var eps = o.LabelSmoothing;
        if (eps is < 0 or >= 0.5)
            throw new ArgumentOutOfRangeException(nameof(o), eps, "robust (rDPO) needs a flip rate LabelSmoothing in [0, 0.5)");
        var z = batch.Logits(o.Beta);  // [B]
        var (hw, hl) = batch.LogRatios();
        var loss = ((1 - eps) * -z.LogSigmoid() - eps * -(-z).LogSigmoid()) / (1 - 2 * eps);
        return new(loss, o.Beta * hw, o.Beta * hl);
    }

    /// <summary>(1−ε)·(−log σ(z)) + ε·(−log σ(−z)): logistic loss against the soft label 1 − ε, elementwise.</summary>
    public static Tensor Smoothed(Tensor z, double eps) =>
        (1 - eps) * -z.LogSigmoid() + eps * -(-z).LogSigmoid();
}
