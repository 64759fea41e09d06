namespace Sharpen.Torch;

/// <summary>Stateless layers and losses (the functional form of the modules in Sharpen.Torch.NN).</summary>
public static class F
{
    /// <summary>x·Wᵀ + b. x [.., in], weight [out, in], bias [out] → [.., out].</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null) =>
        new(Native.sh_nn_linear(x.Handle, weight.Handle, bias?.Handle ?? IntPtr.Zero));

    /// <summary>Rows of <paramref name="weight"/> [V, D] picked by int64 <paramref name="ids"/> [..] → [.., D].</summary>
    public static Tensor Embedding(Tensor weight, Tensor ids) => new(Native.sh_nn_embedding(weight.Handle, ids.Handle));

    /// <summary>Layer normalisation over the last <paramref name="normalizedDims"/> dimensions.</summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, double eps = 1e-5, int normalizedDims = 1) =>
        new(Native.sh_nn_layer_norm(x.Handle, normalizedDims, weight?.Handle ?? IntPtr.Zero, bias?.Handle ?? IntPtr.Zero, eps));

    /// <summary>RMSNorm over the last dimension: x·rsqrt(mean(x²)+eps)·w, in float32 (or float64) then cast back.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor? weight, double eps = 1e-6) =>
        new(Native.sh_nn_rms_norm(x.Handle, weight?.Handle ?? IntPtr.Zero, eps));

    /// <summary>Zeroes elements with probability p and scales the rest by 1/(1−p) when training.</summary>
    public static Tensor Dropout(Tensor x, double p, bool training) => new(Native.sh_nn_dropout(x.Handle, p, training ? 1 : 0));

    /// <summary>Cross entropy of logits [N, C] against int64 targets [N]; targets equal to <paramref name="ignoreIndex"/> are left out.</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets, long ignoreIndex = -100, Reduction reduction = Reduction.Mean) =>
        new(Native.sh_nn_cross_entropy(logits.Handle, targets.Handle, ignoreIndex, (int)reduction));

    /// <summary>
    /// Scaled dot-product attention softmax(q·kᵀ·scale + mask)·v. q [B, H, Tq, D], k and v [B, H, Tk, D],
    /// <paramref name="mask"/> null or bool broadcastable to [B, H, Tq, Tk], true where a query may attend
    /// (every row must allow at least one key). <paramref name="scale"/> null means 1/√D. → [B, H, Tq, D].
    /// Runs libtorch's fused kernel where the libtorch has one (see <see cref="FusedAttention"/>).
    /// </summary>
    public static Tensor ScaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor? mask = null, double? scale = null) =>
        new(Native.sh_attention_sdpa(q.Handle, k.Handle, v.Handle, mask?.Handle ?? IntPtr.Zero, scale ?? 0));

    /// <summary>True when attention runs libtorch's fused kernel (libtorch ≥ 2), false for the plain composition.</summary>
    public static bool FusedAttention => Native.Check(Native.sh_attention_backend()) == 1;

    /// <summary>Per-token log-probabilities log softmax(logits)[ids]: logits [B, T, V], ids [B, T] → [B, T] (float32 or wider).</summary>
    public static Tensor TokenLogProbs(Tensor logits, Tensor ids) => new(Native.sh_nn_token_logprobs(logits.Handle, ids.Handle));
}

/// <summary>How a loss reduces over elements.</summary>
public enum Reduction
{
    /// <summary>One value per element.</summary>
    None = 0,
    /// <summary>The mean.</summary>
    Mean = 1,
    /// <summary>The sum.</summary>
    Sum = 2,
}
