using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// CPO (Contrastive Preference Optimization, Xu et al., arXiv 2401.08417):
/// L = −log σ(β·(log π_θ(y_w|x) − log π_θ(y_l|x))) + α·NLL(y_w), on summed log-probs; reference-free.
/// With label smoothing ε the logistic term targets 1 − ε as in cDPO (TRL).
/// </summary>
public static class Cpo
{
    /// <summary>Per-pair CPO loss [B]; rewards β·log π_θ(y|x).</summary>
    public static PreferenceLossResult Loss(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var z = o.Beta * (batch.PolicyChosen - batch.PolicyRejected);  // [B]
        var loss = LabelNoise.Smoothed(z, o.LabelSmoothing) + o.CpoAlpha * batch.ChosenMeanNll();
        return new(loss, o.Beta * batch.PolicyChosen, o.Beta * batch.PolicyRejected);
    }
}
