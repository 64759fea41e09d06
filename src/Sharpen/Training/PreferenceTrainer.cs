namespace Sharpen.Training;

using System.Text.Json.Nodes;
using Sharpen.Algorithms.Preference;
using Sharpen.Data;
using Sharpen.Data.Tasks;
using Sharpen.Models;
using Sharpen.Torch;
using Sharpen.Torch.NN;
using Torch = Sharpen.Torch.Torch;

/// <summary>
/// Offline preference optimisation (docs/algorithms.md §4), recipe method <c>preference</c>. The names in
/// <c>preference.loss</c> pick the data it reads:
/// <list type="bullet">
/// <item>pairwise losses (DPO <c>sigmoid</c>, ipo, robust, simpo, orpo, …, combined as Σ w_k·L_k): preference pairs,
/// collated as 2B rows (chosen, then rejected) and scored in one policy forward;</item>
/// <item>an unpaired loss (kto, bco, apo_zero_unpaired), alone: unpaired records. KTO's mismatched pair for example i
/// is (x_i, y_j), with j the next example after i in a fixed seeded cycle through the split (as TRL builds its KL
/// data set once, ahead of training), so its reference log-probs can be cached;</item>
/// <item>a listwise loss (pro, lipo_lambda), alone: ranked lists, every list with the same number K of responses.</item>
/// </list>
/// Log-probs are summed over response tokens. Losses that need π_ref get a frozen copy of the starting policy
/// (model.init loaded again, or the fresh model's weights); with <c>preference.cache_reference</c> its log-probs are
/// computed once per example into <see cref="ReferenceCache.FileName"/> in the run directory and the reference model
/// is released. Reference-free losses load no reference. The loss is the mean over the micro-batch.
/// Metrics: rewards/chosen, rewards/rejected, rewards/margins, rewards/accuracy (the implicit rewards the loss
/// reports; for lists the best and the worst response); evaluation adds greedy <c>accuracy</c> under the gold reward
/// for the built-in arithmetic data.
/// </summary>
public sealed class PreferenceTrainer : ITrainer
{
    /// <summary>Which data a loss reads.</summary>
    public enum DataKind
    {
        /// <summary>Preference pairs (prompt, chosen, rejected).</summary>
        Pairwise,

        /// <summary>Unpaired feedback (prompt, completion, label).</summary>
        Unpaired,

        /// <summary>Ranked lists (prompt, K responses, scores).</summary>
        Listwise,
    }

    /// <summary>One data split, tokenised: each example is <c>rows</c> response rows that share its prompt.</summary>
    sealed class Split(List<DataRecord> records)
    {
        public readonly List<DataRecord> Records = records;
        public List<PairExample> Pairs = [];
        public List<UnpairedExample> Unpaired = [];
        public List<ListExample> Lists = [];
        public int[] Partner = [];   // KTO: the example whose completion forms example i's mismatched pair
        public Tensor? Reference;    // cached log π_ref, [N, rows]
        public int Count;
    }

    readonly Recipe r;
    readonly ITokenizer tok;
    readonly CausalLM model;
    readonly PreferenceLossOptions options;
    readonly IPreferenceLoss? pairLoss;
    readonly IUnpairedPreferenceLoss? unpairedLoss;
    readonly IListwisePreferenceLoss? listLoss;
    readonly double lossWeight;    // the weight of a lone unpaired or listwise loss
    readonly bool kto, usesDelta;
    readonly int rows, padId;
    readonly Split train, eval;
    readonly EpochSampler sampler;
    CausalLM? reference;
    double deltaSum;               // BCO's δ: running mean of β·h = deltaSum / deltaCount
    long deltaCount;

