using Sharpen.Torch;

namespace Sharpen.Algorithms;

using Torch = Sharpen.Torch.Torch;

/// <summary>One minibatch for a policy loss; every tensor is [B, T].</summary>
/// <param name="LogProbs">ℓ_t = log π_θ(y_t|s_t), with gradient.</param>
/// <param name="OldLogProbs">ℓ^old_t, the log-probs of the policy that generated the batch (detached here).</param>
/// <param name="Advantages">A_{i,t} (detached here).</param>
/// <param name="Mask">m_t: 1 on loss tokens (bool or float).</param>
public sealed record PolicyLossInput(Tensor LogProbs, Tensor OldLogProbs, Tensor Advantages, Tensor Mask);

/// <summary>Options of the policy losses; each reads the ones it needs.</summary>
/// <param name="ClipLow">ε_low: the ratio is clipped below at 1 − ε_low (PPO-clip, GSPO).</param>
/// <param name="ClipHigh">ε_high: the ratio is clipped above at 1 + ε_high; 0.28 is DAPO's clip-higher.</param>
/// <param name="DualClip">c &gt; 1: for A &lt; 0 the PPO-clip loss is capped at −c·A (null: off).</param>
/// <param name="CispoMax">ε_max: CISPO's upper bound on the detached ratio.</param>
/// <param name="CispoMin">Optional lower bound on CISPO's detached ratio (null: none).</param>
public sealed record PolicyLossOptions(
    double ClipLow = 0.2,
    double ClipHigh = 0.2,
    double? DualClip = 3.0,
    double CispoMax = 5.0,
    double? CispoMin = null);

/// <summary>
/// Per-token loss L [B, T] (0 on masked tokens, to be reduced by a <see cref="LossAggregation"/>) and metrics
/// averaged over loss tokens: <c>ppo_kl</c> = mean(ℓ^old − ℓ), <c>approx_kl</c> = mean((ρ − 1) − log ρ), and where
/// the loss clips, <c>clipfrac</c> (and <c>clipfrac_lower</c>, the dual-clip fraction).
/// </summary>
public sealed record PolicyLossResult(Tensor Loss, IReadOnlyDictionary<string, double> Metrics);

/// <summary>A policy-gradient surrogate loss to be minimised.</summary>
public delegate PolicyLossResult PolicyLoss(PolicyLossInput input, PolicyLossOptions options);

/// <summary>Policy losses (docs/algorithms.md §3), registered by name. ρ_t = exp(ℓ_t − ℓ^old_t), the log-ratio clamped to [−20, 20].</summary>
public static class PolicyLosses
{
    /// <summary>Policy losses by name: <c>ppo_clip</c>, <c>gspo</c>, <c>cispo</c>, <c>reinforce</c>.</summary>
    public static readonly Registry<PolicyLoss> Registry = new Registry<PolicyLoss>("policy loss")
        .Add("ppo_clip", PpoClip)
        .Add("gspo", Gspo)
        .Add("cispo", Cispo)
        .Add("reinforce", Reinforce);

    /// <summary>
    /// PPO-clip (*Proximal Policy Optimization Algorithms*, arXiv 1707.06347) with asymmetric radii (DAPO,
    /// arXiv 2503.14476) and dual clip (arXiv 1912.09729):
    /// L_t = max(−A·ρ_t, −A·clip(ρ_t, 1−ε_low, 1+ε_high)); for A &lt; 0, L_t = min(L_t, −c·A).
    /// </summary>
    public static PolicyLossResult PpoClip(PolicyLossInput input, PolicyLossOptions options)
    {
        using var scope = new TensorScope();
        var (logp, oldLogp, A, m) = Unpack(input);
        var logRatio = (logp - oldLogp).Clamp(-20, 20);                        // [B, T]
        var ratio = logRatio.Exp();                                            // ρ_t
        var pgLosses1 = -A * ratio;
        var pgLosses2 = -A * ratio.Clamp(1 - options.ClipLow, 1 + options.ClipHigh);
        var loss = pgLosses1.Maximum(pgLosses2);
        var metrics = KlMetrics(logRatio, m);
        using (Torch.NoGrad()) metrics["clipfrac"] = MaskedReduce.MeanValue(pgLosses2.Gt(pgLosses1).To(m.DType), m);
        if (options.DualClip is { } c)
        {
            var pgLosses3 = -c * A;
            var negative = A.Lt(0);
            using (Torch.NoGrad()) metrics["clipfrac_lower"] = MaskedReduce.MeanValue((loss.Gt(pgLosses3) & negative).To(m.DType), m);
            loss = Tensor.Where(negative, loss.Minimum(pgLosses3), loss);
        }
        return new(scope.Keep(loss * m), metrics);
    }

