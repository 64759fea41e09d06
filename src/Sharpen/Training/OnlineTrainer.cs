namespace Sharpen.Training;

using System.Diagnostics;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Sharpen.Algorithms;
using Sharpen.Data;
using Sharpen.Data.Tasks;
using Sharpen.Models;
using Sharpen.Torch;
using Sharpen.Torch.NN;
using Torch = Sharpen.Torch.Torch;

/// <summary>What the last iteration put in the buffer, one entry per completion in buffer order (for inspection and tests).</summary>
/// <param name="GroupIds">The prompt group of each completion (0..prompts_per_step − 1).</param>
/// <param name="Rewards">Outcome reward R (verdict plus overlong penalty).</param>
/// <param name="Truncated">The completion hit max_new_tokens.</param>
/// <param name="CompletionTokens">Tokens generated.</param>
/// <param name="LossTokens">Tokens in the loss mask (0 for a completion left out of the loss).</param>
public sealed record RolloutSummary(int[] GroupIds, double[] Rewards, bool[] Truncated, int[] CompletionTokens, int[] LossTokens);

/// <summary>
/// Online RL with verifiable rewards (docs/algorithms.md §6), recipe method <c>online</c>: PPO, GRPO, Dr. GRPO, DAPO, LitePPO,
/// RLOO, REINFORCE++, ReMax, GSPO and CISPO are presets of its parts (recipes/). One shared-loop step is one minibatch
/// update. When its buffer is empty, the first micro-batch of a step runs an iteration:
/// <list type="number">
/// <item>sample online.prompts_per_step prompts and generate online.n_samples completions each (token-in token-out,
/// behaviour log-probs ℓ^roll kept, stopping at the end token);</item>
/// <item>score them with the task's verifier on a worker thread while the trainer recomputes ℓ^old (and ℓ^ref, V_old)
/// with a training-style forward under no-grad; with dynamic sampling (DAPO) groups whose rewards are all equal are
/// dropped and more prompts are sampled, up to online.max_gen_rounds rounds;</item>
/// <item>rewards (verdict + overlong penalty, − β·kl per token when the KL goes in the reward), advantages with the
/// configured estimator (group ids = prompt index; ReMax generates and scores a greedy baseline), and the mismatch
/// correction weights from ℓ^old − ℓ^roll;</item>
/// <item>split into ppo_epochs × (batch / minibatch_size) seeded shuffled minibatches.</item>
/// </list>
/// Each micro-batch returns the aggregated policy loss (× the correction weights, + β·kl in the loss), − c_H·entropy,
/// + value_coef·value loss with a critic. Rollout metrics are reported on the step that generated them. Hence
/// train.max_steps = iterations × ppo_epochs × minibatches per iteration; checkpoints are exact at iteration
/// boundaries, so max_steps and save_every must be multiples of the updates per iteration.
/// </summary>
public sealed class OnlineTrainer : ITrainer
{
    readonly Recipe r;
    readonly OnlineSection o;
    readonly IVerifiableTask task;
    readonly ITokenizer tok;
    readonly CausalLM model;
    readonly CausalLM? reference;
    readonly GenerationEngine engine;
    readonly List<PromptAnswerRecord> train;
    readonly int[][] trainPrompts, evalPrompts;
    readonly string[] evalTexts;
    readonly EpochSampler sampler;
    readonly AdvantageEstimator estimator;
    readonly AdvantageOptions advantageOptions;
    readonly PolicyLoss policyLoss;
    readonly PolicyLossOptions policyLossOptions;
    readonly LossAggregation aggregation;
    readonly KlEstimator klEstimator;
    readonly MismatchCorrection? correction;
    readonly bool critic, klInReward, klInLoss;
    readonly int eosId, padId, batchSize, minibatchSize, accumulation;
    readonly string samplesPath;

    OnlineRollout? rollout;
    readonly Queue<int[]> minibatches = new();
    int[][] microRows = [];
    long minibatchTokens, minibatchSequences, iteration;
    Dictionary<string, double> stepMetrics = [];
    Stopwatch? updateClock;
    IKlController kl;

