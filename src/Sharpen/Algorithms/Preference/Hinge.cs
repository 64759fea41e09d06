using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// Hinge loss of SLiC-HF (Sequence Likelihood Calibration with Human Feedback, Zhao et al., arXiv 2305.10425), also used by RSO
/// (arXiv 2309.06657): L = max(0, 1 − (β·Δ − m)). Past the margin (β·Δ − m ≥ 1) the loss and its gradient are 0.
/// </summary>
public static class Hinge
{
    /// <summary>Per-pair hinge loss [B]; rewards β·h.</summary>
    public static PreferenceLossResult Loss(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var (hw, hl) = batch.LogRatios();
        return new((1 - batch.Logits(o.Beta)).Relu(), o.Beta * hw, o.Beta * hl);
    }
}