    /// <summary>
    /// Builds the policy, data and (when a loss needs it) the reference or its cached log-probs in
    /// <paramref name="runDir"/>; notes go to <paramref name="log"/>.
    /// </summary>
    public PreferenceTrainer(Recipe recipe, string runDir, TextWriter log)
    {
        r = recipe;
        var p = r.Preference;
        options = new PreferenceLossOptions
        {
            Beta = p.Beta, LabelSmoothing = p.LabelSmoothing, SimpoGamma = p.SimpoGamma, IpoLengthNormalize = p.IpoLengthNormalize,
            CpoAlpha = p.CpoAlpha, OrpoLambda = p.OrpoLambda, ExoEpsilon = p.ExoEpsilon, KtoDesirableWeight = p.KtoDesirableWeight,
            KtoUndesirableWeight = p.KtoUndesirableWeight, ProTemperature = p.ProTemperature, ProSftWeight = p.ProSftWeight,
            LipoLambdaWeights = p.LipoLambdaWeights,
        };
        (Kind, pairLoss, unpairedLoss, listLoss, lossWeight) = ChooseLoss(p.Loss, p.LossWeights);
        UsesReference = pairLoss?.NeedsReference ?? unpairedLoss?.NeedsReference ?? listLoss!.NeedsReference;
        kto = Kind == DataKind.Unpaired && p.Loss[0] == "kto";
        usesDelta = p.Loss.Any(n => n is "bco" or "bco_pair");

        (tok, model) = ModelSetup.Policy(r);
        padId = tok.PadId ?? 0;
        var (trainRecords, evalRecords) = ModelSetup.Split(r, log);
        train = Tokenized(trainRecords, log);
        eval = Tokenized(evalRecords, null);
        ModelSetup.CheckTruncation(r, "training", train.Count, Untrainable(train), log);
        ModelSetup.CheckTruncation(r, "eval", eval.Count, Untrainable(eval), log);
        if (train.Count < r.Train.MicroBatchSize)
            throw new ArgumentException($"{train.Count} training examples are fewer than one micro-batch (train.micro_batch_size = {r.Train.MicroBatchSize})");
        rows = Kind switch
        {
            DataKind.Pairwise => 2,
            DataKind.Unpaired => kto ? 2 : 1,
            _ => ListLength(),
        };
        sampler = new EpochSampler(train.Count, (ulong)r.Train.Seed);
        if (UsesReference) SetUpReference(runDir, log);
        log.WriteLine($"preference: {string.Join("+", p.Loss)} on {train.Count} training and {eval.Count} eval {Kind.ToString().ToLowerInvariant()} examples; " +
                      $"reference {(UsesReference ? reference is null ? "log-probs cached" : "model" : "none")}; model {model.ParameterCount():N0} parameters");
    }

    /// <summary>The data the configured loss reads.</summary>
    public DataKind Kind { get; }

    /// <summary>Whether the configured loss reads reference log-probs (false: no reference model is built).</summary>
    public bool UsesReference { get; }

    /// <summary>The frozen reference model, when its log-probs are computed on the fly (not cached); else null.</summary>
    public CausalLM? ReferenceModel => reference;

    /// <summary>Cached log π_ref of the training examples, nats, [N, R] (row = example index, R responses each); null when not cached.</summary>
    public Tensor? CachedTrainReference => train.Reference;

    /// <inheritdoc/>
    public Module Model => model;

    /// <summary>The model being trained.</summary>
    public CausalLM Policy => model;

