using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// SimPO (Simple Preference Optimization with a Reference-Free Reward, Meng et al., arXiv 2405.14734):
/// L = −log σ(β·(ℓ̄_w − ℓ̄_l) − γ), ℓ̄ = log π_θ(y|x)/|y|; reference-free. With label smoothing ε the logistic loss
/// targets 1 − ε as in cDPO (TRL).
/// </summary>
public static class SimPo
{
    /// <summary>Per-pair SimPO loss [B]; rewards β·ℓ̄.</summary>
    public static PreferenceLossResult Loss(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var (lw, ll) = batch.MeanLogProbs();  // [B] each
        var z = o.Beta * (lw - ll) - o.SimpoGamma;
        return new(LabelNoise.Smoothed(z, o.LabelSmoothing), o.Beta * lw, o.Beta * ll);
    }
}
