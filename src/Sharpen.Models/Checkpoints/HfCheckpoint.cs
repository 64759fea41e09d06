namespace Sharpen.Models;

using System.Text.Json;
using System.Text.Json.Nodes;
using Sharpen.Torch;
using Sharpen.Torch.NN;

/// <summary>
/// Hugging Face checkpoint layout, both directions: <c>config.json</c>, <c>model.safetensors</c> (or shards
/// <c>model-0000k-of-0000n.safetensors</c> with <c>model.safetensors.index.json</c>), <c>generation_config.json</c>
/// and, when given, <c>tokenizer.json</c>. Parameter names are Hugging Face's, so a model saved here
/// loads in <c>transformers</c> and back.
/// </summary>
public static class HfCheckpoint
{
    /// <summary>Weight file of an unsharded checkpoint.</summary>
    public const string WeightsFile = "model.safetensors";

    /// <summary>Index of a sharded checkpoint (maps each tensor name to its shard).</summary>
    public const string IndexFile = "model.safetensors.index.json";

    // Tensors some writers store that the model recomputes (non-persistent buffers).
    static readonly string[] IgnoredSuffixes = [".rotary_emb.inv_freq"];

    /// <summary>Loads a causal LM from <paramref name="dir"/> into float32 on <paramref name="device"/> (default CPU).</summary>
    public static CausalLM LoadCausalLM(string dir, Device? device = null)
    {
        var config = ModelConfig.Load(Path.Combine(dir, "config.json"));
        var model = new CausalLM(config);
        LoadWeights(model, dir, dropNames: config.TieWordEmbeddings ? ["lm_head.weight"] : []);
        if (device is { } d && d != Device.CPU) model.To(d);
        return model;
    }

    /// <summary>
    /// Loads a scalar-head model (reward model, reward ensemble or critic) saved by <see cref="Save"/>; its number of
    /// heads is config.json's <c>num_labels</c> (else the size of <c>id2label</c>, else 1).
    /// </summary>
    public static ScalarHeadModel LoadScalarHead(string dir, Device? device = null)
    {
        var config = ModelConfig.Load(Path.Combine(dir, "config.json"));
        var model = new ScalarHeadModel(config, NumLabels(config));
        LoadWeights(model, dir, dropNames: ["lm_head.weight"]);
        if (device is { } d && d != Device.CPU) model.To(d);
        return model;
    }

    /// <summary>
    /// A scalar-head model with <paramref name="heads"/> heads whose trunk is the causal LM checkpoint in
    /// <paramref name="dir"/> (its LM head dropped) and whose <c>score</c> head is freshly initialised.
    /// </summary>
    public static ScalarHeadModel ScalarHeadFromCausalLM(string dir, int heads = 1, Device? device = null)
    {
        var config = ModelConfig.Load(Path.Combine(dir, "config.json"));
        var model = new ScalarHeadModel(config, heads);
        LoadWeights(model, dir, dropNames: ["lm_head.weight"], keepInitialised: ["score.weight"]);
        if (device is { } d && d != Device.CPU) model.To(d);
        return model;
    }

    /// <summary>Scalar heads K of a sequence-classification config: <c>num_labels</c>, else the size of <c>id2label</c>, else 1.</summary>
    public static int NumLabels(ModelConfig config)
    {
        if (config.Extra?.GetValueOrDefault("num_labels") is { ValueKind: JsonValueKind.Number } n) return n.GetInt32();
        if (config.Extra?.GetValueOrDefault("id2label") is { ValueKind: JsonValueKind.Object } labels) return labels.EnumerateObject().Count();
        return 1;
    }

