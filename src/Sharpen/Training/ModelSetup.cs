namespace Sharpen.Training;

using Sharpen.Data;
using Sharpen.Data.Tasks;
using Sharpen.Models;

/// <summary>Builds a recipe's tokenizer and policy model: a fresh one of the recipe's size, or a saved checkpoint.</summary>
public static class ModelSetup
{
    /// <summary>Is <paramref name="source"/> one of the built-in data sets?</summary>
    public static bool IsBuiltin(string source) => source.StartsWith("builtin:", StringComparison.Ordinal);

    /// <summary>The tokenizer of a fresh model: the built-in task's character tokenizer.</summary>
    public static ITokenizer NewTokenizer(Recipe r) =>
        VerifiableTasks.IsTask(r.Data.Train) ? VerifiableTasks.Tokenizer()
        : IsBuiltin(r.Data.Train) ? Arithmetic.Tokenizer()
            : throw ConfigBinder.Invalid(r, "data.train", "model.init = new needs built-in data (builtin:…) to pick a tokenizer; " +
                                                          "point model.init at a checkpoint with a tokenizer.json instead");

    /// <summary>The configuration of a fresh model from the `model:` section.</summary>
    public static ModelConfig NewConfig(Recipe r, ITokenizer tok)
    {
        var m = r.Model;
        var c = new ModelConfig
        {
            ModelType = m.Type,
            VocabSize = tok.VocabSize,
            HiddenSize = m.Hidden,
            NumHiddenLayers = m.Layers,
            NumAttentionHeads = m.Heads,
            NumKeyValueHeads = m.KvHeads,
            IntermediateSize = m.Intermediate > 0 ? m.Intermediate : (int)Math.Round(m.Hidden * 8 / 3.0 / 32) * 32,
            MaxPositionEmbeddings = Math.Max(256, m.MaxLength * 2),
            TieWordEmbeddings = true,
            BosTokenId = tok.BosId,
            PadTokenId = tok.PadId,
        };
        if (tok.EosId is { } eos) c.SetEosTokenIds(eos);
        c.Validate("model");
        return c;
    }

    /// <summary>The tokenizer and causal LM a recipe starts from.</summary>
    public static (ITokenizer Tokenizer, CausalLM Model) Policy(Recipe r)
    {
        if (r.Model.Init == "new")
        {
            var tok = NewTokenizer(r);
            return (tok, new CausalLM(NewConfig(r, tok)));
        }
        if (!Directory.Exists(r.Model.Init))
            throw ConfigBinder.Invalid(r, "model.init", File.Exists(r.Model.Init)
                ? "is a file; give the checkpoint directory (config.json, model.safetensors, tokenizer.json)"
                : "no such checkpoint directory (\"new\" makes a fresh model)");
        return (TokenizerLoader.Load(r.Model.Init), HfCheckpoint.LoadCausalLM(r.Model.Init));
    }

    /// <summary>
    /// A frozen copy of the starting policy (the reference of KL terms and preference losses): model.init loaded
    /// again, or, for a fresh model, <paramref name="policy"/>'s current weights. No parameter requires grad.
    /// </summary>
    public static CausalLM FrozenCopy(Recipe r, CausalLM policy)
    {
        CausalLM m;
        if (r.Model.Init == "new")
        {
            m = new CausalLM(policy.Config);
            using (new Sharpen.Torch.TensorScope()) m.LoadStateDict(policy.StateDict());
        }
        else m = HfCheckpoint.LoadCausalLM(r.Model.Init);
        foreach (var p in m.Parameters()) p.RequiresGrad = false;
        m.Eval();
        return m;
    }

    /// <summary>How records become tokens under this recipe.</summary>
    public static TokenizeOptions TokenizeOptions(Recipe r) => new()
    {
        Template = r.Model.ChatTemplate.Length > 0 ? ChatTemplates.Get(r.Model.ChatTemplate) : null,
        MaxLength = r.Model.MaxLength,
        CompletionOnly = r.Data.CompletionOnly,
    };

    /// <summary>
    /// Checks one tokenised split (<paramref name="split"/>: "training" or "eval") of <paramref name="total"/> examples,
    /// <paramref name="empty"/> of which truncation to model.max_length left with no token to train on or score. All of
    /// them is an error naming model.max_length, the data and the count (training on it would report a loss of 0);
    /// some of them is a warning line on <paramref name="log"/>.
    /// </summary>
    public static void CheckTruncation(Recipe r, string split, int total, int empty, TextWriter? log)
    {
        if (empty == 0) return;
        var source = split == "eval" && r.Data.Eval.Length > 0 ? r.Data.Eval : r.Data.Train;
        if (empty == total)
            throw ConfigBinder.Invalid(r, "model.max_length",
                $"all {total} {split} examples of {source} are truncated to nothing (no completion token left to train on or score); raise model.max_length");
        log?.WriteLine($"data: warning: {empty} of {total} {split} examples of {source} have no completion token left after truncation to model.max_length = {r.Model.MaxLength}; they add nothing to the loss");
    }

