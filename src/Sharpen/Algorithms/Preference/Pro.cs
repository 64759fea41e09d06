using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// PRO (Preference Ranking Optimization for Human Alignment, Song et al., arXiv 2306.17492), listwise and reference-free:
/// for y^1 ≻ … ≻ y^K, L = Σ_{k&lt;K} −log(exp(s_k/τ) / Σ_{j≥k} exp(s_j/τ)) + λ_SFT·NLL(y^1), with the length-normalised
/// score s = ℓ̄ = log π_θ(y|x)/|y|: each completion must beat all lower-ranked ones in a softmax. Sharpen uses one τ
/// for every k (the paper can derive τ_k from reward gaps).
/// </summary>
public static class Pro
{
    /// <summary>Per-list PRO loss [B]; rewards ℓ̄ [B, K] in the input order.</summary>
    public static ListwiseLossResult Loss(ListwiseBatch batch, PreferenceLossOptions o)
    {
        var meanLogp = batch.MeanLogProbs();                               // [B, K]
        var order = batch.Scores.Sort(1, descending: true).Indices;         // [B, K], best first
        var ranked = meanLogp.Gather(1, order);                             // [B, K], ℓ̄ of y^1..y^K
        var s = ranked / o.ProTemperature;
        var (b, k) = (s.Size(0), s.Size(1));
        var above = Tensor.Ones([k, k], DType.Bool, s.Device).Tril(-1);    // [K, K]: j < k, outside the suffix
        var suffix = s.Unsqueeze(1).Expand(b, k, k).MaskedFill(above, double.NegativeInfinity);  // [B, K, K]: s_j for j ≥ k
        var loss = (suffix.LogSumExp(2) - s).Sum(1);                        // [B]; the k = K term is 0
        if (o.ProSftWeight != 0)
            loss = loss + o.ProSftWeight * (batch.BestNll ?? -ranked.Select(1, 0));
        return new(loss, meanLogp);
    }
}
