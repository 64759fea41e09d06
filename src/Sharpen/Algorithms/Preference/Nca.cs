using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// NCA on pairs, registered as <c>nca_pair</c> (Noise Contrastive Alignment, Chen et al., arXiv 2402.05369):
/// L = −log σ(β·h_w) − ½·log σ(−β·h_w) − ½·log σ(−β·h_l). Absolute rather than relative rewards: the chosen
/// likelihood is pushed up only while σ(β·h_w) &lt; 2/3.
/// </summary>
public static class Nca
{
    /// <summary>Per-pair NCA loss [B]; rewards β·h.</summary>
    public static PreferenceLossResult Pair(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var (hw, hl) = batch.LogRatios();
        var (rw, rl) = (o.Beta * hw, o.Beta * hl);  // [B] each
        var loss = -rw.LogSigmoid() - 0.5 * (-rw).LogSigmoid() - 0.5 * (-rl).LogSigmoid();
        return new(loss, rw, rl);
    }
}
