namespace Sharpen.Rewards;

/// <summary>
/// Verifiable math reward (docs/algorithms.md §5.2), fail-closed: 1 when the completion's final answer equals the gold
/// <c>answer</c>, else 0. The answer is found by <see cref="AnswerExtraction"/> and both sides are normalised by
/// <see cref="MathAnswer"/>; numbers compare as exact rationals (0.5 = 1/2 = \frac{1}{2}).
/// <list type="bullet">
/// <item>Gold missing or unparseable, or <c>answer_type</c> "numeric" with a gold that is not a number → null
/// (<see cref="RewardStatus.Unscorable"/>), never 1.</item>
/// <item>No answer in the completion, or one that cannot be read as the gold's kind (a number for a numeric gold,
/// a letter for a choice) → 0 with <see cref="RewardStatus.ParseFailure"/>, counted apart from wrong answers.</item>
/// </list>
/// Details: "correct" (0/1) and "parse_failure" (0/1).
/// </summary>
/// <param name="extraction">Where to look for the answer (default <see cref="AnswerExtraction.Default"/>).</param>
/// <param name="percent">How a trailing "%" is read, on both sides (default <see cref="PercentMode.Strip"/>).</param>
/// <param name="relativeTolerance">
/// When set, numbers also match if |a − b| ≤ tol·max(1, |b|) (b the gold); default null: exact rational equality.
/// </param>
public sealed class MathVerifier(AnswerExtraction? extraction = null, PercentMode percent = PercentMode.Strip, double? relativeTolerance = null)
    : IRewardFunction
{
    readonly AnswerExtraction extraction = extraction ?? AnswerExtraction.Default;

    /// <inheritdoc/>
    public string Name => "math";

    /// <inheritdoc/>
    public RewardResult Score(RewardInput input)
    {
        bool choice = input.MetaText(RewardMeta.AnswerType) == "choice";
        var gold = MathAnswer.Parse(input.MetaText(RewardMeta.Answer), percent, choice);
        if (gold == null || input.MetaText(RewardMeta.AnswerType) == "numeric" && gold.Kind != MathAnswerKind.Number)
            return RewardResult.Unscorable();

        var predicted = MathAnswer.Parse(extraction.Extract(input.Completion), percent, choice);
        bool readable = predicted != null
            && (gold.Kind is not (MathAnswerKind.Number or MathAnswerKind.Choice) || predicted.Kind == gold.Kind);
        if (!readable) return RewardResult.ParseFailure(0, Details(0, 1));

        double correct = predicted!.Matches(gold, relativeTolerance) ? 1 : 0;
        return RewardResult.Scored(correct, Details(correct, 0));
    }

    static Dictionary<string, double> Details(double correct, double parseFailure) =>
        new() { ["correct"] = correct, ["parse_failure"] = parseFailure };
}
