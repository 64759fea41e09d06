using Sharpen.Torch;

namespace Sharpen.Algorithms;

/// <summary>
/// A scored batch for the advantage estimators (docs/algorithms.md §2). Token rewards are
/// r[b,t] = <see cref="TokenRewards"/>[b,t] + [t = last loss token of b]·<see cref="Rewards"/>[b], and the
/// outcome score is R_b = Σ_t m·r[b,t]; give either or both.
/// </summary>
/// <param name="Mask">m [B, T]: 1 on tokens the policy generated, 0 on padding and tool output (bool or float).</param>
/// <param name="Rewards">R [B]: outcome rewards, credited to each response's last loss token.</param>
/// <param name="TokenRewards">r [B, T]: per-token rewards, for example −β·kl shaping or process rewards.</param>
/// <param name="Values">V [B, T]: critic values of the states before each token (GAE).</param>
/// <param name="GroupIds">int64 [B], ≥ 0: samples with the same id answer the same prompt (GRPO, RLOO, REINFORCE++-baseline).</param>
/// <param name="GreedyRewards">R(x, y_greedy) [B]: reward of the greedy response to each sample's prompt (ReMax).</param>
public sealed record AdvantageInput(
    Tensor Mask,
    Tensor? Rewards = null,
    Tensor? TokenRewards = null,
    Tensor? Values = null,
    Tensor? GroupIds = null,
    Tensor? GreedyRewards = null);

/// <summary>How GRPO scales the group-centred reward (TRL <c>scale_rewards</c>).</summary>
public enum RewardScale
{
    /// <summary>Divide by the group's std (GRPO).</summary>
    Group,
    /// <summary>No division (Dr. GRPO, arXiv 2503.20783).</summary>
    None,
    /// <summary>Divide by the std of the raw rewards over the whole batch (LitePPO, arXiv 2508.08221).</summary>
    Batch,
}

/// <summary>Options of the advantage estimators; each reads the ones it needs.</summary>
/// <param name="Gamma">γ, discount per token (GAE, REINFORCE++).</param>
/// <param name="Lambda">λ, GAE's bias–variance trade-off.</param>
/// <param name="Whiten">Whiten advantages over the batch's loss tokens: (A − mean)/√(var + 1e−8) (GAE, REINFORCE++).</param>
/// <param name="Scale">GRPO's std normalisation: group, none (Dr. GRPO) or batch (LitePPO).</param>
/// <param name="Eps">Added to the std in GRPO's denominator.</param>
/// <param name="AllowSingleSample">GRPO only: accept groups of one sample and give them A = R (verl) instead of an error.</param>
public sealed record AdvantageOptions(
    double Gamma = 1.0,
    double Lambda = 0.95,
    bool Whiten = true,
    RewardScale Scale = RewardScale.Group,
    double Eps = 1e-6,
    bool AllowSingleSample = false);

/// <summary>Advantages A [B, T] and returns [B, T], both 0 on masked tokens and without gradient.</summary>
public sealed record AdvantageResult(Tensor Advantages, Tensor Returns);

/// <summary>Computes advantages and returns for a scored batch, under no-grad.</summary>
public delegate AdvantageResult AdvantageEstimator(AdvantageInput input, AdvantageOptions options);
