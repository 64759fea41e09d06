namespace Sharpen.Models;

using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

/// <summary>The pre-tokenizer split patterns of well-known tokenizers, as their tokenizer.json files write them.</summary>
public static class SplitPatterns
{
    /// <summary>GPT-2's pattern (also what a ByteLevel pre-tokenizer with <c>use_regex</c> applies): contractions, words, numbers and punctuation each with an optional leading space.</summary>
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    /// <summary>Llama-3's pattern: case-insensitive contractions, words with one leading non-letter, digits in groups of at most three, punctuation runs, newline runs.</summary>
    public const string Llama3 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Qwen2's pattern: Llama-3's with every digit its own piece.</summary>
    public const string Qwen2 = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
}

/// <summary>
/// A pre-tokenizer split pattern from a tokenizer.json, run with .NET's regex engine so that it splits
/// exactly as Hugging Face's (Oniguruma, which works on code points) does:
/// <list type="bullet">
/// <item>Possessive quantifiers (<c>x++</c>, <c>x?+</c>) become atomic groups and <c>\pL</c> becomes <c>\p{L}</c>.</item>
/// <item>.NET matches UTF-16 units, so a character outside the Basic Multilingual Plane (an emoji, 𝐀) would be two
/// surrogates to it. The text is matched through a stand-in where each such character is replaced by one BMP
/// character of the same Unicode category, and the match positions are mapped back. This is exact for patterns
/// built from categories, classes and BMP literals, which is what tokenizer patterns are.</item>
/// </list>
/// </summary>
public sealed class SplitRegex
{
    readonly Regex regex;

    /// <summary>The pattern as the tokenizer file writes it.</summary>
    public string Pattern { get; }