    /// <summary>
    /// Copies the checkpoint's tensors into <paramref name="model"/>'s parameters (converting dtype, e.g. bf16 → float32).
    /// Missing, unexpected, ill-shaped or non-finite (NaN, ±∞) tensors are <see cref="InputException"/>s naming the file
    /// and tensor; tensors named in <paramref name="dropNames"/> are ignored, and those in <paramref name="keepInitialised"/>
    /// may be absent (they keep their current values).
    /// </summary>
    public static void LoadWeights(Module model, string dir, IEnumerable<string>? dropNames = null, IEnumerable<string>? keepInitialised = null)
    {
        var files = WeightFiles(dir);
        var drop = new HashSet<string>(dropNames ?? []);
        var optional = new HashSet<string>(keepInitialised ?? []);
        var expected = model.StateDict();
        try
        {
            var seen = new HashSet<string>();
            var unexpected = new List<string>();
            foreach (var file in files)
            {
                using var st = SafetensorsFile.Open(file);
                foreach (var name in st.Names)
                {
                    if (drop.Contains(name) || IgnoredSuffixes.Any(name.EndsWith)) continue;
                    if (!expected.TryGetValue(name, out var target)) { unexpected.Add(name); continue; }
                    var entry = st[name];
                    InputException Bad(string problem) => new(file, 0, $"tensor '{name}'", problem);
                    if (!entry.Shape.SequenceEqual(target.Shape))
                        throw Bad($"has shape [{string.Join(", ", entry.Shape)}], but config.json makes it [{string.Join(", ", target.Shape)}]");
                    if (entry.DType is null) throw Bad($"has dtype {entry.DTypeName}, which libtorch here cannot load");
                    using var value = entry.ToTensor();
                    if (NonFinite(value) is > 0 and var bad) throw Bad($"{bad} of its {value.Numel} values are NaN or infinite");
                    using (Torch.NoGrad()) target.Copy_(value);
                    seen.Add(name);
                }
            }
            var missing = expected.Keys.Where(k => !seen.Contains(k) && !optional.Contains(k)).ToList();
            if (missing.Count > 0 || unexpected.Count > 0)
                throw new InputException(dir, 0, null, "the weights do not match config.json:" +
                    (missing.Count > 0 ? $" missing tensors: {string.Join(", ", missing)};" : "") +
                    (unexpected.Count > 0 ? $" unexpected tensors: {string.Join(", ", unexpected)}" : ""));
        }
        finally
        {
            foreach (var t in expected.Values) t.Dispose();
        }
    }

    // How many elements of a floating-point tensor are NaN or ±∞ (0 for integer tensors).
    static long NonFinite(Tensor t)
    {
        if (t.DType is not (DType.Float16 or DType.BFloat16 or DType.Float32 or DType.Float64)) return 0;
        using var finite = t.IsFinite();
        using var count = finite.Sum();
        return t.Numel - count.ToInt64();
    }

    /// <summary>The safetensors files of a checkpoint directory (one file, or the shards its index names).</summary>
    public static IReadOnlyList<string> WeightFiles(string dir)
    {
        var single = Path.Combine(dir, WeightsFile);
        if (File.Exists(single)) return [single];
        var index = Path.Combine(dir, IndexFile);
        if (!File.Exists(index))
            throw new FileNotFoundException($"no {WeightsFile} or {IndexFile} in {dir}");
        var map = JsonNode.Parse(File.ReadAllText(index))?["weight_map"]?.AsObject()
                  ?? throw new InvalidDataException($"{index}: no weight_map");
        return map.Select(kv => ShardPath(dir, index, kv.Key, kv.Value!.GetValue<string>())).Distinct().Order().ToList();
    }

    // A shard named by the index must be a file name inside the checkpoint folder: no directory part, no absolute path.
    static string ShardPath(string dir, string index, string tensor, string shard)
    {
        if (shard.Length == 0 || shard is "." or ".." || shard.IndexOfAny(['/', '\\']) >= 0 || Path.IsPathRooted(shard))
            throw new InvalidDataException($"{index}: weight_map: tensor '{tensor}' names shard '{shard}', which is not a file name inside {dir}");
        return Path.Combine(dir, shard);
    }

