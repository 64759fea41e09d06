using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// SPPO with hard labels, registered as <c>sppo_hard</c> (Self-Play Preference Optimization, Wu et al., arXiv 2405.00675):
/// L = (h_w − 1/(2β))² + (h_l + 1/(2β))², the soft SPPO square loss with win probabilities P̂ ∈ {1, 0} and η = 1/β.
/// Each h is pulled toward its own target, so the gradient changes sign past it.
/// </summary>
public static class Sppo
{
    /// <summary>Per-pair SPPO-hard loss [B]; rewards β·h.</summary>
    public static PreferenceLossResult Hard(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var (hw, hl) = batch.LogRatios();
        var target = 1 / (2 * o.Beta);
        var loss = (hw - target).Square() + (hl + target).Square();
        return new(loss, o.Beta * hw, o.Beta * hl);
    }
}
