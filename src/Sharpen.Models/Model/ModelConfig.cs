using System.Text.Json;
using System.Text.Json.Serialization;

namespace Sharpen.Models;

/// <summary>
/// Configuration of a decoder-only transformer of the Llama / Qwen2 / Qwen3 / Mistral family, with
/// Hugging Face's <c>config.json</c> field names so checkpoints load in both directions.
/// </summary>
public sealed class ModelConfig
{
    /// <summary>Architectures this transformer implements (<c>model_type</c>).</summary>
    public static readonly IReadOnlyList<string> SupportedModelTypes = ["llama", "mistral", "qwen2", "qwen3"];

    /// <summary>Family name: llama, mistral, qwen2 or qwen3.</summary>
    [JsonPropertyName("model_type")] public string ModelType { get; set; } = "llama";
    /// <summary>Number of token ids.</summary>
    [JsonPropertyName("vocab_size")] public int VocabSize { get; set; } = 32000;
    /// <summary>Width of the residual stream, D.</summary>
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; set; } = 4096;
    /// <summary>Width of the SwiGLU MLP.</summary>
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; set; } = 11008;
    /// <summary>Number of transformer blocks.</summary>
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; set; } = 32;
    /// <summary>Query heads H.</summary>
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; set; } = 32;
    /// <summary>Key/value heads (grouped-query attention when fewer than query heads); null means H.</summary>
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; set; }
    /// <summary>Per-head width; null means hidden_size / num_attention_heads.</summary>
    [JsonPropertyName("head_dim")] public int? HeadDimOverride { get; set; }
    /// <summary>RoPE base θ.</summary>
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; set; } = 10000.0;
    /// <summary>RoPE frequency scaling (linear or llama3), or null.</summary>
    [JsonPropertyName("rope_scaling")] public RopeScaling? RopeScaling { get; set; }
    /// <summary>RMSNorm epsilon.</summary>
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; set; } = 1e-6;
    /// <summary>When true the LM head shares the token embedding matrix.</summary>
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; set; }
    /// <summary>Bias on the q/k/v projections (Qwen2). Null: true for qwen2, false otherwise.</summary>
    [JsonPropertyName("attention_bias")] public bool? AttentionBiasOverride { get; set; }
    /// <summary>Longest sequence the positions were trained for.</summary>
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; set; } = 2048;
    /// <summary>MLP gate activation: silu (default) or gelu / gelu_pytorch_tanh.</summary>
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; set; } = "silu";
    /// <summary>Standard deviation of the normal initialisation of projection and embedding weights.</summary>
    [JsonPropertyName("initializer_range")] public double InitializerRange { get; set; } = 0.02;
    /// <summary>Beginning-of-sequence token id.</summary>
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; set; }
    /// <summary>End-of-sequence token id.</summary>
    [JsonPropertyName("eos_token_id")] public JsonElement? EosTokenIdRaw { get; set; }
    /// <summary>Padding token id.</summary>
    [JsonPropertyName("pad_token_id")] public int? PadTokenId { get; set; }
    /// <summary>Dtype the checkpoint was saved in (informational; weights load as float32 on CPU).</summary>
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; set; }
    /// <summary>Architecture class names, as Hugging Face writes them.</summary>
    [JsonPropertyName("architectures")] public List<string>? Architectures { get; set; }
    /// <summary>Fields this class does not model, kept so a saved config.json loses nothing.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    /// <summary>Key/value heads.</summary>
    [JsonIgnore] public int KvHeads => NumKeyValueHeads ?? NumAttentionHeads;
    /// <summary>Per-head width.</summary>
    [JsonIgnore] public int HeadDim => HeadDimOverride ?? HiddenSize / NumAttentionHeads;
    /// <summary>Whether q/k/v projections carry a bias.</summary>
    [JsonIgnore] public bool AttentionBias => AttentionBiasOverride ?? ModelType == "qwen2";
    /// <summary>Per-head RMSNorm on queries and keys (Qwen3).</summary>
    [JsonIgnore] public bool QkNorm => ModelType == "qwen3";

    /// <summary>End-of-sequence ids (config.json may hold one id or a list).</summary>
    [JsonIgnore]
    public IReadOnlyList<int> EosTokenIds => EosTokenIdRaw is not { } e ? [] :
        e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().Select(x => x.GetInt32()).ToList() :
        e.ValueKind == JsonValueKind.Number ? [e.GetInt32()] : [];

    /// <summary>Sets the end-of-sequence id(s).</summary>
    public void SetEosTokenIds(params int[] ids) =>
        EosTokenIdRaw = ids.Length == 1 ? JsonSerializer.SerializeToElement(ids[0]) : JsonSerializer.SerializeToElement(ids);

    static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, AllowDuplicateProperties = false,
    };

    /// <summary>Reads and validates a config.json; a malformed or unsupported one is an <see cref="InputException"/> naming the file.</summary>
    public static ModelConfig Load(string path)
    {
        ModelConfig c;
        try
        {
            c = JsonSerializer.Deserialize<ModelConfig>(File.ReadAllText(path), Json)
                ?? throw new InputException(path, 0, null, "empty config (null)");
        }
        catch (JsonException e)
        {
            throw InputException.InvalidJson(path, e);
        }
        c.Validate(path);
        return c;
    }

    /// <summary>Writes config.json.</summary>
    public void Save(string path)
    {
        Architectures ??= [ModelType switch { "qwen2" => "Qwen2ForCausalLM", "qwen3" => "Qwen3ForCausalLM", "mistral" => "MistralForCausalLM", _ => "LlamaForCausalLM" }];
        File.WriteAllText(path, JsonSerializer.Serialize(this, Json));
    }

    /// <summary>Checks the architecture is supported and the sizes are consistent; the message names the field.</summary>
    public void Validate(string source = "config")
    {
        if (!SupportedModelTypes.Contains(ModelType))
            throw new InputException(source, 0, null, $"unknown model_type '{ModelType}'; supported: {string.Join(", ", SupportedModelTypes)}");
        void Positive(string name, int v)
        {
            if (v <= 0) throw new InputException(source, 0, null, $"{name} must be positive, got {v}");
        }
        Positive("vocab_size", VocabSize);
        Positive("hidden_size", HiddenSize);
        Positive("intermediate_size", IntermediateSize);
        Positive("num_hidden_layers", NumHiddenLayers);
        Positive("num_attention_heads", NumAttentionHeads);
        Positive("num_key_value_heads", KvHeads);
        Positive("head_dim", HeadDim);
        if (NumAttentionHeads % KvHeads != 0)
            throw new InputException(source, 0, null, $"num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({KvHeads})");
        if (HeadDim % 2 != 0) throw new InputException(source, 0, null, $"head_dim must be even for RoPE, got {HeadDim}");
        if (HiddenAct is not ("silu" or "gelu" or "gelu_pytorch_tanh"))
            throw new InputException(source, 0, null, $"unsupported hidden_act '{HiddenAct}' (silu, gelu, gelu_pytorch_tanh)");
        RopeScaling?.Validate(source);
    }

    /// <summary>A copy (through JSON, so nothing is shared).</summary>
    public ModelConfig Clone() => JsonSerializer.Deserialize<ModelConfig>(JsonSerializer.Serialize(this, Json), Json)!;
}

