using Sharpen.Algorithms;

namespace Sharpen.Rewards;

/// <summary>
/// Settings of the registered reward functions (docs/rewards.md). Each function reads only the fields it names;
/// a field marked required for a function must be set when that function is created.
/// </summary>
public sealed record RewardOptions
{
    /// <summary>math: answer sources tried in order (default Boxed, Hash, AnswerIs, Whole, LastNumber).</summary>
    public IReadOnlyList<AnswerSource>? AnswerOrder { get; init; }

    /// <summary>math: how a trailing "%" is read (default Strip: "50%" = 50).</summary>
    public PercentMode Percent { get; init; } = PercentMode.Strip;

    /// <summary>math: relative tolerance for numbers, |a − b| ≤ tol·max(1, |b|) (default null: exact rational equality).</summary>
    public double? RelativeTolerance { get; init; }

    /// <summary>exact_match: compare ignoring case (default false).</summary>
    public bool IgnoreCase { get; init; }

    /// <summary>regex_format (required): the .NET regular expression; '.' matches newlines.</summary>
    public string? Pattern { get; init; }

    /// <summary>regex_format: require the whole completion to match (default false: a match anywhere).</summary>
    public bool FullMatch { get; init; }

    /// <summary>length_penalty, overlong: length unit (default Tokens, read from meta completion_tokens).</summary>
    public LengthUnit Unit { get; init; } = LengthUnit.Tokens;

    /// <summary>length_penalty (required): length allowed without penalty, in <see cref="Unit"/>.</summary>
    public long? TargetLength { get; init; }

    /// <summary>length_penalty: penalty per unit beyond the target (default 0.001).</summary>
    public double LengthCoefficient { get; init; } = 1e-3;

    /// <summary>overlong (required): L_max, the length where the penalty reaches −<see cref="OverlongFactor"/>.</summary>
    public long? MaxLength { get; init; }

    /// <summary>overlong (required): L_cache, the soft buffer before L_max (DAPO uses 4096 of 20480 tokens).</summary>
    public long? CacheLength { get; init; }

    /// <summary>overlong: the full penalty (default 1).</summary>
    public double OverlongFactor { get; init; } = 1.0;

    /// <summary>reward_model (required): the batched scorer, (prompt, completion) pairs → one reward each.</summary>
    public Func<IReadOnlyList<(string Prompt, string Completion)>, double[]>? Scorer { get; init; }

    /// <summary>reward_model: pairs per scorer call (default 0: the whole batch).</summary>
    public int BatchSize { get; init; }

    /// <summary>code_tests: how per-test results become a reward (all passed, fraction passed, difficulty-weighted, VeRPO).</summary>
    public Sandbox.CodeTestsMode CodeMode { get; init; } = Sandbox.CodeTestsMode.FractionPassed;

    /// <summary>code_tests: VeRPO's difficulty exponent α.</summary>
    public double VerpoAlpha { get; init; } = 1;
}

/// <summary>The reward functions by name (docs/algorithms.md).</summary>
public static class RewardFunctions
{
    /// <summary>Factories by name: <c>math</c>, <c>exact_match</c>, <c>regex_format</c>, <c>length_penalty</c>, <c>overlong</c>, <c>reward_model</c>.</summary>
    public static readonly Registry<Func<RewardOptions, IRewardFunction>> Registry =
        new Registry<Func<RewardOptions, IRewardFunction>>("reward function")
            .Add("math", o => new MathVerifier(o.AnswerOrder is { } order ? new AnswerExtraction { Order = order } : null,
                o.Percent, o.RelativeTolerance))
            .Add("exact_match", o => new ExactMatch(o.IgnoreCase))
            .Add("regex_format", o => new RegexFormat(Required(o.Pattern, "regex_format", "pattern"), o.FullMatch))
            .Add("length_penalty", o => new LengthPenalty(Required(o.TargetLength, "length_penalty", "target_length"), o.LengthCoefficient, o.Unit))
            .Add("overlong", o => new OverlongPenalty(Required(o.MaxLength, "overlong", "max_length"),
                Required(o.CacheLength, "overlong", "cache_length"), o.OverlongFactor, o.Unit))
            .Add("reward_model", o => new RewardModelScorer(Required(o.Scorer, "reward_model", "scorer"), o.BatchSize))
            .Add("code_tests", o => new Sandbox.CodeTestsReward(o.CodeMode, o.VerpoAlpha));

    /// <summary>Creates the reward function named <paramref name="name"/> from <paramref name="options"/> (defaults when null).</summary>
    public static IRewardFunction Create(string name, RewardOptions? options = null) => Registry.Get(name)(options ?? new RewardOptions());

    static T Required<T>(T? value, string function, string field) where T : class =>
        value ?? throw new ArgumentException($"reward function '{function}' needs '{field}'");

    static long Required(long? value, string function, string field) =>
        value ?? throw new ArgumentException($"reward function '{function}' needs '{field}'");
}