    /// <summary>The recipe's bad-record policy.</summary>
    public static BadRecordPolicy BadRecords(Recipe r) => r.Data.OnBadRecord switch
    {
        "error" => BadRecordPolicy.Error,
        "skip" => BadRecordPolicy.Skip,
        _ => throw ConfigBinder.Invalid(r, "data.on_bad_record", "must be error or skip"),
    };

    /// <summary>Records of a data source: a JSONL file or a built-in set; <paramref name="skipped"/> counts malformed records left out.</summary>
    public static List<DataRecord> Records(Recipe r, string source, out int skipped)
    {
        skipped = 0;
        var task = new Arithmetic(r.Data.Digits);
        var seed = (ulong)r.Train.Seed;
        return source switch
        {
            "builtin:arithmetic" => task.Sft(r.Data.BuiltinSize, seed).Cast<DataRecord>().ToList(),
            "builtin:arithmetic-pairs" => task.PreferencePairs(r.Data.BuiltinSize, seed, r.Data.FlipRate).Cast<DataRecord>().ToList(),
            "builtin:arithmetic-unpaired" => task.PreferencePairs(r.Data.BuiltinSize, seed, r.Data.FlipRate).SelectMany(Unpair).Cast<DataRecord>().ToList(),
            _ when VerifiableTasks.IsTask(source) => Sloppy(VerifiableTasks.Sft(VerifiableTasks.Get(source, r.Data.Digits), r.Data.BuiltinSize, seed), r.Data.SloppyRate, seed).Cast<DataRecord>().ToList(),
            _ when IsBuiltin(source) => throw new ArgumentException($"unknown built-in data '{source}' (builtin:arithmetic, builtin:arithmetic-pairs, builtin:arithmetic-unpaired, " +
                                                                   $"or SFT warm-up data of a verifiable task: {string.Join(", ", VerifiableTasks.Names.Select(n => VerifiableTasks.Prefix + n))})"),
            _ => JsonlReader.ReadAny(Readable(r, source), BadRecords(r), out skipped, out _),
        };
    }

    // A data file that the recipe names: a missing path or a directory is an error naming the recipe key.
    static string Readable(Recipe r, string source)
    {
        var key = source == r.Data.Train ? "data.train" : "data.eval";
        if (Directory.Exists(source)) throw ConfigBinder.Invalid(r, key, "is a directory, not a JSONL file");
        if (!File.Exists(source)) throw ConfigBinder.Invalid(r, key, "no such file (a JSONL file, or builtin:… data)");
        return source;
    }

    /// <summary>
    /// Demonstrations of a sloppy demonstrator: with probability <paramref name="rate"/> a completion is written with a
    /// leading zero ("07" for 7) — readable to a person, rejected by the exact verifier. RL with the verifier can unlearn it.
    /// </summary>
    static List<PromptCompletionRecord> Sloppy(List<PromptCompletionRecord> records, double rate, ulong seed)
    {
        if (rate is < 0 or > 1) throw new ArgumentException($"data.sloppy_rate must lie in [0, 1], got {rate}");
        if (rate == 0) return records;
        var rng = new SplitMix64(seed ^ 0x5107_7e57UL);
        return records.Select(p => rng.NextDouble() < rate ? p with { Completion = "0" + p.Completion.Text } : p).ToList();
    }

    /// <summary>A preference pair as two unpaired records: chosen desirable, rejected undesirable (KTO's data from pairs).</summary>
    static UnpairedPreferenceRecord[] Unpair(PreferencePairRecord p) =>
        [new(p.Prompt, p.Chosen, true) { Id = p.Id }, new(p.Prompt, p.Rejected, false) { Id = p.Id }];

    /// <summary>Train and eval records: the eval file, or a seeded hold-out of eval_fraction of the training records.</summary>
    public static (List<DataRecord> Train, List<DataRecord> Eval) Split(Recipe r, TextWriter log)
    {
        var all = Records(r, r.Data.Train, out var skipped);
        if (skipped > 0) log.WriteLine($"data: skipped {skipped} malformed record(s) of {r.Data.Train} (data.on_bad_record = skip)");
        if (r.Data.Eval.Length > 0) return (all, Records(r, r.Data.Eval, out _));
        var (train, eval) = EpochSampler.Split(all.Count, r.Data.EvalFraction, (ulong)r.Train.Seed);
        return (train.Select(i => all[i]).ToList(), eval.Select(i => all[i]).ToList());
    }
}
