namespace Sharpen.Training;

using Sharpen.Data;
using Sharpen.Models;
using Sharpen.Torch;

/// <summary>Per-token and per-sequence log-probabilities of a batch's target tokens under a causal LM.</summary>
public static class SequenceLogProbs
{
    /// <summary>
    /// ℓ_t = log π(y_t | y_&lt;t) for every target token of <paramref name="batch"/> (its loss mask), as
    /// token log-probs [B, T−1] (zero off the mask), the mask [B, T−1] (float32), their sums Σ_t m_t ℓ_t [B]
    /// and token counts |y| [B].
    /// </summary>
    public static (Tensor TokenLogps, Tensor Mask, Tensor Sum, Tensor Count) Compute(CausalLM model, SequenceBatch batch)
    {
        long t = batch.Length;
        var logits = model.Forward(batch.Ids, batch.AttentionMask, batch.PositionIds);             // [B, T, V]
        var logps = F.TokenLogProbs(logits.Narrow(1, 0, t - 1), batch.Ids.Narrow(1, 1, t - 1));    // [B, T−1]
        var mask = batch.LossMask.Narrow(1, 1, t - 1).To(DType.Float32);                         // [B, T−1]
        var masked = logps * mask;
        return (masked, mask, masked.Sum(1), mask.Sum(1));
    }
}
