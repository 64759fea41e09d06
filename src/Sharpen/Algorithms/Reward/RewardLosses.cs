using Sharpen.Torch;

namespace Sharpen.Algorithms.Reward;

/// <summary>
/// A pairwise reward-model loss: rewards of the chosen and rejected responses (same shape, [B] for one model or
/// [B, K] for a K-head ensemble) and pair margins broadcastable to that shape → per-pair losses of that shape.
/// <paramref name="centerCoef"/> is the reward-centring coefficient c.
/// </summary>
public delegate Tensor PairwiseRewardLoss(Tensor chosen, Tensor rejected, Tensor margin, double centerCoef);

/// <summary>Reward-model losses by name (docs/algorithms.md §5.1).</summary>
public static class RewardLosses
{
    /// <summary>Pairwise losses: <c>bradley_terry</c>.</summary>
    public static readonly Registry<PairwiseRewardLoss> Registry = new Registry<PairwiseRewardLoss>("reward loss")
        .Add("bradley_terry", BradleyTerry);

    /// <summary>
    /// Bradley–Terry with margin and centring, per pair: ℓ = −log σ(r_w − r_l − m) + c·(r_w + r_l)². Its mean over pairs
    /// is L = −mean log σ(r_w − r_l − m) + c·mean((r_w + r_l)²); the margin m follows Llama 2 (arXiv 2307.09288), the
    /// centring term (which pins the rewards' mean near 0, since BT only sees differences) Eisenstein et al.
    /// (arXiv 2312.09244).
    /// </summary>
    public static Tensor BradleyTerry(Tensor chosen, Tensor rejected, Tensor margin, double centerCoef)
    {
        var loss = -(chosen - rejected - margin).LogSigmoid();           // [B] or [B, K]
        return centerCoef == 0 ? loss : loss + centerCoef * (chosen + rejected).Square();
    }
}