    /// <summary>
    /// GSPO (*Group Sequence Policy Optimization*, arXiv 2507.18071): one ratio per sequence,
    /// s_i = exp((1/|y_i|)·Σ_t m_t(ℓ_t − ℓ^old_t)), used per token as s_{i,t} = sg(s_i)·exp(ℓ_t − sg(ℓ_t)) (value
    /// s_i, gradient s_i·∇ℓ_t), log clamped at 10; L_t = max(−A·s_{i,t}, −A·clip(s_{i,t}, 1−ε_low, 1+ε_high)).
    /// Aggregate with <c>seq_mean_token_mean</c>.
    /// </summary>
    public static PolicyLossResult Gspo(PolicyLossInput input, PolicyLossOptions options)
    {
        using var scope = new TensorScope();
        var (logp, oldLogp, A, m) = Unpack(input);
        var logRatio = logp - oldLogp;                                         // [B, T]
        var length = m.Sum(1).Clamp(min: 1);                                   // |y_i|  [B]
        var seqLogRatio = (logRatio * m).Sum(1) / length;                      // log s_i  [B]
        var logS = (logp - logp.Detach() + seqLogRatio.Detach().Unsqueeze(1)).Clamp(max: 10);   // [B, T]
        var s = logS.Exp();                                                    // s_{i,t}
        var pgLosses1 = -A * s;
        var pgLosses2 = -A * s.Clamp(1 - options.ClipLow, 1 + options.ClipHigh);
        var loss = pgLosses1.Maximum(pgLosses2);
        var metrics = KlMetrics(logRatio.Clamp(-20, 20), m);
        using (Torch.NoGrad()) metrics["clipfrac"] = MaskedReduce.MeanValue(pgLosses2.Gt(pgLosses1).To(m.DType), m);
        return new(scope.Keep(loss * m), metrics);
    }

    /// <summary>
    /// CISPO (MiniMax-M1, arXiv 2506.13585), TRL form: L_t = −sg(ρ̂_t)·A·ℓ_t with ρ̂ = min(ρ, ε_max) and an optional
    /// lower bound. Every token keeps a gradient; clipping only bounds its weight.
    /// </summary>
    public static PolicyLossResult Cispo(PolicyLossInput input, PolicyLossOptions options)
    {
        using var scope = new TensorScope();
        var (logp, oldLogp, A, m) = Unpack(input);
        var logRatio = (logp - oldLogp).Clamp(-20, 20);                        // [B, T]
        var ratio = logRatio.Detach().Exp();                                   // sg(ρ_t)
        var clippedRatio = ratio.Clamp(options.CispoMin, options.CispoMax);    // ρ̂_t
        var loss = -clippedRatio * A * logp;
        var metrics = KlMetrics(logRatio, m);
        metrics["clipfrac"] = MaskedReduce.MeanValue(clippedRatio.Ne(ratio).To(m.DType), m);
        return new(scope.Keep(loss * m), metrics);
    }

    /// <summary>Vanilla REINFORCE: L_t = −A·ℓ_t (no ratio, no clip; rollout weights multiply the result).</summary>
    public static PolicyLossResult Reinforce(PolicyLossInput input, PolicyLossOptions options)
    {
        using var scope = new TensorScope();
        var (logp, oldLogp, A, m) = Unpack(input);
        var loss = -A * logp;                                                  // [B, T]
        return new(scope.Keep(loss * m), KlMetrics((logp - oldLogp).Clamp(-20, 20), m));
    }

    static (Tensor LogProbs, Tensor OldLogProbs, Tensor Advantages, Tensor Mask) Unpack(PolicyLossInput input) =>
        (input.LogProbs, input.OldLogProbs.Detach(), input.Advantages.Detach(), input.Mask.To(input.LogProbs.DType));

    // ppo_kl = mean(ℓ^old − ℓ) and approx_kl = mean((ρ − 1) − log ρ) over loss tokens.
    static Dictionary<string, double> KlMetrics(Tensor logRatio, Tensor m)
    {
        using var noGrad = Torch.NoGrad();
        return new()
        {
            ["ppo_kl"] = MaskedReduce.MeanValue(-logRatio, m),
            ["approx_kl"] = MaskedReduce.MeanValue(logRatio.Exp() - 1 - logRatio, m),
        };
    }
}
