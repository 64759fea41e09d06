namespace Sharpen.Training;

using Sharpen.Algorithms.Reward;
using Sharpen.Data;
using Sharpen.Models;
using Sharpen.Torch;
using Sharpen.Torch.NN;
using Torch = Sharpen.Torch.Torch;

/// <summary>
/// Reward-model training on preference pairs (docs/algorithms.md §5.1): a trunk with K scalar heads
/// (<see cref="ScalarHeadModel"/>), each read at the last real token, trained with a pairwise loss
/// (<c>reward.loss</c>, Bradley–Terry with the records' margins and optional centring) per head and averaged over
/// heads. All heads see the same pairs and differ by their random initialisation, or also by the pairs they weigh
/// with <c>reward.bootstrap</c>; since they share the trunk, their disagreement measures uncertainty in the last
/// layer only. Accuracy, margin and reward statistics use the ensemble reward of <c>reward.aggregation</c>
/// (mean, wco, uwo); accuracy counts a pair as right when its chosen reward is strictly higher.
/// The trunk is fresh (<c>model.init: new</c>) or a causal LM checkpoint with its LM head dropped (a reward-model
/// checkpoint with K heads continues as it is).
/// </summary>
public sealed class RewardTrainer : ITrainer
{
    readonly Recipe r;
    readonly ITokenizer tok;
    readonly ScalarHeadModel model;
    readonly List<PairExample> train, eval;
    readonly EpochSampler sampler;
    readonly PairwiseRewardLoss loss;
    readonly EnsembleAggregation aggregate;
    readonly float[]? bootstrap;   // [N·K] per-pair, per-head resample counts
    readonly int padId;

    /// <summary>Builds the model and tokenises the recipe's preference pairs; progress lines go to <paramref name="log"/>.</summary>
    public RewardTrainer(Recipe recipe, TextWriter log)
    {
        r = recipe;
        var o = r.Reward;
        if (o.Heads < 1) throw new ArgumentException($"reward.heads must be ≥ 1, got {o.Heads}");
        loss = RewardLosses.Registry.Get(o.Loss);
        aggregate = RewardEnsembles.Registry.Get(o.Aggregation);
        (tok, model) = Build(r);
        padId = tok.PadId ?? 0;
        var (trainRecords, evalRecords) = ModelSetup.Split(r, log);
        var options = ModelSetup.TokenizeOptions(r);
        train = Tokenize.Pairs(Pairs(trainRecords, r.Data.Train), tok, options, out var truncated);
        eval = Tokenize.Pairs(Pairs(evalRecords, r.Data.Eval.Length > 0 ? r.Data.Eval : r.Data.Train), tok, options, out _);
        if (truncated > 0) log.WriteLine($"data: {truncated} training pair(s) longer than model.max_length = {r.Model.MaxLength} were truncated");
        if (train.Count < r.Train.MicroBatchSize)
            throw new ArgumentException($"{train.Count} training pairs are fewer than one micro-batch (train.micro_batch_size = {r.Train.MicroBatchSize})");
        if (o.Bootstrap) bootstrap = Bootstrap.Counts(train.Count, o.Heads, (ulong)r.Train.Seed);
        sampler = new EpochSampler(train.Count, (ulong)r.Train.Seed);
        log.WriteLine($"reward: {train.Count} training and {eval.Count} eval pairs; {o.Heads} head(s), aggregation {o.Aggregation}; " +
                      $"model {model.ParameterCount():N0} parameters");
    }

    /// <inheritdoc/>
    public Module Model => model;

    /// <summary>The reward model being trained.</summary>
    public ScalarHeadModel RewardModel => model;

    /// <summary>The tokenizer the model reads.</summary>
    public ITokenizer Tokenizer => tok;