    /// <summary>Builds the policy (plus value head and frozen reference when configured), the task's problems and the parts; notes go to <paramref name="log"/>.</summary>
    public OnlineTrainer(Recipe recipe, string runDir, TextWriter log)
    {
        r = recipe;
        o = r.Online;
        task = VerifiableTasks.IsTask(o.Task) ? VerifiableTasks.Get(o.Task, r.Data.Digits)
            : throw new ArgumentException($"online.task: '{o.Task}' is not a built-in verifiable task ({string.Join(", ", VerifiableTasks.Names.Select(n => VerifiableTasks.Prefix + n))})");
        batchSize = o.PromptsPerStep * o.NSamples;
        minibatchSize = o.MinibatchSize == 0 ? batchSize : o.MinibatchSize;
        accumulation = r.Train.GradAccumSteps;
        Validate();
        estimator = AdvantageEstimators.Registry.Get(o.Estimator);
        policyLoss = PolicyLosses.Registry.Get(o.PolicyLoss);
        var aggregationName = o.PolicyLoss == "gspo" ? "seq_mean_token_mean" : o.Aggregation;
        if (aggregationName != o.Aggregation) log.WriteLine($"online: gspo uses seq_mean_token_mean aggregation (online.aggregation = {o.Aggregation} is ignored)");
        aggregation = LossAggregations.Registry.Get(aggregationName);
        klEstimator = KlEstimators.Registry.Get(o.KlEstimator);
        correction = o.Correction == "none" ? null : MismatchCorrections.Registry.Get(o.Correction);
        advantageOptions = new AdvantageOptions(o.Gamma, o.Lam, o.Whiten, Scale(o.GrpoScale));
        policyLossOptions = new PolicyLossOptions(o.ClipLow, o.ClipHigh, o.DualClip > 0 ? o.DualClip : null, o.CispoMax);
        kl = o.KlTarget > 0 ? new AdaptiveKlController(o.KlCoef, o.KlTarget, o.KlHorizon) : new FixedKlController(o.KlCoef);
        critic = o.Critic == "shared";
        klInReward = o.KlCoef > 0 && o.KlIn == "reward";
        klInLoss = o.KlCoef > 0 && o.KlIn == "loss";

        if (r.Model.Init == "new")
        {
            tok = VerifiableTasks.Tokenizer();
            model = new CausalLM(ModelSetup.NewConfig(r, tok));
        }
        else (tok, model) = ModelSetup.Policy(r);
        eosId = tok.EosId ?? throw new ArgumentException("online RL needs a tokenizer with an end-of-sequence token to stop generation");
        padId = tok.PadId ?? 0;
        if (o.KlCoef > 0) reference = ModelSetup.FrozenCopy(r, model);
        if (critic) model.AddValueHead();
        engine = new GenerationEngine(model, tok);

        var seed = (ulong)r.Train.Seed;
        var options = ModelSetup.TokenizeOptions(r);
        var eval = task.Problems(o.EvalPrompts, SplitMix64.Combine(seed, 1)).DistinctBy(p => p.Prompt.Text).ToList();
        var heldOut = eval.Select(p => p.Prompt.Text).ToHashSet();
        train = task.Problems(r.Data.BuiltinSize, seed).Where(p => !heldOut.Contains(p.Prompt.Text)).ToList();
        if (train.Count < o.PromptsPerStep)
            throw new ArgumentException($"{train.Count} training problems are fewer than online.prompts_per_step = {o.PromptsPerStep}; raise data.builtin_size");
        trainPrompts = train.Select(p => Tokenize.Prompt(p.Prompt, tok, options)).ToArray();
        evalPrompts = eval.Select(p => Tokenize.Prompt(p.Prompt, tok, options)).ToArray();
        evalTexts = eval.Select(p => p.Prompt.Text!).ToArray();
        sampler = new EpochSampler(train.Count, seed);
        samplesPath = Path.Combine(runDir, "samples.jsonl");

        log.WriteLine($"online: {task.Name} ({train.Count} training, {eval.Count} held-out problems); {o.Estimator} + {o.PolicyLoss}, " +
                      $"{o.PromptsPerStep}×{o.NSamples} completions per iteration, {UpdatesPerIteration} updates per iteration; " +
                      $"reference {(reference is null ? "none" : "frozen copy")}, critic {o.Critic}; model {model.ParameterCount():N0} parameters");
        if (evalPrompts.Length > 0)
        {
            InitialAccuracy = GreedyEvaluation()["accuracy"];
            log.WriteLine($"online: greedy accuracy of model.init on the held-out prompts: {InitialAccuracy:F3}");
        }
    }

