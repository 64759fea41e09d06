namespace Sharpen.Models;

using Sharpen.Torch;
using Sharpen.Torch.NN;

/// <summary>
/// Grouped-query self-attention with RoPE (and Qwen3's per-head q/k RMSNorm). Parameter names follow
/// Hugging Face: q_proj, k_proj, v_proj, o_proj, q_norm, k_norm.
/// </summary>
public sealed class Attention : Module
{
    readonly int heads, kvHeads, headDim;
    readonly Linear qProj, kProj, vProj, oProj;
    readonly RMSNorm? qNorm, kNorm;

    public Attention(ModelConfig c)
    {
        heads = c.NumAttentionHeads;
        kvHeads = c.KvHeads;
        headDim = c.HeadDim;
        qProj = RegisterModule("q_proj", new Linear(c.HiddenSize, heads * headDim, c.AttentionBias));
        kProj = RegisterModule("k_proj", new Linear(c.HiddenSize, kvHeads * headDim, c.AttentionBias));
        vProj = RegisterModule("v_proj", new Linear(c.HiddenSize, kvHeads * headDim, c.AttentionBias));
        oProj = RegisterModule("o_proj", new Linear(heads * headDim, c.HiddenSize, bias: false));
        if (c.QkNorm)
        {
            qNorm = RegisterModule("q_norm", new RMSNorm(headDim, c.RmsNormEps));
            kNorm = RegisterModule("k_norm", new RMSNorm(headDim, c.RmsNormEps));
        }
    }

    /// <summary>x [B, T, D] → [B, T, D]. mask: bool [B, 1, T, Tk] (true = may attend); cache: optional, appended to.</summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor mask, KvCache? cache, int layer)
    {
        long b = x.Size(0), t = x.Size(1);
        var q = qProj.Forward(x).View(b, t, heads, headDim);                   // [B, T, H, Dh]
        var k = kProj.Forward(x).View(b, t, kvHeads, headDim);                 // [B, T, Hkv, Dh]
        var v = vProj.Forward(x).View(b, t, kvHeads, headDim).Transpose(1, 2); // [B, Hkv, T, Dh]
        if (qNorm is not null) q = qNorm.Forward(q);
        if (kNorm is not null) k = kNorm!.Forward(k);
        q = Rope.Apply(q.Transpose(1, 2), cos, sin);                           // [B, H, T, Dh]
        k = Rope.Apply(k.Transpose(1, 2), cos, sin);                           // [B, Hkv, T, Dh]
        if (cache is not null) (k, v) = cache.Append(layer, k, v);             // [B, Hkv, Tk, Dh]
        k = RepeatKv(k, heads / kvHeads);                                      // [B, H, Tk, Dh]
        v = RepeatKv(v, heads / kvHeads);
        var o = F.ScaledDotProductAttention(q, k, v, mask);                    // [B, H, T, Dh]
        return oProj.Forward(o.Transpose(1, 2).Reshape(b, t, heads * headDim));
    }

    /// <summary>Repeats each key/value head n times: [B, Hkv, T, Dh] → [B, Hkv·n, T, Dh] (head j serves queries j·n … j·n+n−1).</summary>
    public static Tensor RepeatKv(Tensor x, int n)
    {
        if (n == 1) return x;
        var s = x.Shape;
        return x.Unsqueeze(2).Expand(s[0], s[1], n, s[2], s[3]).Reshape(s[0], s[1] * n, s[2], s[3]);
    }
}

/// <summary>SwiGLU feed-forward: down(act(gate(x)) · up(x)).</summary>
public sealed class Mlp : Module
{
    readonly Linear gate, up, down;
    readonly string act;

    public Mlp(ModelConfig c)
    {
        gate = RegisterModule("gate_proj", new Linear(c.HiddenSize, c.IntermediateSize, bias: false));
        up = RegisterModule("up_proj", new Linear(c.HiddenSize, c.IntermediateSize, bias: false));
        down = RegisterModule("down_proj", new Linear(c.IntermediateSize, c.HiddenSize, bias: false));
        act = c.HiddenAct;
    }

