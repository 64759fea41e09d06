using Sharpen.Torch;

namespace Sharpen.Algorithms.Reward;

/// <summary>
/// Combines the members' rewards [B, K] into one reward per sequence [B]. <paramref name="lambda"/> is the
/// uncertainty weight λ (read by <c>uwo</c> only).
/// </summary>
public delegate Tensor EnsembleAggregation(Tensor rewards, double lambda);

/// <summary>
/// Reward-ensemble aggregations (docs/algorithms.md §5.1; *Reward Model Ensembles Help Mitigate Overoptimization*, Coste et
/// al., arXiv 2310.02743). With one member (K = 1) every aggregation returns that member's reward.
/// </summary>
public static class RewardEnsembles
{
    /// <summary>Aggregations by name: <c>mean</c>, <c>wco</c>, <c>uwo</c>.</summary>
    public static readonly Registry<EnsembleAggregation> Registry = new Registry<EnsembleAggregation>("reward ensemble aggregation")
        .Add("mean", Mean)
        .Add("wco", WorstCase)
        .Add("uwo", UncertaintyWeighted);

    /// <summary>Mean: r̄ = (1/K) Σ_k r_k.</summary>
    public static Tensor Mean(Tensor rewards, double lambda) => rewards.Mean(1);                     // [B]

    /// <summary>Worst-case optimisation (WCO): min_k r_k.</summary>
    public static Tensor WorstCase(Tensor rewards, double lambda) => rewards.Amin([1]);              // [B]

    /// <summary>Uncertainty-weighted optimisation (UWO): r̄ − λ·Var_k(r_k), with the population variance (1/K) Σ_k (r_k − r̄)².</summary>
    public static Tensor UncertaintyWeighted(Tensor rewards, double lambda) =>
        rewards.Mean(1) - lambda * rewards.Var(1, correction: 0);                                     // [B]
}