    /// <inheritdoc/>
    public Module Model => model;

    /// <summary>The policy being trained (with its value head when online.critic = shared).</summary>
    public CausalLM Policy => model;

    /// <summary>The frozen reference policy, when a KL coefficient is set.</summary>
    public CausalLM? ReferenceModel => reference;

    /// <summary>Optimiser steps per iteration: ppo_epochs × prompts_per_step·n_samples / minibatch_size.</summary>
    public int UpdatesPerIteration => o.PpoEpochs * (batchSize / minibatchSize);

    /// <summary>True at iteration boundaries only: a checkpoint written mid-iteration does not resume exactly (<see cref="LoadState"/>).</summary>
    public bool ResumesExactlyAfter(long step) => step % UpdatesPerIteration == 0;

    /// <summary>Held-out greedy accuracy of the starting model (NaN when online.eval_prompts = 0).</summary>
    public double InitialAccuracy { get; } = double.NaN;

    /// <summary>What the last iteration put in the buffer (null before the first).</summary>
    public RolloutSummary? LastRollout { get; private set; }

    void Validate()
    {
        static void Require(bool ok, string message)
        {
            if (!ok) throw new ArgumentException(message);
        }
        var perIteration = o.PpoEpochs * (batchSize / Math.Max(minibatchSize, 1));
        Require(o.NSamples >= 1, $"online.n_samples must be ≥ 1, got {o.NSamples}");
        Require(o.NSamples >= 2 || o.Estimator is not ("grpo" or "rloo"), $"online.estimator = {o.Estimator} compares the samples of a prompt: online.n_samples must be ≥ 2, got {o.NSamples}");
        Require(o.PromptsPerStep >= 1, $"online.prompts_per_step must be ≥ 1, got {o.PromptsPerStep}");
        Require(o.PpoEpochs >= 1, $"online.ppo_epochs must be ≥ 1, got {o.PpoEpochs}");
        Require(minibatchSize >= 1 && batchSize % minibatchSize == 0,
            $"online.minibatch_size = {o.MinibatchSize} must divide the rollout batch prompts_per_step × n_samples = {batchSize}");
        Require(minibatchSize % accumulation == 0,
            $"the minibatch of {minibatchSize} completions cannot be split into train.grad_accum_steps = {accumulation} equal micro-batches");
        Require(r.Train.MaxSteps % perIteration == 0,
            $"train.max_steps = {r.Train.MaxSteps} must be a multiple of the {perIteration} updates per iteration (ppo_epochs × prompts_per_step·n_samples / minibatch_size): one loop step is one minibatch update");
        Require(r.Train.SaveEvery % perIteration == 0,
            $"train.save_every = {r.Train.SaveEvery} must be a multiple of the {perIteration} updates per iteration, so that checkpoints fall on iteration boundaries");
        Require(o.MaxNewTokens >= 1, $"online.max_new_tokens must be ≥ 1, got {o.MaxNewTokens}");
        Require(o.Temperature > 0, $"online.temperature must be > 0, got {o.Temperature}");
        Require(o.TopP > 0 && o.TopP <= 1, $"online.top_p must be in (0, 1], got {o.TopP}");
        Require(o.Critic is "none" or "shared", $"online.critic must be none or shared, got '{o.Critic}'");
        Require(o.Estimator != "gae" || o.Critic == "shared", "online.estimator = gae needs a critic: set online.critic = shared");
        Require(o.KlIn is "reward" or "loss" or "none", $"online.kl_in must be reward, loss or none, got '{o.KlIn}'");
        Require(o.KlCoef >= 0, $"online.kl_coef must be ≥ 0, got {o.KlCoef}");
        Require(o.KlTarget == 0 || (o.KlCoef > 0 && o.KlHorizon > 0), "online.kl_target (adaptive KL) needs kl_coef > 0 and kl_horizon > 0");
        Require(o.MaxGenRounds >= 1, $"online.max_gen_rounds must be ≥ 1, got {o.MaxGenRounds}");
        Require(o.OverlongBuffer >= 0 && o.OverlongBuffer < o.MaxNewTokens,
            $"online.overlong_buffer must lie in [0, max_new_tokens = {o.MaxNewTokens}), got {o.OverlongBuffer}");
        Require(o.EvalPrompts >= 0 && o.LogSamples >= 0, "online.eval_prompts and online.log_samples must be ≥ 0");
    }

