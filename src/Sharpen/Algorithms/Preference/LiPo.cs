using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// LiPO-λ, registered as <c>lipo_lambda</c> (LiPO: Listwise Preference Optimization through Learning-to-Rank, Liu et al.,
/// arXiv 2402.01878): with s_i = β·h(y_i) and labels ψ,
/// L = −Σ_{ψ_i &gt; ψ_j} Δ_ij·log σ(s_i − s_j), Δ_ij = |G_i − G_j|·|1/D(τ_i) − 1/D(τ_j)|, G = 2^ψ − 1, D(τ) = log₂(1 + τ),
/// τ_i the rank of s_i under the current scores (1 = highest, no gradient). Δ ≡ 1 gives the pair-logistic list loss;
/// with K = 2 that is DPO.
/// </summary>
public static class LiPo
{
    /// <summary>Per-list LiPO-λ loss [B]; rewards β·h [B, K].</summary>
    public static ListwiseLossResult Lambda(ListwiseBatch batch, PreferenceLossOptions o)
    {
        var s = o.Beta * batch.LogRatios();                                  // [B, K]
        var psi = batch.Scores.To(s.DType);                                  // [B, K]
        var better = (psi.Unsqueeze(2) > psi.Unsqueeze(1)).To(s.DType);      // [B, K, K]: ψ_i > ψ_j
        var pairLoss = -(s.Unsqueeze(2) - s.Unsqueeze(1)).LogSigmoid();      // [B, K, K]
        var weights = o.LipoLambdaWeights ? better * LambdaWeights(psi, s.Detach()) : better;
        return new((weights * pairLoss).Sum([1, 2]), s);
    }

    /// <summary>Δ_ij = |G_i − G_j|·|1/D(τ_i) − 1/D(τ_j)| for labels ψ [B, K] and current scores s [B, K] (no gradient): [B, K, K].</summary>
    public static Tensor LambdaWeights(Tensor psi, Tensor s)
    {
        var gain = (psi * Math.Log(2)).Exp() - 1;                            // G = 2^ψ − 1, [B, K]
        var (b, k) = (s.Size(0), s.Size(1));
        var order = s.Sort(1, descending: true).Indices;                     // [B, K]
        var positions = Tensor.Arange(1, k + 1, dtype: s.DType, device: s.Device).Unsqueeze(0).Expand(b, k);
        var rank = Tensor.Zeros([b, k], s.DType, s.Device).Scatter(1, order, positions);  // τ, [B, K]
        var inverseDiscount = Math.Log(2) / (1 + rank).Log();                // 1/D(τ) = 1/log₂(1 + τ)
        return (gain.Unsqueeze(2) - gain.Unsqueeze(1)).Abs()
             * (inverseDiscount.Unsqueeze(2) - inverseDiscount.Unsqueeze(1)).Abs();
    }
}
