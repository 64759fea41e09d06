namespace Sharpen.Training;

using Sharpen.Data;
using Sharpen.Data.Tasks;
using Sharpen.Models;
using Sharpen.Torch;
using Sharpen.Torch.NN;

/// <summary>
/// Supervised fine-tuning: the mean negative log-likelihood of the target tokens (completion-only or
/// assistant-only masks, or every token), −Σ m_t ℓ_t / Σ m_t over the micro-batch.
/// Evaluation: loss on held-out data, and greedy accuracy for the built-in arithmetic task.
/// </summary>
public sealed class SftTrainer : ITrainer
{
    readonly Recipe r;
    readonly ITokenizer tok;
    readonly CausalLM model;
    readonly List<SftExample> train, eval;
    readonly List<DataRecord> evalRecords;
    readonly EpochSampler sampler;
    readonly int padId;

    public SftTrainer(Recipe recipe, TextWriter log)
    {
        r = recipe;
        (tok, model) = ModelSetup.Policy(r);
        padId = tok.PadId ?? 0;
        var (trainRecords, evalRecs) = ModelSetup.Split(r, log);
        evalRecords = evalRecs;
        var options = ModelSetup.TokenizeOptions(r);
        train = Tokenize.Sft(trainRecords, tok, options, out var truncated);
        eval = Tokenize.Sft(evalRecords, tok, options, out _);
        if (truncated > 0) log.WriteLine($"data: {truncated} training example(s) longer than model.max_length = {r.Model.MaxLength} were truncated");
        ModelSetup.CheckTruncation(r, "training", train.Count, train.Count(e => !e.HasLoss), log);
        ModelSetup.CheckTruncation(r, "eval", eval.Count, eval.Count(e => !e.HasLoss), log);
        if (train.Count < r.Train.MicroBatchSize)
            throw new ArgumentException($"{train.Count} training examples are fewer than one micro-batch (train.micro_batch_size = {r.Train.MicroBatchSize})");
        sampler = new EpochSampler(train.Count, (ulong)r.Train.Seed);
        log.WriteLine($"sft: {train.Count} training and {eval.Count} eval examples; model {model.ParameterCount():N0} parameters");
    }

    /// <inheritdoc/>
    public Module Model => model;

    /// <summary>The model being trained.</summary>
    public CausalLM Policy => model;

    /// <inheritdoc/>
    public MicroResult Micro(long step, int micro)
    {
        var idx = sampler.NextBatch(r.Train.MicroBatchSize);
        using var batch = Collate.Sft(idx.Select(i => train[i]).ToList(), padId);
        var loss = Loss(batch);
        return new MicroResult(loss, new Dictionary<string, double>(), batch.Tokens);
    }

    Tensor Loss(SequenceBatch batch)
    {
        var (_, mask, sum, count) = SequenceLogProbs.Compute(model, batch);
        return -sum.Sum() / count.Sum().Clamp(min: 1);                                 // token-mean NLL
    }

    /// <inheritdoc/>
    public IReadOnlyDictionary<string, double> Evaluate(long step)
    {
        var m = new Dictionary<string, double>();
        if (eval.Count == 0) return m;
        double nll = 0, tokens = 0;
        foreach (var chunk in eval.Chunk(Math.Max(1, r.Train.MicroBatchSize * 4)))
        {
            using var scope = new TensorScope();
            using var batch = Collate.Sft(chunk, padId);
            var (_, _, sum, count) = SequenceLogProbs.Compute(model, batch);
            nll -= sum.Sum().ToDouble();
            tokens += count.Sum().ToDouble();
        }
        m["loss"] = nll / Math.Max(1, tokens);
        if (Gold() is var (gold, maxNewTokens))
        {
            var prompts = evalRecords.OfType<PromptCompletionRecord>().Take(200).Select(p => p.Prompt.Text!).ToList();
            m["accuracy"] = Evaluation.GreedyAccuracy(model, tok, prompts, gold, maxNewTokens);
        }
        return m;
    }

    // The exact-answer check of built-in data, for greedy accuracy (strict: a sloppy "046" is wrong), or null.
    (Func<string, string, double> Gold, int MaxNewTokens)? Gold()
    {
        if (r.Data.Train == "builtin:arithmetic") return (Arithmetic.Gold, r.Data.Digits + 3);
        if (!VerifiableTasks.IsTask(r.Data.Train)) return null;
        var task = VerifiableTasks.Get(r.Data.Train, r.Data.Digits);
        return ((p, c) => task.Verify(p, c).Reward, task.MaxAnswerLength + 2);
    }

    /// <inheritdoc/>
    public string SaveState() => sampler.State.ToJson();

    /// <inheritdoc/>
    public void LoadState(string state) => sampler.State = SamplerState.FromJson(state);

    /// <inheritdoc/>
    public void SaveFinal(string dir) => HfCheckpoint.Save(model, model.Config, dir, tok);

    public void Dispose() => model.Dispose();
}