    /// <summary>[B, T, D] → [B, T, D].</summary>
    public Tensor Forward(Tensor x)
    {
        var g = gate.Forward(x);                                               // [B, T, I]
        g = act switch { "silu" => g.Silu(), "gelu" => g.Gelu(), _ => g.Gelu(tanhApproximation: true) };
        return down.Forward(g * up.Forward(x));
    }
}

/// <summary>Pre-norm transformer block: h = x + attn(norm(x)); out = h + mlp(norm(h)).</summary>
public sealed class DecoderLayer : Module
{
    readonly Attention attn;
    readonly Mlp mlp;
    readonly RMSNorm inputNorm, postNorm;

    public DecoderLayer(ModelConfig c)
    {
        attn = RegisterModule("self_attn", new Attention(c));
        mlp = RegisterModule("mlp", new Mlp(c));
        inputNorm = RegisterModule("input_layernorm", new RMSNorm(c.HiddenSize, c.RmsNormEps));
        postNorm = RegisterModule("post_attention_layernorm", new RMSNorm(c.HiddenSize, c.RmsNormEps));
    }

    /// <summary>[B, T, D] → [B, T, D].</summary>
    public Tensor Forward(Tensor x, Tensor cos, Tensor sin, Tensor mask, KvCache? cache, int layer)
    {
        var h = x + attn.Forward(inputNorm.Forward(x), cos, sin, mask, cache, layer);
        return h + mlp.Forward(postNorm.Forward(h));
    }
}

/// <summary>
/// The decoder trunk (Hugging Face's <c>model.*</c>): token embedding, blocks, final RMSNorm.
/// Handles left- or right-padded batches through the attention mask.
/// </summary>
public sealed class Transformer : Module
{
    /// <summary>The configuration this trunk was built from.</summary>
    public ModelConfig Config { get; }

    /// <summary>Token embedding [V, D].</summary>
    public Embedding EmbedTokens { get; }

    readonly ModuleList layers;
    readonly RMSNorm norm;
    readonly Tensor invFreq;   // [Dh/2], a non-persistent buffer: follows the model's device, not saved

    public Transformer(ModelConfig config)
    {
        config.Validate();
        Config = config;
        EmbedTokens = RegisterModule("embed_tokens", new Embedding(config.VocabSize, config.HiddenSize));
        layers = RegisterModule("layers", new ModuleList());
        for (var i = 0; i < config.NumHiddenLayers; i++) layers.Add(new DecoderLayer(config));
        norm = RegisterModule("norm", new RMSNorm(config.HiddenSize, config.RmsNormEps));
        invFreq = RegisterBuffer("rotary_inv_freq", Tensor.From(new Rope(config).InverseFrequencies.ToArray()), persistent: false);
        InitWeights(this, config.InitializerRange);
    }

    /// <summary>
    /// Hugging Face's initialisation: every matrix (projections, embeddings, heads) ~ N(0, std²), biases 0;
    /// norm weights stay 1. Keeps a fresh model's logits small.
    /// </summary>
    public static void InitWeights(Module module, double std)
    {
        using var scope = new TensorScope();
        using var _ = Torch.NoGrad();
        foreach (var (name, p) in module.NamedParameters())
        {
            if (name.EndsWith("norm.weight")) continue;
            if (p.Dim >= 2) p.Copy_(Tensor.Randn(p.Shape, p.DType, p.Device) * std);
            else p.Zero_();
        }
    }

