namespace Sharpen.Rewards;

/// <summary>
/// A reward function (docs/algorithms.md §5): prompt, completion and the sample's metadata → a scalar reward and
/// per-component details. Implementations are pure and thread-safe, so <see cref="RewardPool"/> may call them
/// concurrently.
/// </summary>
public interface IRewardFunction
{
    /// <summary>The registered name (e.g. "math"), used as the key of this function's details in a <see cref="WeightedSum"/>.</summary>
    string Name { get; }

    /// <summary>Scores one completion. A null <see cref="RewardResult.Value"/> means unscorable (never a silent 1.0).</summary>
    RewardResult Score(RewardInput input);
}

/// <summary>
/// A reward function that is cheaper per sample when given many at once (a learned reward model). <see cref="RewardPool"/>
/// calls <see cref="ScoreBatch"/> once per batch instead of <see cref="IRewardFunction.Score"/> per sample.
/// </summary>
public interface IBatchedRewardFunction : IRewardFunction
{
    /// <summary>Scores <paramref name="inputs"/>; the result has one entry per input, in order.</summary>
    IReadOnlyList<RewardResult> ScoreBatch(IReadOnlyList<RewardInput> inputs);
}

/// <summary>One sample to score.</summary>
/// <param name="Prompt">The prompt text.</param>
/// <param name="Completion">The generated completion text.</param>
/// <param name="Meta">The sample's metadata; keys are listed in <see cref="RewardMeta"/> (e.g. "answer", "tests").</param>
public sealed record RewardInput(string Prompt, string Completion, IReadOnlyDictionary<string, object?> Meta)
{
    static readonly IReadOnlyDictionary<string, object?> NoMeta = new Dictionary<string, object?>();

    /// <summary>A sample without metadata.</summary>
    public RewardInput(string prompt, string completion) : this(prompt, completion, NoMeta) { }

    /// <summary>The metadata value under <paramref name="key"/> as text (numbers in invariant culture), or null when absent.</summary>
    public string? MetaText(string key) => Meta.TryGetValue(key, out var v) ? v switch
    {
        null => null,
        string s => s,
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        _ => v.ToString(),
    } : null;
}

/// <summary>Well-known keys of <see cref="RewardInput.Meta"/>.</summary>
public static class RewardMeta
{
    /// <summary>"answer": the gold answer (string or number).</summary>
    public const string Answer = "answer";

    /// <summary>"answer_type": numeric, latex, choice, string or label (docs/data.md).</summary>
    public const string AnswerType = "answer_type";

    /// <summary>"tests": the unit tests of a code prompt.</summary>
    public const string Tests = "tests";

    /// <summary>"difficulty": the prompt's difficulty, when the data set gives one.</summary>
    public const string Difficulty = "difficulty";

    /// <summary>"completion_tokens": the completion's length in tokens (an int), set by the trainer from the generated ids.</summary>
    public const string CompletionTokens = "completion_tokens";
}

/// <summary>How a reward was reached, declared in increasing severity (<see cref="WeightedSum"/> keeps the most severe).</summary>
public enum RewardStatus
{
    /// <summary>Scored normally.</summary>
    Scored,

    /// <summary>No answer could be read from the completion; scored as a wrong answer (fail-closed) but counted apart.</summary>
    ParseFailure,

    /// <summary>The sample cannot be scored (e.g. unparseable gold answer); the value is null.</summary>
    Unscorable,

    /// <summary>The reward function threw; the value is null.</summary>
    Error,
}

/// <summary>A reward and how it was reached.</summary>
/// <param name="Value">The reward, or null when the sample is unscorable (its advantage is then 0 and it is logged).</param>
/// <param name="Details">Named sub-values for logging (e.g. "correct", "math", "overlong").</param>
/// <param name="Status">How the value was reached.</param>
public sealed record RewardResult(double? Value, IReadOnlyDictionary<string, double> Details, RewardStatus Status)
{
    static readonly IReadOnlyDictionary<string, double> NoDetails = new Dictionary<string, double>();

    /// <summary>A normally scored value.</summary>
    public static RewardResult Scored(double value, IReadOnlyDictionary<string, double>? details = null) =>
        new(value, details ?? NoDetails, RewardStatus.Scored);

    /// <summary>A parse failure scored <paramref name="value"/> (0 unless configured otherwise).</summary>
    public static RewardResult ParseFailure(double value = 0, IReadOnlyDictionary<string, double>? details = null) =>
        new(value, details ?? NoDetails, RewardStatus.ParseFailure);

    /// <summary>An unscorable sample: null value.</summary>
    public static RewardResult Unscorable(IReadOnlyDictionary<string, double>? details = null) =>
        new(null, details ?? NoDetails, RewardStatus.Unscorable);

    /// <summary>A failed reward function: null value.</summary>
    public static RewardResult Error() => new(null, NoDetails, RewardStatus.Error);
}
