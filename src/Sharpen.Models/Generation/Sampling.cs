namespace Sharpen.Models;

using Sharpen.Torch;

/// <summary>How completions are drawn. Every field is optional; the defaults sample from the model unchanged.</summary>
public sealed record SamplingOptions
{
    /// <summary>Softmax temperature (> 0). Ignored when <see cref="Greedy"/>.</summary>
    public double Temperature { get; init; } = 1.0;
    /// <summary>Keep only the k most likely tokens (0: off).</summary>
    public int TopK { get; init; }
    /// <summary>Keep the smallest set of most likely tokens whose probability mass reaches p (1: off).</summary>
    public double TopP { get; init; } = 1.0;
    /// <summary>Drop tokens whose probability is below min_p × the top token's probability (0: off).</summary>
    public double MinP { get; init; }
    /// <summary>Always take the most likely token.</summary>
    public bool Greedy { get; init; }
    /// <summary>Samples per prompt.</summary>
    public int N { get; init; } = 1;
    /// <summary>Most tokens generated per completion.</summary>
    public int MaxNewTokens { get; init; } = 64;
    /// <summary>Token ids that end a completion (kept as its last token).</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];
    /// <summary>Strings that end a completion once its decoded text contains one (needs a tokenizer).</summary>
    public IReadOnlyList<string> StopStrings { get; init; } = [];
    /// <summary>Seed of a private generator: the same seed repeats the same samples. Null uses the global generator.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Throws on out-of-range values, naming the option.</summary>
    public void Validate()
    {
        if (!Greedy && !(Temperature > 0)) throw new ArgumentException($"temperature must be > 0, got {Temperature}");
        if (TopK < 0) throw new ArgumentException($"top_k must be ≥ 0, got {TopK}");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top_p must be in (0, 1], got {TopP}");
        if (!(MinP >= 0 && MinP < 1)) throw new ArgumentException($"min_p must be in [0, 1), got {MinP}");
        if (N < 1) throw new ArgumentException($"n must be ≥ 1, got {N}");
        if (MaxNewTokens < 1) throw new ArgumentException($"max_new_tokens must be ≥ 1, got {MaxNewTokens}");
    }
}

/// <summary>Why a completion ended.</summary>
public enum FinishReason
{
    /// <summary>A stop token or stop string was produced.</summary>
    Stop,
    /// <summary>max_new_tokens was reached.</summary>
    Length,
}

/// <summary>
/// One completion, token-in token-out. <see cref="LogProbs"/> are log-probabilities under the distribution
/// actually sampled from (after temperature and top-k/top-p/min-p; 0 for greedy), <see cref="ModelLogProbs"/>
/// under the unmodified model distribution (temperature 1, no filtering) — the behaviour log-probs RL needs.
/// </summary>
public sealed record Completion(int PromptIndex, int SampleIndex, int[] Tokens, float[] LogProbs, float[] ModelLogProbs, FinishReason Finish);

/// <summary>Turns next-token logits into a choice: the filters of <see cref="SamplingOptions"/>, one registered step each.</summary>
public static class Sampler
{
    /// <summary>
    /// Picks one token per row of logits [R, V]. Returns tokens [R] (int64), their log-prob under the sampling
    /// distribution [R] and under log_softmax(logits) [R] (float32).
    /// </summary>
    public static (Tensor Tokens, Tensor SampleLogProbs, Tensor ModelLogProbs) Pick(Tensor logits, SamplingOptions o, Generator? rng)
    {
        var logits32 = logits.To(DType.Float32);
        var modelLogp = logits32.LogSoftmax(-1);                                        // [R, V]
        Tensor tokens, sampleLogp;
        if (o.Greedy)
        {
            tokens = logits32.Argmax(-1);                                               // [R]
            sampleLogp = Tensor.Zeros([logits.Size(0)], DType.Float32, logits.Device);
        }
        else
        {
            var filtered = Filter(logits32 / o.Temperature, o);                          // [R, V], -inf outside the kept set
            var logp = filtered.LogSoftmax(-1);
            tokens = logp.Exp().Multinomial(1, generator: rng).Squeeze(-1);               // [R]
            sampleLogp = logp.Gather(-1, tokens.Unsqueeze(-1)).Squeeze(-1);
        }
        return (tokens, sampleLogp, modelLogp.Gather(-1, tokens.Unsqueeze(-1)).Squeeze(-1));
    }

    /// <summary>Applies top-k, then top-p, then min-p to (temperature-scaled) logits [R, V]; dropped tokens get −∞.</summary>
    public static Tensor Filter(Tensor logits, SamplingOptions o)
    {
        if (o.TopK > 0 && o.TopK < logits.Size(-1)) logits = TopK(logits, o.TopK);
        if (o.TopP < 1) logits = TopP(logits, o.TopP);
        if (o.MinP > 0) logits = MinP(logits, o.MinP);
        return logits;
    }

    /// <summary>Keeps the k largest logits per row (ties with the k-th are kept).</summary>
    public static Tensor TopK(Tensor logits, int k)
    {
        var kth = logits.TopK(k, -1).Values.Narrow(-1, k - 1, 1);                      // [R, 1]
        return logits.MaskedFill(logits < kth, double.NegativeInfinity);
    }

    /// <summary>Nucleus: keeps the most likely tokens until their mass reaches p (always at least the top one).</summary>
    public static Tensor TopP(Tensor logits, double p)
    {
        var (sorted, order) = logits.Sort(-1, descending: true);                        // [R, V]
        var probs = sorted.Softmax(-1);
        var massBefore = probs.Cumsum(-1) - probs;                                       // mass of strictly better tokens
        var dropSorted = massBefore >= p;
        var drop = dropSorted.Scatter(-1, order, dropSorted);                            // back to vocabulary order
        return logits.MaskedFill(drop, double.NegativeInfinity);
    }

    /// <summary>Drops tokens with probability below minP × the row's highest probability.</summary>
    public static Tensor MinP(Tensor logits, double minP)
    {
        var probs = logits.Softmax(-1);
        var threshold = probs.Amax([-1], keepdim: true) * minP;                         // [R, 1]
        return logits.MaskedFill(probs < threshold, double.NegativeInfinity);
    }
}