    /// <summary>
    /// Hidden states [B, T, D] for token ids [B, T].
    /// <paramref name="attentionMask"/> [B, Tk] (1 = real token, 0 = padding) covers the cached positions and
    /// these T (Tk = cache length + T); null means no padding. <paramref name="positionIds"/> [B, T] default to
    /// the count of real tokens before each one (so left padding does not shift positions).
    /// </summary>
    public Tensor Forward(Tensor ids, Tensor? attentionMask = null, Tensor? positionIds = null, KvCache? cache = null)
    {
        long b = ids.Size(0), t = ids.Size(1), past = cache?.Length ?? 0, tk = past + t;
        var device = ids.Device;
        var keyValid = attentionMask?.To(DType.Bool) ?? Tensor.Ones([b, tk], DType.Bool, device);   // [B, Tk]
        if (keyValid.Size(1) != tk)
            throw new ArgumentException($"attention mask covers {keyValid.Size(1)} positions, expected cache length {past} + {t} tokens = {tk}");
        positionIds ??= PositionIds(keyValid).Narrow(1, past, t);                                   // [B, T]
        var mask = AttentionMask(keyValid, past, t);                                               // [B, 1, T, Tk]
        var x = EmbedTokens.Forward(ids);                                                           // [B, T, D]
        var (cos, sin) = Rope.Tables(invFreq, positionIds, x.DType);                                        // [B, 1, T, Dh]
        for (var i = 0; i < layers.Count; i++)
            x = ((DecoderLayer)layers[i]).Forward(x, cos, sin, mask, cache, i);
        cache?.Advance(t);
        return norm.Forward(x);
    }

    /// <summary>Positions from a padding mask [B, T]: the number of real tokens before each token (padding gets 0).</summary>
    public static Tensor PositionIds(Tensor keyValid)
    {
        var m = keyValid.To(DType.Int64);
        return (m.Cumsum(1) - 1).Clamp(min: 0) * m;
    }

    /// <summary>
    /// Causal mask with padding, bool [B, 1, T, Tk]: query i (absolute position past+i) may see key j when
    /// j ≤ past+i and key j is real. Each query may always see itself, so no row is empty (padding rows are
    /// discarded later; this keeps softmax finite).
    /// </summary>
    public static Tensor AttentionMask(Tensor keyValid, long past, long t)
    {
        var device = keyValid.Device;
        long tk = past + t;
        var qPos = Tensor.Arange(past, tk, 1, DType.Int64, device).Unsqueeze(1);    // [T, 1]
        var kPos = Tensor.Arange(0, tk, 1, DType.Int64, device).Unsqueeze(0);       // [1, Tk]
        var causal = kPos <= qPos;                                                // [T, Tk]
        var self = kPos.Eq(qPos);
        var m = causal.Unsqueeze(0) & keyValid.Unsqueeze(1);                      // [B, T, Tk]
        return (m | self.Unsqueeze(0)).Unsqueeze(1);                              // [B, 1, T, Tk]
    }
}

/// <summary>
/// A causal language model: the trunk plus an LM head (Hugging Face's <c>lm_head</c>, or the tied
/// embedding). Optionally a value head on the same trunk (a scalar per token, for PPO's critic).
/// </summary>
public sealed class CausalLM : Module
{
    /// <summary>The trunk.</summary>
    public Transformer Model { get; }

    /// <summary>Configuration.</summary>
    public ModelConfig Config => Model.Config;

    readonly Linear? lmHead;
    Linear? valueHead;

    public CausalLM(ModelConfig config)
    {
        Model = RegisterModule("model", new Transformer(config));
        if (!config.TieWordEmbeddings)
        {
            lmHead = RegisterModule("lm_head", new Linear(config.HiddenSize, config.VocabSize, bias: false));
            Transformer.InitWeights(lmHead, config.InitializerRange);
        }
    }

    /// <summary>LM head weight [V, D] (the embedding when tied).</summary>
    public Tensor LmHeadWeight => lmHead?.Weight ?? Model.EmbedTokens.Weight;

    /// <summary>Logits [B, T, V] for ids [B, T]; see <see cref="Transformer.Forward"/> for the other arguments.</summary>
    public Tensor Forward(Tensor ids, Tensor? attentionMask = null, Tensor? positionIds = null, KvCache? cache = null) =>
        Logits(Model.Forward(ids, attentionMask, positionIds, cache));

    /// <summary>Logits [.., V] from hidden states [.., D].</summary>
    public Tensor Logits(Tensor hidden) => F.Linear(hidden, LmHeadWeight);

    /// <summary>Adds a value head on this trunk (Hugging Face name <c>v_head</c>), initialised to zero output.</summary>
    public void AddValueHead()
    {
        if (valueHead is not null) return;
        valueHead = RegisterModule("v_head", new Linear(Config.HiddenSize, 1, bias: true));
        using (Torch.NoGrad()) { valueHead.Weight.Zero_(); valueHead.Bias!.Zero_(); }
    }