    static RewardScale Scale(string name) => name switch
    {
        "group" => RewardScale.Group,
        "none" => RewardScale.None,
        "batch" => RewardScale.Batch,
        _ => throw new ArgumentException($"online.grpo_scale must be group, none or batch, got '{name}'"),
    };


    /// <inheritdoc/>
    public MicroResult Micro(long step, int micro)
    {
        if (micro == 0)
        {
            stepMetrics = minibatches.Count == 0 ? RunIteration(step) : [];
            var rows = minibatches.Dequeue();
            microRows = rows.Chunk(rows.Length / accumulation).ToArray();
            minibatchTokens = rows.Sum(i => (long)rollout!.LossTokens[i]);
            minibatchSequences = rows.Count(i => rollout!.LossTokens[i] > 0);
        }
        var b = rollout!;
        var picked = microRows[micro];
        var index = Tensor.From(picked.Select(i => (long)i).ToArray());
        long t = picked.Max(i => b.Lengths[i]);
        Tensor Rows(Tensor x, long width) => x.IndexSelect(0, index).Narrow(1, 0, width);
        var mask = Rows(b.Mask, t - 1);                                            // [b, T−1]
        var (logits, logp, values) = PolicyForward(model, Rows(b.Ids, t), Rows(b.AttentionMask, t), critic);
        var global = new AggregationOptions(minibatchTokens, minibatchSequences, accumulation, o.MaxNewTokens);

        var pl = policyLoss(new PolicyLossInput(logp, Rows(b.OldLogProbs, t - 1), Rows(b.Advantages!, t - 1), mask), policyLossOptions);
        var perToken = pl.Loss * Rows(b.Weights!, t - 1);                        // [b, T−1]
        if (klInLoss) perToken = perToken + kl.Beta * klEstimator(logp, Rows(b.RefLogProbs!, t - 1), mask);
        var pgLoss = aggregation(perToken, mask, global);
        var metrics = new Dictionary<string, double>(stepMetrics) { ["pg_loss"] = pgLoss.ToDouble() };
        foreach (var (k, v) in pl.Metrics) metrics[k] = v;

        Tensor entropy;
        using (o.EntropyCoef > 0 ? Torch.EnableGrad() : Torch.NoGrad())
            entropy = LossAggregations.TokenMean(Entropy.FromLogits(logits), mask, new AggregationOptions(minibatchTokens, WorldSize: accumulation));
        metrics["entropy"] = entropy.ToDouble();
        var loss = o.EntropyCoef > 0 ? pgLoss - o.EntropyCoef * entropy : pgLoss;
        if (critic)
        {
            var vl = ValueLoss.Clipped(values!, Rows(b.OldValues!, t - 1), Rows(b.Returns!, t - 1), mask, o.ValueClip > 0 ? o.ValueClip : null);
            var valueLoss = aggregation(vl.Loss, mask, global);
            loss = loss + o.ValueCoef * valueLoss;
            metrics["value_loss"] = valueLoss.ToDouble();
            foreach (var (k, v) in vl.Metrics) metrics[k] = v;
        }
        return new MicroResult(loss, metrics, picked.Sum(i => (long)b.Lengths[i]));
    }

