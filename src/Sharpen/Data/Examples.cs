namespace Sharpen.Data;

using Sharpen.Models;

/// <summary>
/// A tokenised sequence for supervised fine-tuning: <paramref name="Ids"/> and <paramref name="LossMask"/> of the same
/// length, the mask true on the tokens trained on (completion or assistant tokens).
/// </summary>
public sealed record SftExample(int[] Ids, bool[] LossMask)
{
    /// <summary>Tokens trained on.</summary>
    public int LossTokens => LossMask.Count(m => m);

    /// <summary>
    /// Whether any token carries a loss: a token is predicted from the one before it, so a masked first token does
    /// not count. False for an example truncated to nothing.
    /// </summary>
    public bool HasLoss => LossMask.Skip(1).Contains(true);
}

/// <summary>What the preference examples share: whether truncation left every response a token to score.</summary>
public static class ExampleChecks
{
    /// <summary>
    /// Tokens of a <paramref name="response"/> after <paramref name="prompt"/> that the model scores: all of them, less
    /// the first when the prompt is empty (nothing predicts it).
    /// </summary>
    public static int ScoredTokens(int[] prompt, int[] response) => Math.Max(0, response.Length - (prompt.Length == 0 ? 1 : 0));

    /// <summary>Every response of <paramref name="e"/> keeps a scored token.</summary>
    public static bool HasLoss(this PairExample e) => ScoredTokens(e.Prompt, e.Chosen) > 0 && ScoredTokens(e.Prompt, e.Rejected) > 0;

    /// <summary>The response of <paramref name="e"/> keeps a scored token.</summary>
    public static bool HasLoss(this UnpairedExample e) => ScoredTokens(e.Prompt, e.Completion) > 0;

    /// <summary>Every response of <paramref name="e"/> keeps a scored token.</summary>
    public static bool HasLoss(this ListExample e) => e.Responses.All(x => ScoredTokens(e.Prompt, x) > 0);
}

/// <summary>
/// A tokenised preference pair: the shared <paramref name="Prompt"/> and the two responses, each ending with the
/// end-of-sequence (or end-of-turn) token; <paramref name="Margin"/> is the record's reward margin.
/// </summary>
public sealed record PairExample(int[] Prompt, int[] Chosen, int[] Rejected, double Margin = 0);

/// <summary>A tokenised unpaired preference: one response and whether it is <paramref name="Desirable"/>.</summary>
public sealed record UnpairedExample(int[] Prompt, int[] Completion, bool Desirable);

/// <summary>A tokenised ranked list: K responses and their scores, in descending score order (the best first).</summary>
public sealed record ListExample(int[] Prompt, int[][] Responses, double[] Scores);

/// <summary>
/// How records become tokens. The standard form is the prompt's tokens then the completion's, each encoded on its own
/// (no token spans the boundary). The conversational form renders messages with <see cref="Template"/>.
/// </summary>
public sealed record TokenizeOptions
{
    /// <summary>The chat template for conversational records (those whose prompt is a message list); required for them.</summary>
    public IChatTemplate? Template { get; init; }

    /// <summary>
    /// The most tokens in one sequence (prompt + completion; for pairs and lists, prompt + the longest response), or
    /// null for no limit. Too-long examples lose prompt tokens from the left first, keeping the completion whole; if the
    /// completion alone is longer, the prompt is emptied and the completion keeps its first tokens. Text records and
    /// conversations without a completion split keep their first (text) or last (conversation) tokens.
    /// </summary>
    public int? MaxLength { get; init; }

    /// <summary>
    /// Standard-form SFT: true (default) puts the loss on the completion tokens only, false on every token. In the
    /// conversational form the loss is on assistant tokens, and with true only on those of the completion.
    /// </summary>
    public bool CompletionOnly { get; init; } = true;

    /// <summary>Standard form: start the prompt with the tokenizer's beginning-of-sequence token (default false).</summary>
    public bool AddBos { get; init; }

    /// <summary>Standard form: end each completion with the tokenizer's end-of-sequence token, if it has one (default true).</summary>
    public bool AddEos { get; init; } = true;
}