    /// <summary>Logits [B, T, V] and values [B, T] from one trunk pass (requires <see cref="AddValueHead"/>).</summary>
    public (Tensor Logits, Tensor Values) ForwardWithValues(Tensor ids, Tensor? attentionMask = null)
    {
        var head = valueHead ?? throw new InvalidOperationException("this model has no value head; call AddValueHead first");
        var h = Model.Forward(ids, attentionMask);
        return (Logits(h), head.Forward(h).Squeeze(-1));
    }

    /// <summary>A new KV cache sized for this model.</summary>
    public KvCache NewCache(long batch, long capacity) =>
        new(Config, batch, capacity, Model.EmbedTokens.Weight.DType, Model.EmbedTokens.Weight.Device);
}

/// <summary>
/// A trunk with a scalar head (Hugging Face's <c>score</c>, as in *ForSequenceClassification with <c>num_labels</c> = K):
/// a value per token (critic) or one per sequence at its last real token (reward model). With K &gt; 1 heads the
/// model is a reward ensemble on one trunk: <c>score</c> is Linear(D, K) and each output is one member.
/// </summary>
public sealed class ScalarHeadModel : Module
{
    /// <summary>The trunk.</summary>
    public Transformer Model { get; }

    /// <summary>Number of scalar heads K (1 for a single reward model or critic).</summary>
    public int Heads { get; }

    readonly Linear score;

    /// <summary>A fresh model with <paramref name="heads"/> scalar heads, every matrix ~ N(0, initializer_range²).</summary>
    public ScalarHeadModel(ModelConfig config, int heads = 1)
    {
        if (heads < 1) throw new ArgumentOutOfRangeException(nameof(heads), heads, "a scalar-head model needs at least one head");
        Heads = heads;
        Model = RegisterModule("model", new Transformer(config));
        score = RegisterModule("score", new Linear(config.HiddenSize, heads, bias: false));
        Transformer.InitWeights(score, config.InitializerRange);
    }

    /// <summary>A scalar per token, [B, T] (single-head models only; see <see cref="ValuesAll"/>).</summary>
    public Tensor Values(Tensor ids, Tensor? attentionMask = null)
    {
        RequireSingleHead();
        return ValuesAll(ids, attentionMask).Squeeze(-1);
    }

    /// <summary>K scalars per token, [B, T, K].</summary>
    public Tensor ValuesAll(Tensor ids, Tensor? attentionMask = null) => score.Forward(Model.Forward(ids, attentionMask));

    /// <summary>A scalar per sequence [B], read at the last real token of each row (single-head models only; see <see cref="SequenceScoresAll"/>).</summary>
    public Tensor SequenceScores(Tensor ids, Tensor? attentionMask = null)
    {
        RequireSingleHead();
        return SequenceScoresAll(ids, attentionMask).Squeeze(1);
    }

    /// <summary>K scalars per sequence [B, K], read at the last real token of each row (left or right padding).</summary>
    public Tensor SequenceScoresAll(Tensor ids, Tensor? attentionMask = null)
    {
        var values = ValuesAll(ids, attentionMask);                                   // [B, T, K]
        var last = LastTokenIndex(attentionMask, ids.Size(0), ids.Size(1), ids.Device);   // [B]
        var index = last.View(-1, 1, 1).Expand(values.Size(0), 1, Heads);            // [B, 1, K]
        return values.Gather(1, index).Squeeze(1);                                    // [B, K]
    }

    void RequireSingleHead()
    {
        if (Heads != 1)
            throw new InvalidOperationException($"this model has {Heads} heads; use ValuesAll or SequenceScoresAll and aggregate the ensemble");
    }

    /// <summary>Index of the last real token per row, [B] (T−1 without a mask).</summary>
    public static Tensor LastTokenIndex(Tensor? attentionMask, long b, long t, Device device)
    {
        if (attentionMask is null) return Tensor.Full([b], t - 1, DType.Int64, device);
        var pos = Tensor.Arange(t, device).Unsqueeze(0);                                 // [1, T]
        return (attentionMask.To(DType.Int64) * (pos + 1)).Argmax(1);                   // [B]
    }
}