    /// <summary>
    /// Saves <paramref name="model"/> (a <see cref="CausalLM"/> or <see cref="ScalarHeadModel"/>) with its config;
    /// a scalar-head model's number of heads goes into config.json as <c>num_labels</c>.
    /// Tensors are written in the model's dtype; checkpoints larger than <paramref name="maxShardBytes"/> are sharded.
    /// The directory is written next to its final place and renamed, so a crash never leaves half a checkpoint.
    /// </summary>
    public static void Save(Module model, ModelConfig config, string dir, ITokenizer? tokenizer = null,
                            GenerationConfig? generation = null, long maxShardBytes = 2L << 30)
    {
        if (model is ScalarHeadModel scalar)
        {
            config = config.Clone();
            config.Extra ??= [];
            config.Extra["num_labels"] = JsonSerializer.SerializeToElement(scalar.Heads);
        }
        var full = Path.GetFullPath(dir);
        var tmp = full.TrimEnd('/') + ".tmp-" + Environment.ProcessId;
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        var state = model.StateDict();
        try
        {
            WriteShards(state, tmp, maxShardBytes);
            config.Save(Path.Combine(tmp, "config.json"));
            (generation ?? GenerationConfig.FromModel(config)).Save(Path.Combine(tmp, "generation_config.json"));
            tokenizer?.Save(tmp);
        }
        finally
        {
            foreach (var t in state.Values) t.Dispose();
        }
        if (Directory.Exists(full)) Directory.Delete(full, recursive: true);
        Directory.Move(tmp, full);
    }

    static void WriteShards(Dictionary<string, Tensor> state, string dir, long maxShardBytes)
    {
        var shards = new List<Dictionary<string, Tensor>> { new() };
        long size = 0;
        foreach (var (name, t) in state.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            long bytes = t.Numel * t.DType.ElementSize();
            if (size > 0 && size + bytes > maxShardBytes) { shards.Add(new()); size = 0; }
            shards[^1][name] = t;
            size += bytes;
        }
        var meta = new Dictionary<string, string> { ["format"] = "pt" };
        if (shards.Count == 1)
        {
            Safetensors.Save(Path.Combine(dir, WeightsFile), shards[0], meta);
            return;
        }
        var weightMap = new JsonObject();
        long total = 0;
        for (var i = 0; i < shards.Count; i++)
        {
            var file = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
            Safetensors.Save(Path.Combine(dir, file), shards[i], meta);
            foreach (var (name, t) in shards[i])
            {
                weightMap[name] = file;
                total += t.Numel * t.DType.ElementSize();
            }
        }
        var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = total }, ["weight_map"] = weightMap };
        File.WriteAllText(Path.Combine(dir, IndexFile), index.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}

/// <summary>Default sampling settings saved beside a model (<c>generation_config.json</c>).</summary>
public sealed class GenerationConfig
{
    /// <summary>Beginning-of-sequence id.</summary>
    public int? BosTokenId { get; set; }
    /// <summary>End-of-sequence ids.</summary>
    public IReadOnlyList<int> EosTokenIds { get; set; } = [];
    /// <summary>Padding id.</summary>
    public int? PadTokenId { get; set; }
    /// <summary>Sample (true) or decode greedily (false).</summary>
    public bool DoSample { get; set; } = true;
    /// <summary>Softmax temperature.</summary>
    public double Temperature { get; set; } = 1.0;
    /// <summary>Nucleus mass.</summary>
    public double TopP { get; set; } = 1.0;
    /// <summary>Top-k cut (0: off).</summary>
    public int TopK { get; set; }
    /// <summary>Default generation length, in tokens.</summary>
    public int MaxNewTokens { get; set; } = 256;

    /// <summary>Token ids taken from a model config.</summary>
    public static GenerationConfig FromModel(ModelConfig c) =>
        new() { BosTokenId = c.BosTokenId, EosTokenIds = c.EosTokenIds, PadTokenId = c.PadTokenId };

    /// <summary>Writes Hugging Face's generation_config.json.</summary>
    public void Save(string path)
    {
        var o = new JsonObject
        {
            ["bos_token_id"] = BosTokenId,
            ["eos_token_id"] = EosTokenIds.Count == 1 ? JsonValue.Create(EosTokenIds[0]) : new JsonArray(EosTokenIds.Select(i => (JsonNode)i).ToArray()),
            ["pad_token_id"] = PadTokenId,
            ["do_sample"] = DoSample,
            ["temperature"] = Temperature,
            ["top_p"] = TopP,
            ["top_k"] = TopK,
            ["max_new_tokens"] = MaxNewTokens,
        };
        File.WriteAllText(path, o.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
