using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// The SFT term on preference data, registered as <c>sft</c>: L = NLL(y_w), the mean token cross-entropy of the chosen
/// completion. Combined with DPO it gives RPO, DPO + α·NLL (Provably Mitigating Overoptimization in RLHF: Your SFT
/// Loss is Implicitly an Adversarial Regularizer, Liu et al., arXiv 2405.16436): <c>PreferenceLosses.Combine(["sigmoid", "sft"], [1, α])</c>.
/// </summary>
public static class Sft
{
    /// <summary>Per-pair NLL(y_w) [B]; rewards β·h when reference log-probs are given, else β·log π_θ(y|x).</summary>
    public static PreferenceLossResult Loss(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var (rw, rl) = batch.DefaultRewards(o.Beta);
        return new(batch.ChosenMeanNll(), rw, rl);
    }
}
