using Sharpen.Torch;

namespace Sharpen.Algorithms;

using Torch = Sharpen.Torch.Torch;

/// <summary>
/// Advantage estimators (docs/algorithms.md §2), registered by name. Each is a pure function of the scored batch,
/// runs under no-grad and returns tensors owned by the caller's scope.
/// </summary>
public static class AdvantageEstimators
{
    /// <summary>Estimators by name: <c>gae</c>, <c>grpo</c>, <c>rloo</c>, <c>reinforce_pp</c>, <c>reinforce_pp_baseline</c>, <c>remax</c>.</summary>
    public static readonly Registry<AdvantageEstimator> Registry = new Registry<AdvantageEstimator>("advantage estimator")
        .Add("gae", Gae)
        .Add("grpo", Grpo)
        .Add("rloo", Rloo)
        .Add("reinforce_pp", ReinforcePlusPlus)
        .Add("reinforce_pp_baseline", ReinforcePlusPlusBaseline)
        .Add("remax", ReMax);

    /// <summary>
    /// Generalised advantage estimation (*High-Dimensional Continuous Control Using GAE*, arXiv 1506.02438):
    /// δ_t = r_t + γ·V_{t+1} − V_t, A_t = δ_t + γλ·A_{t+1}, V_{T+1} = A_{T+1} = 0, Returns_t = A_t + V_t.
    /// Masked tokens inside a response are skipped: V_{t+1} and A_{t+1} carry across them (verl).
    /// Needs <see cref="AdvantageInput.Values"/>.
    /// </summary>
    public static AdvantageResult Gae(AdvantageInput input, AdvantageOptions options)
    {
        var values = input.Values ?? throw Needs("gae", "Values [B, T] from a critic");
        using var noGrad = Torch.NoGrad();
        using var scope = new TensorScope();
        var m = input.Mask.To(values.DType);                                   // [B, T]
        var r = TokenRewards(input, m, outcome: input.Rewards);                 // [B, T]
        var (batch, length) = (m.Size(0), m.Size(1));
        var nextValue = Tensor.Zeros([batch], values.DType, values.Device);      // V_{t+1}  [B]
        var lastGaeLam = Tensor.Zeros([batch], values.DType, values.Device);     // A_{t+1}  [B]
        var advantages = new Tensor[length];
        for (var t = length - 1; t >= 0; t--)
        {
            var (mt, vt) = (m.Select(1, t), values.Select(1, t));               // [B]
            var delta = r.Select(1, t) + options.Gamma * nextValue - vt;
            var gaeLam = delta + options.Gamma * options.Lambda * lastGaeLam;
            var valid = mt.Gt(0);
            nextValue = Tensor.Where(valid, vt, nextValue);
            lastGaeLam = Tensor.Where(valid, gaeLam, lastGaeLam);
            advantages[t] = lastGaeLam;
        }
        var a = Tensor.Stack(advantages, 1);                                    // [B, T]
        var returns = (a + values) * m;
        a = options.Whiten ? MaskedReduce.Whiten(a, m) : a * m;
        return new(scope.Keep(a), scope.Keep(returns));
    }

