using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// APO, Anchored Preference Optimization (D'Oosterlinck et al., arXiv 2408.06266): losses that say whether the chosen
/// completion is better or worse than what the model already produces.
/// </summary>
public static class Apo
{
    /// <summary>
    /// apo_zero (chosen better than the model's outputs): L = (1 − σ(β·h_w)) + σ(β·h_l), per pair [B]; rewards β·h.
    /// </summary>
    public static PreferenceLossResult Zero(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var (hw, hl) = batch.LogRatios();
        var (rw, rl) = (o.Beta * hw, o.Beta * hl);  // [B] each
        return new((1 - rw.Sigmoid()) + rl.Sigmoid(), rw, rl);
    }

    /// <summary>
    /// apo_down (chosen worse than the model's outputs): L = σ(β·h_w) + (1 − σ(β·Δ)), per pair [B]; rewards β·h.
    /// It lowers both likelihoods while keeping y_w above y_l, so the chosen gradient has no fixed sign.
    /// </summary>
    public static PreferenceLossResult Down(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var (hw, hl) = batch.LogRatios();
        var (rw, rl) = (o.Beta * hw, o.Beta * hl);  // [B] each
        return new(rw.Sigmoid() + (1 - (rw - rl).Sigmoid()), rw, rl);
    }

    /// <summary>
    /// apo_zero_unpaired: 1 − σ(β·h) for desirable and σ(β·h) for undesirable examples, weighted by λ_D and λ_U
    /// (TRL's KTO trainer), per example [B]; rewards β·h.
    /// </summary>
    public static UnpairedLossResult ZeroUnpaired(UnpairedBatch batch, PreferenceLossOptions o)
    {
        var r = o.Beta * batch.LogRatios();  // [B]
        var loss = Tensor.Where(batch.Desirable, o.KtoDesirableWeight * (1 - r.Sigmoid()), o.KtoUndesirableWeight * r.Sigmoid());
        return new(loss, r);
    }
}