    /// <summary>
    /// Logits / temperature [B, T−1, V] at every position that predicts a next token, the log-probs ℓ_t of the tokens that
    /// follow [B, T−1], and with <paramref name="withValues"/> the values V(s_t) of the states before them [B, T−1].
    /// </summary>
    (Tensor Logits, Tensor LogProbs, Tensor? Values) PolicyForward(CausalLM m, Tensor ids, Tensor attention, bool withValues)
    {
        long t = ids.Size(1);
        Tensor logits;                                                             // [B, T, V]
        Tensor? values = null;                                                     // [B, T]
        if (withValues) (logits, values) = m.ForwardWithValues(ids, attention);
        else logits = m.Forward(ids, attention);
        logits = logits.Narrow(1, 0, t - 1);                                       // [B, T−1, V]
        if (o.Temperature != 1) logits = logits / o.Temperature;
        var logp = F.TokenLogProbs(logits, ids.Narrow(1, 1, t - 1));               // [B, T−1]
        return (logits, logp, values?.Narrow(1, 0, t - 1));
    }

    // One iteration: rollouts → scores → ℓ^old/ℓ^ref/V_old → advantages → minibatches. Returns the rollout metrics.
    Dictionary<string, double> RunIteration(long step)
    {
        var updateSeconds = updateClock?.Elapsed.TotalSeconds;
        var clock = Stopwatch.StartNew();
        rollout?.Dispose();
        rollout = null;
        double generateSeconds = 0, rewardSeconds = 0;

        // 1. Generate and score; with dynamic sampling keep only groups whose rewards differ.
        var generated = new List<ScoredRow>();
        List<RolloutRow> rows;
        Task<(Verdict[] Verdicts, double Seconds)>? pending = null;
        var (kept, dropped, rounds) = (new List<ScoredRow[]>(), new List<ScoredRow[]>(), 0);
        while (true)
        {
            rounds++;
            var sw = Stopwatch.StartNew();
            var roundRows = Generate(sampler.NextBatch(o.PromptsPerStep));
            generateSeconds += sw.Elapsed.TotalSeconds;
            var scoring = Task.Run(() => Score(roundRows));
            if (!o.DynamicSampling)
            {
                (rows, pending) = (roundRows, scoring);                            // scored while ℓ^old is computed
                break;
            }
            var scored = Scored(roundRows, scoring.Result, ref rewardSeconds);
            generated.AddRange(scored);
            foreach (var g in scored.Chunk(o.NSamples))
                (o.NSamples == 1 || g.Any(x => x.Reward != g[0].Reward) ? kept : dropped).Add(g);
            if (kept.Count >= o.PromptsPerStep || rounds == o.MaxGenRounds)
            {
                rows = kept.Concat(dropped).Take(o.PromptsPerStep).SelectMany(g => g.Select(x => x.Row)).ToList();
                break;
            }
        }

        // 2. ℓ^old, ℓ^ref and V_old with a training-style forward; the rewards arrive meanwhile.
        using var scope = new TensorScope();
        var forwardClock = Stopwatch.StartNew();
        var batch = Forward(rows);
        var logprobSeconds = forwardClock.Elapsed.TotalSeconds;
        List<ScoredRow> final;
        if (pending is not null) generated = final = Scored(rows, pending.Result, ref rewardSeconds);
        else final = kept.Concat(dropped).Take(o.PromptsPerStep).SelectMany(g => g).ToList();

        // 3. Rewards, KL, advantages, correction weights.
        var metrics = new Dictionary<string, double>();
        var rewards = Tensor.From(final.Select(x => (float)x.Reward).ToArray());                       // [B]
        var groupIds = Tensor.From(Enumerable.Range(0, final.Count).Select(i => (long)(i / o.NSamples)).ToArray());
        Tensor? tokenRewards = null, greedyRewards = null;
        if (batch.RefLogProbs is { } refLogp)
        {
            var klTokens = klEstimator(batch.OldLogProbs, refLogp, batch.Mask);                           // [B, T−1]
            var klMean = MaskedMean(klTokens, batch.Mask);
            (metrics["kl"], metrics["kl_coef"]) = (klMean, kl.Beta);
            if (klInReward) tokenRewards = -kl.Beta * klTokens;
            kl.Update(klMean, final.Count);
        }
        if (o.Estimator == "remax")
        {
            var sw = Stopwatch.StartNew();
            var greedy = GreedyBaseline(final);
            generateSeconds += sw.Elapsed.TotalSeconds;
            greedyRewards = Tensor.From(greedy.Select(x => (float)x).ToArray());
            metrics["reward/greedy_mean"] = greedy.Average();
        }
        var advantages = estimator(new AdvantageInput(batch.Mask, rewards, tokenRewards, batch.OldValues, groupIds, greedyRewards), advantageOptions);
        batch.Advantages = TensorScope.Untrack(advantages.Advantages);
        batch.Returns = TensorScope.Untrack(advantages.Returns);
        var diff = (batch.OldLogProbs - batch.RolloutLogProbs).Abs() * batch.Mask;                       // |Δℓ|  [B, T−1]
        metrics["logp_diff"] = MaskedMean(diff, batch.Mask);
        metrics["logp_diff_max"] = diff.Max().ToDouble();
        if (correction is not null)
        {
            var c = correction(batch.OldLogProbs, batch.RolloutLogProbs, batch.Mask, new CorrectionOptions(o.CorrectionMin, o.CorrectionMax));
            batch.Weights = TensorScope.Untrack(c.Weights);
            foreach (var (k, v) in c.Metrics.Where(kv => kv.Key != "mean_abs_logp_diff")) metrics["correction/" + k] = v;
        }
        else batch.Weights = TensorScope.Untrack(batch.Mask.Clone());
        rollout = batch;

        // 4. Minibatches: ppo_epochs seeded shuffles of the batch.
        var rng = new SplitMix64(SplitMix64.Combine((ulong)r.Train.Seed, (ulong)iteration));
        for (var e = 0; e < o.PpoEpochs; e++)
            foreach (var mb in rng.Permutation(final.Count).Chunk(minibatchSize)) minibatches.Enqueue(mb);
        iteration++;

        LastRollout = new RolloutSummary(
            final.Select((_, i) => i / o.NSamples).ToArray(), final.Select(x => x.Reward).ToArray(), final.Select(x => x.Row.Truncated).ToArray(),
            final.Select(x => x.Row.Completion.Tokens.Length).ToArray(), batch.LossTokens.ToArray());
        LogSamples(step, final);

        // Metrics over every completion generated this iteration (all rounds).
        var allRewards = generated.Select(x => x.Reward).ToArray();
        var groups = generated.Chunk(o.NSamples).ToList();
        var generatedTokens = generated.Sum(x => x.Row.Completion.Tokens.Length);
        metrics["reward/mean"] = allRewards.Average();
        metrics["reward/std"] = StdDev(allRewards);
        metrics["accuracy"] = generated.Average(x => x.Verdict.Reward == 1 ? 1.0 : 0.0);
        metrics["parse_fail"] = generated.Average(x => x.Verdict.ParseFailed ? 1.0 : 0.0);
        metrics["response_length"] = generated.Average(x => x.Row.Completion.Tokens.Length);
        metrics["truncated"] = generated.Average(x => x.Row.Truncated ? 1.0 : 0.0);
        metrics["zero_std_groups"] = groups.Average(g => g.All(x => x.Reward == g[0].Reward) ? 1.0 : 0.0);
        if (o.DynamicSampling)
        {
            metrics["dynamic/rounds"] = rounds;
            metrics["dynamic/filled_groups"] = Math.Max(0, o.PromptsPerStep - kept.Count);
        }
        metrics["time/generate_s"] = generateSeconds;
        metrics["time/reward_s"] = rewardSeconds;
        metrics["time/logprob_s"] = logprobSeconds;
        metrics["time/rollout_s"] = clock.Elapsed.TotalSeconds;
        if (updateSeconds is { } u) metrics["time/update_s"] = u;
        metrics["gen_tokens_per_s"] = generatedTokens / Math.Max(generateSeconds, 1e-9);
        updateClock = Stopwatch.StartNew();
        return metrics;
    }

