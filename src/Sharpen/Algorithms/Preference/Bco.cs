using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// BCO (Binary Classifier Optimization, Jung et al., arXiv 2404.04656): a logistic classifier on the implicit reward β·h,
/// shifted by δ, the running mean of β·h kept by the trainer (TRL updates it with the current batch before the loss).
/// Desirable: −log σ(β·h − δ); undesirable: −log σ(−(β·h − δ)). The density-ratio (UDM) weights are not implemented.
/// </summary>
public static class Bco
{
    /// <summary>bco_pair: −log σ(β·h_w − δ) − log σ(−(β·h_l − δ)) per pair [B], with δ = <see cref="PreferenceBatch.Delta"/>; rewards β·h.</summary>
    public static PreferenceLossResult Pair(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var (hw, hl) = batch.LogRatios();
        var (rw, rl) = (o.Beta * hw, o.Beta * hl);  // [B] each
        var loss = -(rw - batch.Delta).LogSigmoid() - (-(rl - batch.Delta)).LogSigmoid();
        return new(loss, rw, rl);
    }

    /// <summary>Unpaired BCO per example [B], with δ = <see cref="UnpairedBatch.Delta"/>; rewards β·h.</summary>
    public static UnpairedLossResult Unpaired(UnpairedBatch batch, PreferenceLossOptions o)
    {
        var r = o.Beta * batch.LogRatios();  // [B]
        var loss = Tensor.Where(batch.Desirable, -(r - batch.Delta).LogSigmoid(), -(-(r - batch.Delta)).LogSigmoid());
        return new(loss, r);
    }
}