    /// <inheritdoc/>
    public MicroResult Micro(long step, int micro)
    {
        var idx = sampler.NextBatch(r.Train.MicroBatchSize);
        var (logps, lengths, tokens) = Score(model, train, idx);
        var (loss, metrics) = Loss(train, idx, logps, lengths, ReferenceLogps(train, idx), training: true);
        return new MicroResult(loss.Mean(), metrics, tokens);
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double> Evaluate(long step)
    {
        var m = new Dictionary<string, double>();
        if (eval.Count > 0)
        {
            var sums = new Dictionary<string, double>();
            double loss = 0;
            foreach (var idx in Enumerable.Range(0, eval.Count).Chunk(Math.Max(1, r.Train.MicroBatchSize * 4)))
            {
                using var scope = new TensorScope();
                var (logps, lengths, _) = Score(model, eval, idx);
                var (l, metrics) = Loss(eval, idx, logps, lengths, ReferenceLogps(eval, idx), training: false);
                loss += l.Sum().ToDouble();
                foreach (var (k, v) in metrics) sums[k] = sums.GetValueOrDefault(k) + v * idx.Length;
            }
            m["loss"] = loss / eval.Count;
            foreach (var (k, v) in sums) m[k] = v / eval.Count;
        }
        if (r.Data.Train is "builtin:arithmetic-pairs" or "builtin:arithmetic-unpaired" && r.Preference.EvalPrompts > 0 && eval.Count > 0)
        {
            var prompts = eval.Records.Select(PromptText).Distinct().Take(r.Preference.EvalPrompts).ToList();
            m["accuracy"] = Evaluation.GreedyAccuracy(model, tok, prompts, Arithmetic.Gold, r.Data.Digits + 3);
        }
        return m;
    }

    /// <inheritdoc/>
    public string SaveState() => new JsonObject
    {
        ["sampler"] = JsonNode.Parse(sampler.State.ToJson()), ["delta_sum"] = deltaSum, ["delta_count"] = deltaCount,
    }.ToJsonString();

    /// <inheritdoc/>
    public void LoadState(string state)
    {
        var o = JsonNode.Parse(state)!.AsObject();
        sampler.State = SamplerState.FromJson(o["sampler"]!.ToJsonString());
        deltaSum = (double)o["delta_sum"]!;
        deltaCount = (long)o["delta_count"]!;
    }

    /// <inheritdoc/>
    public void SaveFinal(string dir) => HfCheckpoint.Save(model, model.Config, dir, tok);

    /// <summary>Releases the policy, the reference and the cached log-probs.</summary>
    public void Dispose()
    {
        model.Dispose();
        reference?.Dispose();
        train.Reference?.Dispose();
        eval.Reference?.Dispose();
    }

    static (DataKind, IPreferenceLoss?, IUnpairedPreferenceLoss?, IListwisePreferenceLoss?, double) ChooseLoss(List<string> names, List<double> weights)
    {
        if (names.Count == 0) throw new ArgumentException("preference.loss is empty: name at least one loss (e.g. sigmoid)");
        if (weights.Count != 0 && weights.Count != names.Count)
            throw new ArgumentException($"preference.loss_weights has {weights.Count} weights for {names.Count} losses (leave it empty for all 1)");
        var w = weights.Count == 0 ? names.Select(_ => 1.0).ToList() : weights;
        var pairwise = PreferenceLosses.Registry.Names;
        var unknown = names.FirstOrDefault(n => !pairwise.Contains(n) && !PreferenceLosses.Unpaired.Names.Contains(n) && !PreferenceLosses.Listwise.Names.Contains(n));
        if (unknown is not null)
            throw new ArgumentException($"preference.loss: unknown loss '{unknown}'; pairwise: {string.Join(", ", pairwise.Order())}; " +
                                        $"unpaired: {string.Join(", ", PreferenceLosses.Unpaired.Names.Order())}; listwise: {string.Join(", ", PreferenceLosses.Listwise.Names.Order())}");
        if (names.All(pairwise.Contains)) return (DataKind.Pairwise, PreferenceLosses.Combine(names, w), null, null, 1);
        if (names.Count > 1)
            throw new ArgumentException($"preference.loss [{string.Join(", ", names)}]: only pairwise losses combine; an unpaired or listwise loss is used alone");
        return PreferenceLosses.Unpaired.Names.Contains(names[0])
            ? (DataKind.Unpaired, null, PreferenceLosses.Unpaired.Get(names[0]), null, w[0])
            : (DataKind.Listwise, null, null, PreferenceLosses.Listwise.Get(names[0]), w[0]);
    }

    Split Tokenized(List<DataRecord> records, TextWriter? log)
    {
        var s = new Split(records);
        var o = ModelSetup.TokenizeOptions(r);
        int truncated;
        switch (Kind)
        {
            case DataKind.Pairwise:
                s.Pairs = Tokenize.Pairs(Typed<PreferencePairRecord>(records, "preference pairs (prompt, chosen, rejected)"), tok, o, out truncated);
                s.Count = s.Pairs.Count;
                break;
            case DataKind.Unpaired:
                s.Unpaired = Tokenize.Unpaired(Typed<UnpairedPreferenceRecord>(records, "unpaired preferences (prompt, completion, label)"), tok, o, out truncated);
                s.Count = s.Unpaired.Count;
                var cycle = new SplitMix64(SplitMix64.Combine((ulong)r.Train.Seed, 0x6B746F)).Permutation(s.Count);
                s.Partner = new int[s.Count];
                for (var k = 0; k < s.Count; k++) s.Partner[cycle[k]] = cycle[(k + 1) % s.Count];
                break;
            default:
                s.Lists = Tokenize.RankedLists(Typed<RankedListRecord>(records, "ranked lists (prompt, responses, scores)"), tok, o, out truncated);
                s.Count = s.Lists.Count;
                break;
        }
        if (truncated > 0) log?.WriteLine($"data: {truncated} training example(s) longer than model.max_length = {r.Model.MaxLength} were truncated");
        return s;
    }

    // Examples that truncation left with a response of no scored token.
    int Untrainable(Split s) => Kind switch
    {
        DataKind.Pairwise => s.Pairs.Count(e => !e.HasLoss()),
        DataKind.Unpaired => s.Unpaired.Count(e => !e.HasLoss()),
        _ => s.Lists.Count(e => !e.HasLoss()),
    };

    List<T> Typed<T>(List<DataRecord> records, string what) where T : DataRecord
    {
        var other = records.FirstOrDefault(x => x is not T);
        if (other is not null)
            throw new ArgumentException($"preference.loss [{string.Join(", ", r.Preference.Loss)}] reads {what}, but the data holds {other.GetType().Name} records");
        return records.Cast<T>().ToList();
    }

    int ListLength()
    {
        var ks = train.Lists.Concat(eval.Lists).Select(l => l.Responses.Length).Distinct().ToList();
        if (ks.Count > 1)
            throw new ArgumentException($"listwise losses need every ranked list to have the same number of responses; the data has lists of {string.Join(", ", ks.Order())}");
        return ks[0];
    }

    static string PromptText(DataRecord record) => record switch
    {
        PreferencePairRecord p => p.Prompt.Text!,
        UnpairedPreferenceRecord u => u.Prompt.Text!,
        _ => throw new ArgumentException($"{record.GetType().Name} has no arithmetic prompt"),
    };

    // KTO's mismatched pair of example i: its prompt with its partner's completion, cut to fit model.max_length.
    UnpairedExample Mismatched(Split s, int i)
    {
        var e = s.Unpaired[i];
        var y = s.Unpaired[s.Partner[i]].Completion;
        var room = Math.Max(1, r.Model.MaxLength - e.Prompt.Length);
        return e with { Completion = y.Length <= room ? y : y[..room] };
    }

    // Examples idx as one padded batch of response rows (layout per Collate.Pairs / Unpaired / Lists).
    SequenceBatch Rows(Split s, int[] idx) => Kind switch
    {
        DataKind.Pairwise => Collate.Pairs(idx.Select(i => s.Pairs[i]).ToList(), padId),
        DataKind.Unpaired => Collate.Unpaired(idx.Select(i => s.Unpaired[i]).Concat(kto ? idx.Select(i => Mismatched(s, i)) : []).ToList(), padId),
        _ => Collate.Lists(idx.Select(i => s.Lists[i]).ToList(), padId),
    };

    // Every row's tokens (prompt + response), example by example, for the cache fingerprint.
    IEnumerable<int[]> RowTokens(Split s)
    {
        for (var i = 0; i < s.Count; i++)
        {
            IEnumerable<(int[] Prompt, int[] Response)> rs = Kind switch
            {
                DataKind.Pairwise => [(s.Pairs[i].Prompt, s.Pairs[i].Chosen), (s.Pairs[i].Prompt, s.Pairs[i].Rejected)],
                DataKind.Unpaired => kto ? [(s.Unpaired[i].Prompt, s.Unpaired[i].Completion), (s.Unpaired[i].Prompt, Mismatched(s, i).Completion)]
                                         : [(s.Unpaired[i].Prompt, s.Unpaired[i].Completion)],
                _ => s.Lists[i].Responses.Select(y => (s.Lists[i].Prompt, y)),
            };
            foreach (var (x, y) in rs) yield return [.. x, .. y];
        }
    }

    /// <summary>Σ_t ℓ_t and |y| of each response row of examples <paramref name="idx"/> under <paramref name="m"/>, [B, R] each, and the batch's real tokens.</summary>
    (Tensor Logps, Tensor Lengths, long Tokens) Score(CausalLM m, Split s, int[] idx)
    {
        using var batch = Rows(s, idx);
        var (_, _, sum, count) = SequenceLogProbs.Compute(m, batch);   // [R·B] response-major, or [B·K] list-major
        long b = idx.Length;
        return Kind == DataKind.Listwise
            ? (sum.View(b, rows), count.View(b, rows), batch.Tokens)
            : (sum.View(rows, b).T, count.View(rows, b).T, batch.Tokens);
    }

    /// <summary>log π_ref of examples <paramref name="idx"/>, [B, R], from the cache or the reference model; null for reference-free losses.</summary>
    Tensor? ReferenceLogps(Split s, int[] idx)
    {
        if (!UsesReference) return null;
        if (s.Reference is { } cached) return cached.IndexSelect(0, Tensor.From(idx.Select(i => (long)i).ToArray()));
        using (Torch.NoGrad()) return Score(reference!, s, idx).Logps;
    }

    /// <summary>Per-example losses [B] (weighted) and the micro-batch's reward metrics.</summary>
    (Tensor Loss, Dictionary<string, double> Metrics) Loss(Split s, int[] idx, Tensor logps, Tensor lengths, Tensor? refLogps, bool training)
    {
        var delta = usesDelta ? Delta(options.Beta * (logps - refLogps!).Detach(), training) : 0;
        switch (Kind)
        {
            case DataKind.Pairwise:
            {
                var margins = idx.Select(i => (float)s.Pairs[i].Margin).ToArray();
                var batch = new PreferenceBatch(logps.Select(1, 0), logps.Select(1, 1), refLogps?.Select(1, 0), refLogps?.Select(1, 1),
                                                lengths.Select(1, 0), lengths.Select(1, 1),
                                                Margin: margins.Any(v => v != 0) ? Tensor.From(margins) : null, Delta: delta);
                var res = pairLoss!.Compute(batch, options);
                return (res.Loss, new()
                {
                    ["rewards/chosen"] = res.ChosenRewards.Mean().ToDouble(), ["rewards/rejected"] = res.RejectedRewards.Mean().ToDouble(),
                    ["rewards/margins"] = res.Margins.Mean().ToDouble(), ["rewards/accuracy"] = res.Accuracy.Mean().ToDouble(),
                });
            }
            case DataKind.Unpaired:
            {
                var desirable = idx.Select(i => s.Unpaired[i].Desirable).ToArray();
                var kl = kto ? logps.Select(1, 1) - refLogps!.Select(1, 1) : null;                   // [B]
                var batch = new UnpairedBatch(logps.Select(1, 0), refLogps?.Select(1, 0), Tensor.From(desirable), kl, delta);
                var res = unpairedLoss!.Compute(batch, options);
                var rewards = res.Rewards.To(DType.Float32).ToArray<float>();
                var metrics = new Dictionary<string, double>();
                var good = rewards.Where((_, k) => desirable[k]).ToArray();
                var bad = rewards.Where((_, k) => !desirable[k]).ToArray();
                if (good.Length > 0) metrics["rewards/chosen"] = good.Average();
                if (bad.Length > 0) metrics["rewards/rejected"] = bad.Average();
                if (good.Length > 0 && bad.Length > 0) metrics["rewards/margins"] = good.Average() - bad.Average();
                if (kl is not null) metrics["kl"] = Kto.ReferencePoint(kl).ToDouble();
                return (lossWeight * res.Loss, metrics);
            }
            default:
            {
                var scores = Tensor.From(idx.SelectMany(i => s.Lists[i].Scores.Select(v => (float)v)).ToArray(), idx.Length, rows);
                var res = listLoss!.Compute(new ListwiseBatch(logps, refLogps, scores, lengths), options);
                var (best, worst) = (res.Rewards.Select(1, 0), res.Rewards.Select(1, rows - 1));     // [B] each
                return (lossWeight * res.Loss, new()
                {
                    ["rewards/chosen"] = best.Mean().ToDouble(), ["rewards/rejected"] = worst.Mean().ToDouble(),
                    ["rewards/margins"] = (best - worst).Mean().ToDouble(), ["rewards/accuracy"] = (best > worst).To(DType.Float32).Mean().ToDouble(),
                });
            }
        }
    }

    /// <summary>BCO's δ: the running mean of every implicit reward β·h seen in training, updated with this batch's <paramref name="rewards"/> first (as TRL does).</summary>
    double Delta(Tensor rewards, bool training)
    {
        if (training)
        {
            deltaSum += rewards.To(DType.Float64).Sum().ToDouble();
            deltaCount += rewards.Numel;
        }
        return deltaCount > 0 ? deltaSum / deltaCount : 0;
    }

    void SetUpReference(string runDir, TextWriter log)
    {
        var frozen = ModelSetup.FrozenCopy(r, model);
        if (!r.Preference.CacheReference)
        {
            reference = frozen;
            return;
        }
        using (frozen)
        {
            Directory.CreateDirectory(runDir);
            var path = Path.Combine(runDir, ReferenceCache.FileName);
            var splits = new[] { ("train", train), ("eval", eval) }.Where(x => x.Item2.Count > 0).ToList();
            var fingerprint = ReferenceCache.Fingerprint(splits.Select(x => ($"{x.Item1} {Kind} {rows}", RowTokens(x.Item2))), frozen);
            var shapes = splits.ToDictionary(x => x.Item1, x => new long[] { x.Item2.Count, rows });
            if (ReferenceCache.TryLoad(path, fingerprint, shapes) is { } cached)
            {
                foreach (var (name, s) in splits) s.Reference = cached[name];
                log.WriteLine($"reference: cached log-probs reused from {path}");
                return;
            }
            foreach (var (_, s) in splits) s.Reference = ComputeReference(frozen, s);
            ReferenceCache.Save(path, fingerprint, splits.ToDictionary(x => x.Item1, x => x.Item2.Reference!));
            log.WriteLine($"reference: log-probs of {splits.Sum(x => x.Item2.Count)} examples computed and cached in {path}");
        }
    }


    /// <summary>log π_ref of every example of <paramref name="s"/>, [N, R], untracked by any scope.</summary>
    Tensor ComputeReference(CausalLM m, Split s)
    {
        var all = new float[s.Count * rows];
        foreach (var idx in Enumerable.Range(0, s.Count).Chunk(Math.Max(1, r.Train.MicroBatchSize * 4)))
        {
            using var scope = new TensorScope();
            using var noGrad = Torch.NoGrad();
            Score(m, s, idx).Logps.To(DType.Float32).Contiguous().ToArray<float>().CopyTo(all, idx[0] * rows);
        }
        return TensorScope.Untrack(Tensor.From(all, s.Count, rows));
    }
}
