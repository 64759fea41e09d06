using System.Text.RegularExpressions;

namespace Sharpen.Rewards;

/// <summary>
/// Label exact match (docs/algorithms.md §5.2 "Rules"): 1 when the trimmed completion equals the trimmed gold <c>answer</c>,
/// else 0; a missing gold is unscorable (null).
/// </summary>
/// <param name="ignoreCase">Compare ignoring case (ordinal, invariant), default false.</param>
public sealed class ExactMatch(bool ignoreCase = false) : IRewardFunction
{
    /// <inheritdoc/>
    public string Name => "exact_match";

    /// <inheritdoc/>
    public RewardResult Score(RewardInput input)
    {
        var gold = input.MetaText(RewardMeta.Answer);
        if (gold == null) return RewardResult.Unscorable();
        var comparison = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        return RewardResult.Scored(string.Equals(input.Completion.Trim(), gold.Trim(), comparison) ? 1 : 0);
    }
}

/// <summary>
/// Format reward (docs/algorithms.md §5.2 "Rules"): 1 when the completion matches a regular expression (e.g.
/// <c>&lt;think&gt;.*&lt;/think&gt;.*\\boxed</c>), else 0. '.' matches newlines. A match that runs past the timeout scores
/// 0 with detail "timeout" = 1.
/// </summary>
public sealed class RegexFormat : IRewardFunction
{
    readonly Regex pattern;

    /// <summary>A format check by <paramref name="pattern"/>.</summary>
    /// <param name="pattern">.NET regular expression, compiled with Singleline and CultureInvariant.</param>
    /// <param name="fullMatch">Require the whole completion to match (anchored), default false (a match anywhere).</param>
    /// <param name="timeout">Match time limit (default 1 s).</param>
    public RegexFormat(string pattern, bool fullMatch = false, TimeSpan? timeout = null)
    {
        this.pattern = new Regex(fullMatch ? $@"\A(?:{pattern})\z" : pattern,
            RegexOptions.Singleline | RegexOptions.CultureInvariant, timeout ?? TimeSpan.FromSeconds(1));
    }

    /// <inheritdoc/>
    public string Name => "regex_format";

    /// <inheritdoc/>
    public RewardResult Score(RewardInput input)
    {
        try
        {
            return RewardResult.Scored(pattern.IsMatch(input.Completion) ? 1 : 0);
        }
        catch (RegexMatchTimeoutException)
        {
            return RewardResult.Scored(0, new Dictionary<string, double> { ["timeout"] = 1 });
        }
    }
}
