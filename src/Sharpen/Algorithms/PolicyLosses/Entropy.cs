using Sharpen.Torch;

namespace Sharpen.Algorithms;

/// <summary>Entropy of the policy's next-token distribution (docs/algorithms.md §3.7), for the entropy bonus, masks and metrics.</summary>
public static class Entropy
{
    /// <summary>H_t = −Σ_v π_v·log π_v in nats, per token: logits [B, T, V] → [B, T] (differentiable).</summary>
    public static Tensor FromLogits(Tensor logits)
    {
        using var scope = new TensorScope();
        var logProbs = logits.LogSoftmax(-1);                                  // [B, T, V]
        return scope.Keep(-(logProbs.Exp() * logProbs).Sum(-1));              // [B, T]
    }
}