/// <summary>RoPE scaling as config.json writes it: <c>{"rope_type": "linear"|"llama3", "factor": …}</c>.</summary>
public sealed class RopeScaling
{
    /// <summary>linear or llama3 (older files call the field "type").</summary>
    [JsonPropertyName("rope_type")] public string? RopeType { get; set; }
    /// <summary>Older name of <see cref="RopeType"/>.</summary>
    [JsonPropertyName("type")] public string? Type { get; set; }
    /// <summary>Scale factor (context extension ratio).</summary>
    [JsonPropertyName("factor")] public double Factor { get; set; } = 1.0;
    /// <summary>llama3: wavelengths longer than original/low_freq_factor are divided by factor.</summary>
    [JsonPropertyName("low_freq_factor")] public double LowFreqFactor { get; set; } = 1.0;
    /// <summary>llama3: wavelengths shorter than original/high_freq_factor are kept.</summary>
    [JsonPropertyName("high_freq_factor")] public double HighFreqFactor { get; set; } = 4.0;
    /// <summary>llama3: the context length the model was pre-trained with.</summary>
    [JsonPropertyName("original_max_position_embeddings")] public int OriginalMaxPositionEmbeddings { get; set; } = 8192;

    /// <summary>The scaling kind.</summary>
    [JsonIgnore] public string Kind => RopeType ?? Type ?? "default";

    internal void Validate(string source)
    {
        if (Kind is not ("linear" or "llama3" or "default"))
            throw new InputException(source, 0, null, $"unsupported rope_scaling type '{Kind}' (linear, llama3)");
        if (Factor <= 0) throw new InputException(source, 0, null, $"rope_scaling.factor must be positive");
    }
}
