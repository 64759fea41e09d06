using Sharpen.Torch;

namespace Sharpen.Algorithms;

/// <summary>
/// Global normalisers for <see cref="LossAggregations"/>. Under data parallelism every rank passes the
/// counts of the whole global batch and the world size, so that the all-reduced (averaged) gradient
/// equals the gradient of the unsharded batch. Left null, the counts are taken from the local batch.
/// </summary>
/// <param name="TokenCount">N_tok: loss tokens (Σ m) in the global batch.</param>
/// <param name="SequenceCount">B: sequences with at least one loss token in the global batch.</param>
/// <param name="WorldSize">dp: number of data-parallel ranks averaging their gradients.</param>
/// <param name="MaxLength">K = L_max, the maximum generation length in tokens (for <c>seq_mean_token_sum_norm</c>).</param>
public sealed record AggregationOptions(double? TokenCount = null, double? SequenceCount = null, int WorldSize = 1, double? MaxLength = null);

/// <summary>Reduces a per-token loss [B, T] under mask [B, T] to a scalar (0-dim) loss.</summary>
public delegate Tensor LossAggregation(Tensor loss, Tensor mask, AggregationOptions options);

/// <summary>
/// Loss aggregation modes (docs/algorithms.md §3.5; verl <c>agg_loss</c>, TRL <c>_compute_loss</c>). With |y_b| = Σ_t m
/// and the global counts N_tok and B of <see cref="AggregationOptions"/>, each mode's value is multiplied by
/// dp so that averaging over ranks gives the single-rank value.
/// </summary>
public static class LossAggregations
{
    /// <summary>Aggregation modes by name: <c>token_mean</c>, <c>token_sum</c>, <c>seq_mean_token_mean</c>, <c>seq_mean_token_sum</c>, <c>seq_mean_token_sum_norm</c>.</summary>
    public static readonly Registry<LossAggregation> Registry = new Registry<LossAggregation>("loss aggregation")
        .Add("token_mean", TokenMean)
        .Add("token_sum", TokenSum)
        .Add("seq_mean_token_mean", SeqMeanTokenMean)
        .Add("seq_mean_token_sum", SeqMeanTokenSum)
        .Add("seq_mean_token_sum_norm", SeqMeanTokenSumNorm);

    /// <summary>Σ_{b,t} m·L / N_tok (TRL <c>dapo</c>): every token weighs the same.</summary>
    public static Tensor TokenMean(Tensor loss, Tensor mask, AggregationOptions options)
    {
        using var scope = new TensorScope();
        var m = mask.To(loss.DType);                                           // [B, T]
        var tokens = options.TokenCount is { } n ? n : m.Sum().ToDouble();
        return scope.Keep((loss * m).Sum() * (options.WorldSize / Math.Max(tokens, 1)));
    }

    /// <summary>Σ_{b,t} m·L.</summary>
    public static Tensor TokenSum(Tensor loss, Tensor mask, AggregationOptions options)
    {
        using var scope = new TensorScope();
        return scope.Keep((loss * mask.To(loss.DType)).Sum() * options.WorldSize);
    }

    /// <summary>(1/B)·Σ_b Σ_t m·L / |y_b| (TRL <c>grpo</c>): every sequence weighs the same.</summary>
    public static Tensor SeqMeanTokenMean(Tensor loss, Tensor mask, AggregationOptions options)
    {
        using var scope = new TensorScope();
        var m = mask.To(loss.DType);                                           // [B, T]
        var length = m.Sum(1).Clamp(min: 1);                                   // |y_b|  [B]
        return scope.Keep(SeqMean((loss * m).Sum(1) / length, m, options));
    }

    /// <summary>(1/B)·Σ_b Σ_t m·L.</summary>
    public static Tensor SeqMeanTokenSum(Tensor loss, Tensor mask, AggregationOptions options)
    {
        using var scope = new TensorScope();
        var m = mask.To(loss.DType);                                           // [B, T]
        return scope.Keep(SeqMean((loss * m).Sum(1), m, options));
    }

    /// <summary>
    /// (1/B)·Σ_b Σ_t m·L / L_max (Dr. GRPO, *Understanding R1-Zero-Like Training*, arXiv 2503.20783; TRL
    /// <c>dr_grpo</c>): a constant normaliser, so long responses are not down-weighted.
    /// </summary>
    public static Tensor SeqMeanTokenSumNorm(Tensor loss, Tensor mask, AggregationOptions options)
    {
        var maxLength = options.MaxLength
            ?? throw new ArgumentException("seq_mean_token_sum_norm needs AggregationOptions.MaxLength (L_max, the maximum generation length)");
        using var scope = new TensorScope();
        return scope.Keep(SeqMeanTokenSum(loss, mask, options) / maxLength);
    }

    // dp·Σ_b perSequence_b / B over non-empty sequences ([B] → 0-dim).
    static Tensor SeqMean(Tensor perSequence, Tensor m, AggregationOptions options)
    {
        var sequences = options.SequenceCount is { } n ? n : m.Sum(1).Gt(0).Sum().ToDouble();
        return perSequence.Sum() * (options.WorldSize / Math.Max(sequences, 1));
    }
}
