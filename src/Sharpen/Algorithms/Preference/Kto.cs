using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// KTO (Model Alignment as Prospect Theoretic Optimization, Ethayarajh et al., arXiv 2402.01306), unpaired:
/// desirable λ_D·(1 − σ(β·(h − z₀))), undesirable λ_U·(1 − σ(β·(z₀ − h))), with the reference point
/// z₀ = max(0, mean(log π_θ(y'|x) − log π_ref(y'|x))) over mismatched pairs (x, y'), without gradient.
/// </summary>
public static class Kto
{
    /// <summary>Per-example KTO loss [B]; needs <see cref="UnpairedBatch.KlEstimates"/>; rewards β·h.</summary>
    public static UnpairedLossResult Loss(UnpairedBatch batch, PreferenceLossOptions o)
    {
        var h = batch.LogRatios();  // [B]
        var z0 = ReferencePoint(batch.KlEstimates ?? throw new ArgumentException(
            "kto needs UnpairedBatch.KlEstimates: log π_θ(y'|x) − log π_ref(y'|x) for mismatched completions y'"));
        var desirable = o.KtoDesirableWeight * (1 - (o.Beta * (h - z0)).Sigmoid());
        var undesirable = o.KtoUndesirableWeight * (1 - (o.Beta * (z0 - h)).Sigmoid());
        return new(Tensor.Where(batch.Desirable, desirable, undesirable), o.Beta * h);
    }

    /// <summary>z₀ = max(0, mean of the mismatched-pair log-ratios [M]): a detached scalar, nats (log it as KTO's KL).</summary>
    public static Tensor ReferencePoint(Tensor klEstimates) => klEstimates.Detach().Mean().Clamp(min: 0);
}
