using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// IPO (A General Theoretical Paradigm to Understand Learning from Human Preferences, Azar et al., arXiv 2310.12036):
/// L = (Δ̄ − 1/(2β))², regressing the log-ratio margin onto 1/(2β) (β plays the paper's τ). Δ̄ uses length-averaged
/// h/|y| when <see cref="PreferenceLossOptions.IpoLengthNormalize"/> is set (TRL), the summed h otherwise (OpenRLHF).
/// </summary>
public static class Ipo
{
    /// <summary>Per-pair IPO loss [B]; rewards β·h (length-averaged when normalising).</summary>
    public static PreferenceLossResult Loss(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var (hw, hl) = o.IpoLengthNormalize ? batch.MeanLogRatios() : batch.LogRatios();  // [B] each
        var loss = (hw - hl - 1 / (2 * o.Beta)).Square();
        return new(loss, o.Beta * hw, o.Beta * hl);
    }
}