    List<RolloutRow> Generate(int[] problems)
    {
        var prompts = problems.Select(i => trainPrompts[i]).ToList();
        var completions = engine.Generate(prompts, new SamplingOptions
        {
            Temperature = o.Temperature, TopP = o.TopP, N = o.NSamples, MaxNewTokens = o.MaxNewTokens, StopTokenIds = [eosId],
        });
        return completions.Select(c => new RolloutRow(problems[c.PromptIndex], prompts[c.PromptIndex], c)).ToList();
    }

    // Runs on a worker thread: decoding and verification only, no tensors.
    (Verdict[] Verdicts, double Seconds) Score(IReadOnlyList<RolloutRow> rows)
    {
        var sw = Stopwatch.StartNew();
        var verdicts = rows.Select(x => task.Verify(train[x.Problem].Prompt.Text!, tok.Decode(x.Completion.Tokens, skipSpecialTokens: true))).ToArray();
        return (verdicts, sw.Elapsed.TotalSeconds);
    }

    List<ScoredRow> Scored(IReadOnlyList<RolloutRow> rows, (Verdict[] Verdicts, double Seconds) scores, ref double seconds)
    {
        seconds += scores.Seconds;
        return rows.Select((x, i) => new ScoredRow(x, scores.Verdicts[i], scores.Verdicts[i].Reward + OverlongPenalty(x.Completion.Tokens.Length))).ToList();
    }

