using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// DPO, registered as <c>sigmoid</c> (Direct Preference Optimization, Rafailov et al., arXiv 2305.18290):
/// L = −log σ(β·Δ − m), Δ = h_w − h_l, h = log π_θ(y|x) − log π_ref(y|x), m the optional pair margin.
/// </summary>
public static class Dpo
{
    /// <summary>Per-pair DPO loss [B]; rewards β·h.</summary>
    public static PreferenceLossResult Sigmoid(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var z = batch.Logits(o.Beta);        // [B]
        var (hw, hl) = batch.LogRatios();
        return new(-z.LogSigmoid(), o.Beta * hw, o.Beta * hl);
    }
}