    /// <summary>
    /// GRPO group normalisation (*DeepSeekMath*, arXiv 2402.03300): A_i = (R_i − μ_x)/(σ_x + eps) on every loss
    /// token, σ Bessel-corrected. <see cref="AdvantageOptions.Scale"/> None is Dr. GRPO (A_i = R_i − μ_x), Batch
    /// is LitePPO (σ over the whole batch). Needs groups of G ≥ 2 unless <see cref="AdvantageOptions.AllowSingleSample"/>.
    /// Returns equal the advantages.
    /// </summary>
    public static AdvantageResult Grpo(AdvantageInput input, AdvantageOptions options)
    {
        using var noGrad = Torch.NoGrad();
        using var scope = new TensorScope();
        var R = OutcomeScore("grpo", input);                                   // [B]
        var m = input.Mask.To(R.DType);                                        // [B, T]
        var (mu, sigma, count) = GroupStats("grpo", R, input.GroupIds);         // [B] each
        if (options.AllowSingleSample)
        {
            var single = count.Lt(2);
            (mu, sigma) = (mu.MaskedFill(single, 0), sigma.MaskedFill(single, 1));
        }
        else RequireGroups("grpo", count, input.GroupIds!);
        var centred = R - mu;
        var a = options.Scale switch
        {
            RewardScale.Group => centred / (sigma + options.Eps),
            RewardScale.None => centred,
            RewardScale.Batch => centred / (R.Std(0) + options.Eps),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Scale, "unknown RewardScale"),
        };
        return Broadcast(scope, a, m);
    }

    /// <summary>
    /// RLOO (*Back to Basics: Revisiting REINFORCE Style Optimization*, arXiv 2402.14740): the baseline of each
    /// sample is the mean reward of the other G − 1 samples of its prompt,
    /// A_i = R_i − (1/(G−1))·Σ_{j≠i} R_j. Needs G ≥ 2. Returns equal the advantages.
    /// </summary>
    public static AdvantageResult Rloo(AdvantageInput input, AdvantageOptions options)
    {
        using var noGrad = Torch.NoGrad();
        using var scope = new TensorScope();
        var R = OutcomeScore("rloo", input);                                   // [B]
        var m = input.Mask.To(R.DType);                                        // [B, T]
        var (mu, _, count) = GroupStats("rloo", R, input.GroupIds);
        RequireGroups("rloo", count, input.GroupIds!);
        var others = (mu * count - R) / (count - 1);                           // leave-one-out mean  [B]
        return Broadcast(scope, R - others, m);
    }

    /// <summary>
    /// REINFORCE++ (arXiv 2501.03262): Returns_t = Σ_{k≥t} γ^{k−t}·m_k·r_k on the token rewards (which carry any
    /// KL-in-reward shaping), A = Returns whitened over every loss token of the batch.
    /// </summary>
    public static AdvantageResult ReinforcePlusPlus(AdvantageInput input, AdvantageOptions options)
    {
        using var noGrad = Torch.NoGrad();
        using var scope = new TensorScope();
        var m = input.Mask.To(RewardDType("reinforce_pp", input));             // [B, T]
        var r = TokenRewards(input, m, outcome: input.Rewards);                 // [B, T]
        return WhitenedReturns(scope, r, m, options);
    }

    /// <summary>
    /// REINFORCE++-baseline (arXiv 2501.03262), in OpenRLHF's order: the outcome reward is centred on its
    /// prompt group's mean (R'_i = R_i − μ_x, μ := 0 for a group of one), then the token rewards are added,
    /// then discounted returns are whitened over the batch. Needs <see cref="AdvantageInput.Rewards"/> and group ids.
    /// </summary>
    public static AdvantageResult ReinforcePlusPlusBaseline(AdvantageInput input, AdvantageOptions options)
    {
        var rewards = input.Rewards ?? throw Needs("reinforce_pp_baseline", "Rewards [B] (the outcome reward the group baseline is taken from)");
        using var noGrad = Torch.NoGrad();
        using var scope = new TensorScope();
        var m = input.Mask.To(rewards.DType);                                  // [B, T]
        var (mu, _, count) = GroupStats("reinforce_pp_baseline", rewards, input.GroupIds);
        var centred = rewards - mu.MaskedFill(count.Lt(2), 0);                  // R'  [B]
        var r = TokenRewards(input, m, outcome: centred);                       // [B, T]
        return WhitenedReturns(scope, r, m, options);
    }

    /// <summary>
    /// ReMax (arXiv 2310.10505): Returns_t = Σ_{k≥t} m_k·r_k (undiscounted) and A_t = Returns_t − R(x, y_greedy),
    /// the reward of the greedy response as baseline. Needs <see cref="AdvantageInput.GreedyRewards"/>.
    /// </summary>
    public static AdvantageResult ReMax(AdvantageInput input, AdvantageOptions options)
    {
        var greedy = input.GreedyRewards ?? throw Needs("remax", "GreedyRewards [B] (reward of the greedy response to each prompt)");
        using var noGrad = Torch.NoGrad();
        using var scope = new TensorScope();
        var m = input.Mask.To(RewardDType("remax", input));                    // [B, T]
        var returns = RewardsToGo(TokenRewards(input, m, outcome: input.Rewards), m, gamma: 1.0);
        var a = (returns - greedy.To(m.DType).Unsqueeze(1)) * m;               // [B, T]
        return new(scope.Keep(a), scope.Keep(returns));
    }

    // ---- shared steps ------------------------------------------------------------------------

    // r[b,t] = TokenRewards[b,t] + [t = last loss token]·Outcome[b]   [B, T]
    static Tensor TokenRewards(AdvantageInput input, Tensor m, Tensor? outcome)
    {
        var r = input.TokenRewards?.To(m.DType) ?? Tensor.Zeros(m.Shape, m.DType, m.Device);
        if (outcome is null) return r;
        var positions = Tensor.Arange(1, m.Size(1) + 1, 1, m.DType, m.Device); // [T]
        var last = (m * positions).Argmax(1, keepdim: true);                   // index of the last loss token  [B, 1]
        var credited = Tensor.Zeros(m.Shape, m.DType, m.Device).Scatter(1, last, outcome.To(m.DType).Unsqueeze(1)) * m;
        return r + credited;
    }

    // R_b = Rewards_b + Σ_t m·TokenRewards_{b,t}   [B]
    static Tensor OutcomeScore(string name, AdvantageInput input)
    {
        var dtype = RewardDType(name, input);
        var R = input.Rewards?.To(dtype);
        if (input.TokenRewards is { } tokenRewards)
        {
            var summed = (tokenRewards.To(dtype) * input.Mask.To(dtype)).Sum(1);
            R = R is null ? summed : R + summed;
        }
        return R!;
    }

    static DType RewardDType(string name, AdvantageInput input) =>
        (input.Rewards ?? input.TokenRewards ?? throw Needs(name, "Rewards [B] or TokenRewards [B, T]")).DType;

    // Returns_t = Σ_{k≥t} γ^{k−t}·m_k·r_k   [B, T]
    static Tensor RewardsToGo(Tensor r, Tensor m, double gamma)
    {
        var rm = r * m;
        var running = Tensor.Zeros([m.Size(0)], m.DType, m.Device);
        var returns = new Tensor[m.Size(1)];
        for (var t = returns.Length - 1; t >= 0; t--)
            returns[t] = running = rm.Select(1, t) + gamma * running;
        return Tensor.Stack(returns, 1) * m;
    }

    static AdvantageResult WhitenedReturns(TensorScope scope, Tensor r, Tensor m, AdvantageOptions options)
    {
        var returns = RewardsToGo(r, m, options.Gamma);                        // [B, T]
        var a = options.Whiten ? MaskedReduce.Whiten(returns, m) : returns * m;
        return new(scope.Keep(a), scope.Keep(returns));
    }

    // A per sample [B] → on every loss token [B, T]; returns are the same values.
    static AdvantageResult Broadcast(TensorScope scope, Tensor perSample, Tensor m)
    {
        var a = perSample.Unsqueeze(1) * m;                                    // [B, T]
        return new(scope.Keep(a), scope.Keep(a.Alias()));
    }

    // Group mean μ, Bessel std σ and size G, each gathered back to its samples   [B] each.
    static (Tensor Mean, Tensor Std, Tensor Count) GroupStats(string name, Tensor R, Tensor? groupIds)
    {
        var ids = groupIds ?? throw Needs(name, "GroupIds [B] (int64, one id per prompt)");
        if (ids.DType != DType.Int64 || ids.Dim != 1 || ids.Size(0) != R.Size(0))
            throw new ArgumentException($"{name}: GroupIds must be int64 [B] = [{R.Size(0)}], got {ids}");
        if (ids.Min().ToInt64() < 0) throw new ArgumentException($"{name}: GroupIds must be non-negative");
        var groups = ids.Max().ToInt64() + 1;
        var zeros = Tensor.Zeros([groups], R.DType, R.Device);                  // [P]
        var count = zeros.ScatterAdd(0, ids, Tensor.Ones(R.Shape, R.DType, R.Device));
        var mean = (zeros.ScatterAdd(0, ids, R) / count.Clamp(min: 1)).Gather(0, ids);   // μ_x  [B]
        var squares = zeros.ScatterAdd(0, ids, (R - mean).Square());
        var std = (squares / (count - 1).Clamp(min: 1)).Sqrt().Gather(0, ids);            // σ_x  [B]
        return (mean, std, count.Gather(0, ids));
    }

    static void RequireGroups(string name, Tensor count, Tensor ids)
    {
        if (count.Min().ToDouble() >= 2) return;
        var sizes = count.To(DType.Int64).ToArray<long>();
        var id = ids.ToArray<long>()[Array.FindIndex(sizes, s => s < 2)];
        throw new ArgumentException(
            $"{name}: prompt group {id} has a single sample; the estimator needs G ≥ 2 samples per prompt");
    }

    static ArgumentException Needs(string name, string what) => new($"{name}: needs {what}");
}
