using Sharpen.Torch;

namespace Sharpen.Algorithms;

using Torch = Sharpen.Torch.Torch;

/// <summary>Bounds of the rollout importance weights.</summary>
/// <param name="CMin">C_min: weights below it are raised to it (truncate) or zeroed (mask).</param>
/// <param name="CMax">C_max: weights above it are lowered to it (truncate) or zeroed (mask); may be +∞.</param>
public sealed record CorrectionOptions(double CMin = 0.0, double CMax = 3.0);

/// <summary>
/// Detached per-token weights w [B, T] (0 on masked tokens) that multiply the per-token policy loss, and metrics over
/// loss tokens: <c>frac_truncated</c> or <c>frac_masked</c> (tokens whose weight was changed or zeroed),
/// <c>mean_weight</c> and <c>mean_abs_logp_diff</c> = mean|ℓ^old − ℓ^roll|.
/// </summary>
public sealed record CorrectionResult(Tensor Weights, IReadOnlyDictionary<string, double> Metrics);

/// <summary>Importance weights π_old/π_roll correcting for the gap between the inference engine's and the trainer's log-probs.</summary>
/// <param name="oldLogProbs">ℓ^old [B, T], recomputed by the trainer.</param>
/// <param name="rolloutLogProbs">ℓ^roll [B, T], reported by the inference engine for the same tokens.</param>
/// <param name="mask">m [B, T].</param>
/// <param name="options">The bounds.</param>
public delegate CorrectionResult MismatchCorrection(Tensor oldLogProbs, Tensor rolloutLogProbs, Tensor mask, CorrectionOptions options);

/// <summary>
/// Rollout/training mismatch correction (docs/algorithms.md §3.9; truncated importance sampling, *Your Efficient RL
/// Framework Secretly Brings You Off-Policy RL Training*, Yao et al. 2025). The raw weight is
/// w = exp(ℓ^old − ℓ^roll) per token or exp(Σ_t m_t(ℓ^old − ℓ^roll)) per sequence (log clamped to [−20, 20]).
/// </summary>
public static class MismatchCorrections
{
    /// <summary>Corrections by name: <c>token_truncate</c> (TIS), <c>token_mask</c> (IcePop), <c>sequence_truncate</c>, <c>sequence_mask</c> (MIS).</summary>
    public static readonly Registry<MismatchCorrection> Registry = new Registry<MismatchCorrection>("mismatch correction")
        .Add("token_truncate", (o, r, m, c) => Weights(o, r, m, c, sequence: false, truncate: true))
        .Add("token_mask", (o, r, m, c) => Weights(o, r, m, c, sequence: false, truncate: false))
        .Add("sequence_truncate", (o, r, m, c) => Weights(o, r, m, c, sequence: true, truncate: true))
        .Add("sequence_mask", (o, r, m, c) => Weights(o, r, m, c, sequence: true, truncate: false));

    /// <summary>
    /// Weights at token or <paramref name="sequence"/> level; <paramref name="truncate"/> clips them to
    /// [C_min, C_max] (w ← clip(w, C_min, C_max)), otherwise those outside are zeroed (w ← w·1[C_min ≤ w ≤ C_max]);
    /// at sequence level a sequence's weight applies to all its tokens.
    /// </summary>
    public static CorrectionResult Weights(Tensor oldLogProbs, Tensor rolloutLogProbs, Tensor mask, CorrectionOptions options, bool sequence, bool truncate)
    {
        using var noGrad = Torch.NoGrad();
        using var scope = new TensorScope();
        var m = mask.To(oldLogProbs.DType);                                    // [B, T]
        var logW = (oldLogProbs - rolloutLogProbs) * m;                        // [B, T]
        if (sequence) logW = logW.Sum(1, keepdim: true);                       // [B, 1]
        var w = logW.Clamp(-20, 20).Exp();
        var outside = w.Lt(options.CMin) | w.Gt(options.CMax);
        var corrected = truncate ? w.Clamp(options.CMin, options.CMax) : w.MaskedFill(outside, 0);
        var weights = corrected * m;                                           // [B, T]
        var metrics = new Dictionary<string, double>
        {
            [truncate ? "frac_truncated" : "frac_masked"] = MaskedReduce.MeanValue(outside.To(m.DType), m),
            ["mean_weight"] = MaskedReduce.MeanValue(weights, m),
            ["mean_abs_logp_diff"] = MaskedReduce.MeanValue((oldLogProbs - rolloutLogProbs).Abs(), m),
        };
        return new(scope.Keep(weights), metrics);
    }
}
