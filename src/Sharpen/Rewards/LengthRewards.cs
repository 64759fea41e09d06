namespace Sharpen.Rewards;

/// <summary>What a completion's length is counted in.</summary>
public enum LengthUnit
{
    /// <summary>Generated tokens, read from meta <c>completion_tokens</c> (completions are never re-tokenised).</summary>
    Tokens,

    /// <summary>Unicode scalar values of the completion text.</summary>
    Characters,
}

/// <summary>Completion lengths for the length rewards.</summary>
public static class CompletionLength
{
    /// <summary>
    /// The length of <paramref name="input"/>'s completion in <paramref name="unit"/>; throws when tokens are asked for
    /// and meta <c>completion_tokens</c> is missing (a configuration error, reported as <see cref="RewardStatus.Error"/>
    /// by <see cref="RewardPool"/>).
    /// </summary>
    public static long Of(RewardInput input, LengthUnit unit)
    {
        if (unit == LengthUnit.Characters) return input.Completion.EnumerateRunes().Count();
        if (input.Meta.TryGetValue(RewardMeta.CompletionTokens, out var v) && v is IConvertible c)
            return c.ToInt64(System.Globalization.CultureInfo.InvariantCulture);
        throw new InvalidOperationException($"length counted in tokens, but the sample has no meta '{RewardMeta.CompletionTokens}'");
    }
}

/// <summary>
/// Linear length penalty: r = −coefficient·max(0, |y| − target), 0 up to the target length. Detail "length" = |y|.
/// </summary>
/// <param name="targetLength">Length allowed without penalty, in <paramref name="unit"/>.</param>
/// <param name="coefficient">Penalty per unit beyond the target (default 0.001).</param>
/// <param name="unit">Tokens (default) or characters.</param>
public sealed class LengthPenalty(long targetLength, double coefficient = 1e-3, LengthUnit unit = LengthUnit.Tokens) : IRewardFunction
{
    /// <inheritdoc/>
    public string Name => "length_penalty";

    /// <inheritdoc/>
    public RewardResult Score(RewardInput input)
    {
        long length = CompletionLength.Of(input, unit);
        return RewardResult.Scored(coefficient * -Math.Max(0, length - targetLength),
            new Dictionary<string, double> { ["length"] = length });
    }
}

/// <summary>
/// DAPO's soft overlong punishment (*DAPO*, arXiv 2503.14476; docs/algorithms.md §5.2 "Length"): with L_exp = L_max − L_cache,
/// r = 0 for |y| ≤ L_exp, r = −factor·(|y| − L_exp)/L_cache for L_exp &lt; |y| ≤ L_max (linear to −factor at L_max),
/// and r = −factor beyond L_max. Detail "length" = |y|.
/// </summary>
public sealed class OverlongPenalty : IRewardFunction
{
    readonly long maxLength, cacheLength;
    readonly double factor;
    readonly LengthUnit unit;

    /// <summary>The penalty for completions longer than <paramref name="maxLength"/> − <paramref name="cacheLength"/>.</summary>
    /// <param name="maxLength">L_max, the length at which the penalty reaches −factor.</param>
    /// <param name="cacheLength">L_cache, the soft buffer before L_max over which the penalty grows (0 &lt; L_cache ≤ L_max).</param>
    /// <param name="factor">The full penalty (default 1).</param>
    /// <param name="unit">Tokens (default) or characters.</param>
    public OverlongPenalty(long maxLength, long cacheLength, double factor = 1.0, LengthUnit unit = LengthUnit.Tokens)
    {
        if (cacheLength <= 0 || cacheLength > maxLength)
            throw new ArgumentException($"overlong: need 0 < cache_length ({cacheLength}) ≤ max_length ({maxLength})");
        (this.maxLength, this.cacheLength, this.factor, this.unit) = (maxLength, cacheLength, factor, unit);
    }

    /// <inheritdoc/>
    public string Name => "overlong";

    /// <inheritdoc/>
    public RewardResult Score(RewardInput input)
    {
        long length = CompletionLength.Of(input, unit);
        long over = Math.Clamp(length - (maxLength - cacheLength), 0, cacheLength);
        return RewardResult.Scored(factor * -over / cacheLength, new Dictionary<string, double> { ["length"] = length });
    }
}