    static (ITokenizer, ScalarHeadModel) Build(Recipe r)
    {
        var heads = r.Reward.Heads;
        if (r.Model.Init == "new")
        {
            var newTok = ModelSetup.NewTokenizer(r);
            return (newTok, new ScalarHeadModel(ModelSetup.NewConfig(r, newTok), heads));
        }
        var dir = r.Model.Init;
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"model.init: checkpoint directory not found: {dir}");
        var tok = TokenizerLoader.Load(dir);
        if (!HasScoreHead(dir)) return (tok, HfCheckpoint.ScalarHeadFromCausalLM(dir, heads));
        var model = HfCheckpoint.LoadScalarHead(dir);
        if (model.Heads == heads) return (tok, model);
        model.Dispose();
        throw new ArgumentException($"model.init {dir} is a reward model with {model.Heads} head(s), but reward.heads = {heads}");
    }

    static bool HasScoreHead(string dir) => HfCheckpoint.WeightFiles(dir).Any(file =>
    {
        using var st = SafetensorsFile.Open(file);
        return st.Names.Contains("score.weight");
    });

    static List<PreferencePairRecord> Pairs(List<DataRecord> records, string source)
    {
        var pairs = records.OfType<PreferencePairRecord>().ToList();
        if (pairs.Count != records.Count)
            throw new ArgumentException($"method reward trains on preference pairs (prompt, chosen, rejected); {source} holds " +
                                        $"{records.Count - pairs.Count} record(s) of another format (builtin:arithmetic-pairs is the built-in pair set)");
        return pairs;
    }

    /// <summary>Rewards of every head for the chosen and the rejected rows of a <see cref="Collate.Pairs"/> batch, [B, K] each.</summary>
    (Tensor Chosen, Tensor Rejected) Scores(SequenceBatch batch)
    {
        var scores = model.SequenceScoresAll(batch.Ids, batch.AttentionMask);   // [2B, K]
        var b = batch.Rows / 2;
        return (scores.Narrow(0, 0, b), scores.Narrow(0, b, b));               // [B, K] each
    }

    static Tensor Margins(IEnumerable<PairExample> pairs)
    {
        var m = pairs.Select(p => (float)p.Margin).ToArray();
        return Tensor.From(m, m.Length, 1);                                     // [B, 1]
    }

    /// <inheritdoc/>
    public MicroResult Micro(long step, int micro)
    {
        var idx = sampler.NextBatch(r.Train.MicroBatchSize);
        var pairs = idx.Select(i => train[i]).ToList();
        using var batch = Collate.Pairs(pairs, padId);
        var (rw, rl) = Scores(batch);                                          // [B, K]
        var perPair = loss(rw, rl, Margins(pairs), r.Reward.CenterCoef);       // [B, K]
        if (bootstrap is not null)
        {
            var k = r.Reward.Heads;
            var counts = idx.SelectMany(i => bootstrap.AsSpan(i * k, k).ToArray()).ToArray();
            perPair = perPair * Tensor.From(counts, idx.Length, k);            // (1/B) Σ_b count·ℓ: the resample's mean in expectation
        }
        var metrics = new Dictionary<string, double>();
        using (Torch.NoGrad())
        {
            var (aw, al) = (aggregate(rw, r.Reward.UwoLambda), aggregate(rl, r.Reward.UwoLambda));   // [B]
            var all = Tensor.Cat([aw, al]);                                     // [2B]
            metrics["accuracy"] = (aw > al).To(DType.Float32).Mean().ToDouble();
            metrics["margin"] = (aw - al).Mean().ToDouble();
            metrics["reward_mean"] = all.Mean().ToDouble();
            metrics["reward_std"] = all.Std(0, correction: 0).ToDouble();
        }
        return new MicroResult(perPair.Mean(), metrics, batch.Tokens);          // mean over pairs, then over heads
    }

    /// <summary>
    /// Held-out metrics: loss (no bootstrap weights), pairwise accuracy, margin and reward mean/std of the ensemble
    /// reward, and, with K &gt; 1, each head's accuracy (<c>accuracy_head_k</c>).
    /// </summary>
    public IReadOnlyDictionary<string, double> Evaluate(long step)
    {
        var m = new Dictionary<string, double>();
        if (eval.Count == 0) return m;
        var heads = r.Reward.Heads;
        double lossSum = 0, correct = 0, marginSum = 0, rewardSum = 0, rewardSq = 0;
        var headCorrect = new double[heads];
        foreach (var chunk in eval.Chunk(Math.Max(1, r.Train.MicroBatchSize * 4)))
        {
            using var scope = new TensorScope();
            using var batch = Collate.Pairs(chunk, padId);
            var (rw, rl) = Scores(batch);                                      // [B, K]
            lossSum += loss(rw, rl, Margins(chunk), r.Reward.CenterCoef).Mean(1).Sum().ToDouble();
            var (aw, al) = (aggregate(rw, r.Reward.UwoLambda), aggregate(rl, r.Reward.UwoLambda));   // [B]
            correct += (aw > al).To(DType.Float32).Sum().ToDouble();
            marginSum += (aw - al).Sum().ToDouble();
            var all = Tensor.Cat([aw, al]);                                     // [2B]
            rewardSum += all.Sum().ToDouble();
            rewardSq += all.Square().Sum().ToDouble();
            var perHead = (rw > rl).To(DType.Float32).Sum(0).ToArray<float>();   // [K]
            for (var k = 0; k < heads; k++) headCorrect[k] += perHead[k];
        }
        double n = eval.Count, mean = rewardSum / (2 * n);
        m["loss"] = lossSum / n;
        m["accuracy"] = correct / n;
        m["margin"] = marginSum / n;
        m["reward_mean"] = mean;
        m["reward_std"] = Math.Sqrt(Math.Max(0, rewardSq / (2 * n) - mean * mean));
        if (heads > 1)
            for (var k = 0; k < heads; k++) m[$"accuracy_head_{k}"] = headCorrect[k] / n;
        return m;
    }

    /// <inheritdoc/>
    public string SaveState() => sampler.State.ToJson();

    /// <inheritdoc/>
    public void LoadState(string state) => sampler.State = SamplerState.FromJson(state);

    /// <summary>
    /// Saves the reward model in Hugging Face layout (architecture <c>*ForSequenceClassification</c>, <c>num_labels</c> = K)
    /// with its tokenizer; <see cref="HfCheckpoint.LoadScalarHead"/> loads it back.
    /// </summary>
    public void SaveFinal(string dir)
    {
        var config = model.Model.Config.Clone();
        config.Architectures = [SequenceClassificationArchitecture(config.ModelType)];
        HfCheckpoint.Save(model, config, dir, tok);
    }

    static string SequenceClassificationArchitecture(string modelType) => modelType switch
    {
        "qwen2" => "Qwen2ForSequenceClassification",
        "qwen3" => "Qwen3ForSequenceClassification",
        "mistral" => "MistralForSequenceClassification",
        _ => "LlamaForSequenceClassification",
    };

    /// <summary>Disposes the model.</summary>
    public void Dispose() => model.Dispose();
}