    /// <summary>Compiles <paramref name="pattern"/> (Oniguruma/Rust syntax as in tokenizer.json).</summary>
    public SplitRegex(string pattern)
    {
        Pattern = pattern;
        try
        {
            regex = new Regex(Translate(pattern), RegexOptions.Compiled | RegexOptions.CultureInvariant);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"split pattern {pattern} is not supported: {e.Message}", nameof(pattern), e);
        }
    }

    /// <summary>
    /// Splits <paramref name="text"/> into the pattern's matches and the (non-empty) gaps between them, in order
    /// (Hugging Face's "Isolated" behaviour); with <paramref name="removeMatches"/> only the gaps are kept ("Removed").
    /// </summary>
    public void Split(string text, List<string> pieces, bool removeMatches = false)
    {
        var subject = StandIn(text, out var map);
        var last = 0;
        foreach (var m in regex.EnumerateMatches(subject))
        {
            if (m.Length == 0) continue;
            int start = map?[m.Index] ?? m.Index, end = map?[m.Index + m.Length] ?? m.Index + m.Length;
            if (start > last) pieces.Add(text[last..start]);
            if (!removeMatches) pieces.Add(text[start..end]);
            last = end;
        }
        if (last < text.Length) pieces.Add(text[last..]);
    }

    /// <summary>The pieces of <paramref name="text"/> (matches and gaps), in order.</summary>
    public List<string> Split(string text)
    {
        var pieces = new List<string>();
        Split(text, pieces);
        return pieces;
    }

    /// <summary>
    /// <paramref name="text"/> with every surrogate pair replaced by one BMP character of the same category;
    /// <paramref name="map"/>[i] is the index in <paramref name="text"/> of stand-in index i (null when nothing changed).
    /// </summary>
    static string StandIn(string text, out int[]? map)
    {
        map = null;
        var first = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDBFF');
        if (first < 0) return text;
        var sb = new StringBuilder(text.Length);
        var index = new List<int>(text.Length + 1);
        for (var i = 0; i < text.Length; i++)
        {
            index.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(Representative(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]))));
                i++;
            }
            else sb.Append(text[i]);
        }
        index.Add(text.Length);
        map = index.ToArray();
        return sb.ToString();
    }

    /// <summary>A BMP character of category <paramref name="c"/> that no tokenizer pattern names literally.</summary>
    static char Representative(UnicodeCategory c) => c switch
    {
        UnicodeCategory.UppercaseLetter => 'À',
        UnicodeCategory.LowercaseLetter => 'à',
        UnicodeCategory.TitlecaseLetter => 'ǅ',
        UnicodeCategory.ModifierLetter => 'ʰ',
        UnicodeCategory.OtherLetter => '一',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => 'Ⅰ',
        UnicodeCategory.OtherNumber => '²',
        UnicodeCategory.Format => '\u00AD',
        UnicodeCategory.PrivateUse => '\uE000',
        UnicodeCategory.ConnectorPunctuation => '‿',
        UnicodeCategory.DashPunctuation => '‐',
        UnicodeCategory.OpenPunctuation => '⁅',
        UnicodeCategory.ClosePunctuation => '⁆',
        UnicodeCategory.InitialQuotePunctuation => '«',
        UnicodeCategory.FinalQuotePunctuation => '»',
        UnicodeCategory.OtherPunctuation => '¡',
        UnicodeCategory.MathSymbol => '¬',
        UnicodeCategory.CurrencySymbol => '¢',
        UnicodeCategory.ModifierSymbol => '´',
        UnicodeCategory.OtherSymbol => '¦',
        _ => '\uFFFF', // unassigned
    };

    /// <summary>Rewrites Oniguruma/Rust syntax that .NET lacks: possessive quantifiers and one-letter <c>\pX</c> classes.</summary>
    internal static string Translate(string pattern)
    {
        var sb = new StringBuilder(pattern.Length + 8);
        var groupStarts = new Stack<int>();
        var atomStart = -1;  // where the last quantifiable atom begins in sb
        var i = 0;
        while (i < pattern.Length)
        {
            var c = pattern[i];
            if (c is '*' or '+' or '?' || (c == '{' && IsCountedQuantifier(pattern, i)))
            {
                var q = i;
                i = c == '{' ? pattern.IndexOf('}', i) + 1 : i + 1;
                if (i < pattern.Length && pattern[i] == '+' && atomStart >= 0)
                {
                    sb.Insert(atomStart, "(?>").Append(pattern, q, i - q).Append(')');
                    i++;
                }
                else sb.Append(pattern, q, i - q);
                atomStart = -1;
                continue;
            }
            atomStart = sb.Length;
            switch (c)
            {
                case '\\':
                    i = CopyEscape(pattern, i, sb);
                    break;
                case '[':
                    sb.Append('[');
                    i++;
                    if (i < pattern.Length && pattern[i] == '^') sb.Append(pattern[i++]);
                    if (i < pattern.Length && pattern[i] == ']') sb.Append(pattern[i++]);
                    while (i < pattern.Length && pattern[i] != ']')
                        if (pattern[i] == '\\') i = CopyEscape(pattern, i, sb);
                        else sb.Append(pattern[i++]);
                    sb.Append(']');
                    i++;
                    break;
                case '(':
                    groupStarts.Push(sb.Length);
                    sb.Append(c);
                    i++;
                    atomStart = -1;
                    break;
                case ')':
                    atomStart = groupStarts.Count > 0 ? groupStarts.Pop() : -1;
                    sb.Append(c);
                    i++;
                    break;
                default:
                    if (c == '|') atomStart = -1;
                    sb.Append(c);
                    i++;
                    break;
            }
        }
        return sb.ToString();
    }

    static bool IsCountedQuantifier(string p, int i)
    {
        var close = p.IndexOf('}', i);
        return close > i + 1 && p.AsSpan(i + 1, close - i - 1).ContainsAnyExcept("0123456789,") == false;
    }

    /// <summary>Copies the escape at <paramref name="i"/>, writing <c>\pL</c> as <c>\p{L}</c>; returns the index after it.</summary>
    static int CopyEscape(string p, int i, StringBuilder sb)
    {
        if (i + 2 < p.Length && p[i + 1] is 'p' or 'P' && p[i + 2] != '{')
        {
            sb.Append('\\').Append(p[i + 1]).Append('{').Append(p[i + 2]).Append('}');
            return i + 3;
        }
        var end = Math.Min(i + 2, p.Length);
        if (end < p.Length && p[i + 1] is 'p' or 'P' && p[end] == '{') end = p.IndexOf('}', end) + 1;
        sb.Append(p, i, end - i);
        return end;
    }
}