    /// <summary>
    /// DAPO's soft overlong punishment (arXiv 2503.14476): with L_exp = L_max − L_buf, a completion of |y| &gt; L_exp tokens
    /// gets −min(|y| − L_exp, L_buf)/L_buf · factor; 0 when online.overlong_buffer is 0.
    /// </summary>
    double OverlongPenalty(int length)
    {
        if (o.OverlongBuffer == 0) return 0;
        var expected = o.MaxNewTokens - o.OverlongBuffer;
        return length > expected ? -Math.Min(length - expected, o.OverlongBuffer) / (double)o.OverlongBuffer * o.OverlongFactor : 0;
    }

    // ReMax: the reward of one greedy completion per prompt, repeated for each of its samples.
    double[] GreedyBaseline(List<ScoredRow> rows)
    {
        var groups = rows.Chunk(o.NSamples).Select(g => g[0].Row).ToList();
        var greedy = engine.Generate(groups.Select(g => g.Prompt).ToList(),
                                     new SamplingOptions { Greedy = true, MaxNewTokens = o.MaxNewTokens, StopTokenIds = [eosId] });
        var rewards = greedy.Select(c => task.Verify(train[groups[c.PromptIndex].Problem].Prompt.Text!, tok.Decode(c.Tokens, skipSpecialTokens: true)).Reward
                                         + OverlongPenalty(c.Tokens.Length)).ToArray();
        return rows.Select((_, i) => rewards[i / o.NSamples]).ToArray();
    }

    // Pads the rows and computes ℓ^old (and ℓ^ref, V_old) under no-grad, one micro-batch of rows at a time.
    OnlineRollout Forward(List<RolloutRow> rows)
    {
        var (ids, attention, mask, rolloutLogp, lengths, lossTokens) = OnlineRollout.Pad(rows, padId, o.MaskTruncated);
        var (old, refs, values) = (new List<Tensor>(), new List<Tensor>(), new List<Tensor>());
        using (Torch.NoGrad())
        {
            var chunk = minibatchSize / accumulation;
            for (var start = 0; start < rows.Count; start += chunk)
            {
                var n = Math.Min(chunk, rows.Count - start);
                var (chunkIds, chunkAttention) = (ids.Narrow(0, start, n), attention.Narrow(0, start, n));
                var (_, logp, v) = PolicyForward(model, chunkIds, chunkAttention, critic);
                old.Add(logp);
                if (v is not null) values.Add(v);
                if (reference is not null) refs.Add(PolicyForward(reference, chunkIds, chunkAttention, false).LogProbs);
            }
        }
        static Tensor? Own(List<Tensor> parts) => parts.Count == 0 ? null : TensorScope.Untrack(Tensor.Cat(parts, 0));
        return new OnlineRollout
        {
            Ids = TensorScope.Untrack(ids), AttentionMask = TensorScope.Untrack(attention), Mask = TensorScope.Untrack(mask),
            RolloutLogProbs = TensorScope.Untrack(rolloutLogp), OldLogProbs = Own(old)!, RefLogProbs = Own(refs), OldValues = Own(values),
            Lengths = lengths, LossTokens = lossTokens,
        };
    }

