using Sharpen.Torch;

namespace Sharpen.Algorithms;

/// <summary>Per-token KL estimate kl [B, T] from log-probs ℓ and ℓ^ref [B, T] of the sampled tokens, 0 on masked tokens.</summary>
public delegate Tensor KlEstimator(Tensor logProbs, Tensor refLogProbs, Tensor mask);

/// <summary>
/// Sample estimators of KL(π‖π_ref) from d = ℓ − ℓ^ref on tokens sampled from π (Schulman, *Approximating KL
/// Divergence*, 2020; docs/algorithms.md §3.6). Differentiable, for in-loss use; detach for in-reward use.
/// </summary>
public static class KlEstimators
{
    /// <summary>Estimators by name: <c>k1</c>, <c>k2</c>, <c>k3</c>.</summary>
    public static readonly Registry<KlEstimator> Registry = new Registry<KlEstimator>("KL estimator")
        .Add("k1", K1)
        .Add("k2", K2)
        .Add("k3", K3);

    /// <summary>k1 = d: unbiased, high variance, can be negative.</summary>
    public static Tensor K1(Tensor logProbs, Tensor refLogProbs, Tensor mask)
    {
        using var scope = new TensorScope();
        return scope.Keep((logProbs - refLogProbs) * mask.To(logProbs.DType));
    }

    /// <summary>k2 = ½·d²: biased, low variance, ≥ 0; its gradient's expectation is ∇KL.</summary>
    public static Tensor K2(Tensor logProbs, Tensor refLogProbs, Tensor mask)
    {
        using var scope = new TensorScope();
        return scope.Keep(0.5 * (logProbs - refLogProbs).Square() * mask.To(logProbs.DType));
    }

    /// <summary>
    /// k3 = exp(−d) + d − 1 (verl <c>low_var_kl</c>): unbiased, low variance, ≥ 0. −d is clamped to [−20, 20]
    /// and the result to [−10, 10].
    /// </summary>
    public static Tensor K3(Tensor logProbs, Tensor refLogProbs, Tensor mask)
    {
        using var scope = new TensorScope();
        var negD = (refLogProbs - logProbs).Clamp(-20, 20);                    // −d  [B, T]
        var k3 = (negD.Exp() - negD - 1).Clamp(-10, 10);
        return scope.Keep(k3 * mask.To(logProbs.DType));
    }
}
