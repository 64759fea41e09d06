using System.Text.RegularExpressions;

namespace Sharpen.Rewards;

/// <summary>Where <see cref="AnswerExtraction"/> looks for a completion's final answer.</summary>
public enum AnswerSource
{
    /// <summary>The last <c>\boxed{…}</c> or <c>\fbox{…}</c> (balanced braces; also <c>\boxed 5</c>).</summary>
    Boxed,

    /// <summary>The rest of the line after the last <c>####</c> (GSM8K).</summary>
    Hash,

    /// <summary>The text after the last "answer is" or "answer:" up to the end of the sentence or line.</summary>
    AnswerIs,

    /// <summary>
    /// The whole completion, when it is a bare answer: one line of at most 64 characters that is wrapped in <c>$…$</c>
    /// or reads as a number or tuple on its own (e.g. <c>$\dfrac{3}{4}$</c>, "0.75").
    /// </summary>
    Whole,

    /// <summary>The last number in the text ("−1,234.5", "3/4", "50%").</summary>
    LastNumber,
}

/// <summary>
/// Finds the final answer in a completion (docs/algorithms.md §5.2 step 1). Sources are tried in <see cref="Order"/>; the
/// first that is present wins, even when what it holds cannot be parsed (fail-closed: a malformed <c>\boxed{}</c> is
/// not rescued by a stray number later on).
/// </summary>
public sealed record AnswerExtraction
{
    /// <summary>Sources tried in order (default Boxed, Hash, AnswerIs, Whole, LastNumber).</summary>
    public IReadOnlyList<AnswerSource> Order { get; init; } =
        [AnswerSource.Boxed, AnswerSource.Hash, AnswerSource.AnswerIs, AnswerSource.Whole, AnswerSource.LastNumber];

    /// <summary>The default: boxed, then GSM8K ####, then "answer is", then a bare answer, then the last number.</summary>
    public static AnswerExtraction Default { get; } = new();

    static readonly Regex AnswerIsPattern = new(@"answer\s*(?:is|:)\s*:?\s*(?<a>[^\n]*)", RegexOptions.IgnoreCase | RegexOptions.RightToLeft);
    static readonly Regex SentenceEnd = new(@"\.\s");
    static readonly Regex Number = new(
        @"[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:/\d+)?(?:\s*\\?%)?|[-−]?\.\d+(?:\s*\\?%)?", RegexOptions.RightToLeft);

    /// <summary>The answer text found by the first present source, or null when none is present.</summary>
    public string? Extract(string completion)
    {
        foreach (var source in Order)
        {
            var found = source switch
            {
                AnswerSource.Boxed => LastBoxed(completion),
                AnswerSource.Hash => AfterHashes(completion),
                AnswerSource.AnswerIs => AfterAnswerIs(completion),
                AnswerSource.Whole => Whole(completion),
                AnswerSource.LastNumber => Number.Match(completion) is { Success: true } m ? m.Value : null,
                _ => throw new ArgumentOutOfRangeException(nameof(source)),
            };
            if (found != null) return found;
        }
        return null;
    }

    /// <summary>
    /// The content of the last <c>\boxed</c> / <c>\fbox</c>: "" when its braces never close (present but unparseable),
    /// null when there is none.
    /// </summary>
    public static string? LastBoxed(string text)
    {
        int start = Math.Max(text.LastIndexOf(@"\boxed", StringComparison.Ordinal), text.LastIndexOf(@"\fbox", StringComparison.Ordinal));
        if (start < 0) return null;
        int i = start + (text[start + 1] == 'b' ? @"\boxed".Length : @"\fbox".Length);
        if (i < text.Length && text[i] == ' ')
        {
            // "\boxed 5": the argument runs to the next space or '$'.
            int end = text.IndexOfAny([' ', '$', '\n'], i + 1);
            return text[(i + 1)..(end < 0 ? text.Length : end)];
        }
        if (i >= text.Length || text[i] != '{') return "";
        int depth = 0;
        for (int j = i; j < text.Length; j++)
        {
            if (text[j] == '{') depth++;
            else if (text[j] == '}' && --depth == 0) return text[(i + 1)..j];
        }
        return "";
    }

    static string? AfterHashes(string text)
    {
        int at = text.LastIndexOf("####", StringComparison.Ordinal);
        if (at < 0) return null;
        int end = text.IndexOf('\n', at);
        return text[(at + 4)..(end < 0 ? text.Length : end)].Trim();
    }

    static string? AfterAnswerIs(string text)
    {
        var m = AnswerIsPattern.Match(text);
        if (!m.Success) return null;
        var rest = m.Groups["a"].Value;
        var end = SentenceEnd.Match(rest);
        return (end.Success ? rest[..end.Index] : rest).Trim();
    }

    static string? Whole(string text)
    {
        var t = text.Trim();
        bool bare = t.Length is > 0 and <= 64 && !t.Contains('\n')
            && (t.Length > 1 && t[0] == '$' && t[^1] == '$' || MathAnswer.Parse(t) is { Kind: MathAnswerKind.Number or MathAnswerKind.Tuple });
        return bare ? t : null;
    }
}