    static double MaskedMean(Tensor x, Tensor mask) => ((x * mask).Sum() / mask.Sum().Clamp(min: 1)).ToDouble();

    static double StdDev(double[] x)
    {
        if (x.Length < 2) return 0;
        var mean = x.Average();
        return Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1));
    }

    static readonly JsonSerializerOptions SampleJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    void LogSamples(long step, List<ScoredRow> rows)
    {
        if (o.LogSamples == 0) return;
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(samplesPath))!);
        using var w = File.AppendText(samplesPath);
        foreach (var x in rows.Take(o.LogSamples))
            w.WriteLine(new JsonObject
            {
                ["step"] = step + 1, ["prompt"] = train[x.Row.Problem].Prompt.Text, ["completion"] = tok.Decode(x.Row.Completion.Tokens, skipSpecialTokens: true),
                ["reward"] = x.Reward, ["correct"] = x.Verdict.Reward == 1, ["finish"] = x.Row.Completion.Finish.ToString().ToLowerInvariant(),
            }.ToJsonString(SampleJson));
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double> Evaluate(long step) =>
        evalPrompts.Length == 0 ? new Dictionary<string, double>() : GreedyEvaluation();

    // Greedy decoding of the held-out prompts: accuracy, parse failures and mean completion length.
    Dictionary<string, double> GreedyEvaluation()
    {
        var completions = engine.Generate(evalPrompts, new SamplingOptions { Greedy = true, MaxNewTokens = o.MaxNewTokens, StopTokenIds = [eosId] });
        var verdicts = completions.Select(c => task.Verify(evalTexts[c.PromptIndex], tok.Decode(c.Tokens, skipSpecialTokens: true))).ToList();
        return new()
        {
            ["accuracy"] = verdicts.Average(v => v.Reward == 1 ? 1.0 : 0.0),
            ["parse_fail"] = verdicts.Average(v => v.ParseFailed ? 1.0 : 0.0),
            ["response_length"] = completions.Average(c => c.Tokens.Length),
        };
    }

    /// <inheritdoc/>
    public string SaveState() => new JsonObject
    {
        ["sampler"] = JsonNode.Parse(sampler.State.ToJson()), ["iteration"] = iteration, ["kl_coef"] = kl.Beta,
    }.ToJsonString();

    /// <summary>
    /// Restores <see cref="SaveState"/>'s text. The buffer starts empty: a checkpoint at an iteration boundary resumes
    /// exactly (the loop writes no other: <see cref="ResumesExactlyAfter"/>); one written mid-iteration would start the next iteration.
    /// </summary>
    public void LoadState(string state)
    {
        var json = JsonNode.Parse(state)!.AsObject();
        sampler.State = SamplerState.FromJson(json["sampler"]!.ToJsonString());
        iteration = json["iteration"]!.GetValue<long>();
        if (o.KlTarget > 0) kl = new AdaptiveKlController(json["kl_coef"]!.GetValue<double>(), o.KlTarget, o.KlHorizon);
        minibatches.Clear();
        rollout?.Dispose();
        rollout = null;
    }

    /// <summary>Saves the policy (without the value head) and tokenizer in Hugging Face layout.</summary>
    public void SaveFinal(string dir)
    {
        if (!critic)
        {
            HfCheckpoint.Save(model, model.Config, dir, tok);
            return;
        }
        using var policy = new CausalLM(model.Config);
        using (new TensorScope())
            policy.LoadStateDict(model.StateDict().Where(kv => !kv.Key.StartsWith("v_head.", StringComparison.Ordinal)).ToDictionary());
        HfCheckpoint.Save(policy, policy.Config, dir, tok);
    }

    /// <summary>Disposes the policy, the reference and the rollout buffer.</summary>
    public void Dispose()
    {
        rollout?.Dispose();
        reference?.Dispose();
        model.Dispose();
    }
}
