using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// EXO on pairs, registered as <c>exo_pair</c> (Towards Efficient Exact Optimization of Language Model Alignment,
/// Ji et al., arXiv 2402.00856): the reverse KL from the model's pair distribution q = (σ(β·Δ), σ(−β·Δ)) to the
/// target (1 − ε, ε): L = q_w·(log q_w − log(1 − ε)) + q_l·(log q_l − log ε). It is minimised at q_w = 1 − ε, past
/// which the gradient changes sign.
/// </summary>
public static class Exo
{
    /// <summary>Per-pair EXO loss [B] with ε = <see cref="PreferenceLossOptions.ExoEpsilon"/>; rewards β·h.</summary>
    public static PreferenceLossResult Pair(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var (hw, hl) = batch.LogRatios();
        var z = o.Beta * (hw - hl);  // [B]
        var eps = o.ExoEpsilon;
        var loss = z.Sigmoid() * (z.LogSigmoid() - Math.Log(1 - eps)) + (-z).Sigmoid() * ((-z).LogSigmoid() - Math.Log(eps));
        return new(loss, o.Beta * hw, o.Beta * hl);
    }
}
