using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;

namespace Sharpen.Rewards;

/// <summary>How a trailing percent sign is read.</summary>
public enum PercentMode
{
    /// <summary>"50%" is 50 (the sign is dropped, as the MATH normaliser does).</summary>
    Strip,

    /// <summary>"50%" is 1/2.</summary>
    Fraction,

    /// <summary>"50%" is either 50 or 1/2; it matches when either reading does.</summary>
    Either,
}

/// <summary>What a parsed answer is.</summary>
public enum MathAnswerKind
{
    /// <summary>A rational number (one value, or two candidate readings of a percent under <see cref="PercentMode.Either"/>).</summary>
    Number,

    /// <summary>A tuple or interval of rational numbers, "(1, 2)", "[0, 1/2)" or a bare list "1, 2".</summary>
    Tuple,

    /// <summary>A choice letter "A"–"Z" (answer_type "choice"), upper-cased.</summary>
    Choice,

    /// <summary>Anything else ("\sqrt{2}", "x+1"): compared as a normalised string.</summary>
    Expression,
}

/// <summary>
/// A final answer normalised for comparison (docs/algorithms.md §5.2 step 2). "Simple LaTeX" means: <c>$…$</c>, <c>\left</c>
/// / <c>\right</c>, spacing commands (<c>\! \, \; \: \quad</c>), <c>\text{…}</c> / <c>\mathrm{…}</c> / <c>\mbox{…}</c>
/// units (unwrapped when they are the whole answer), <c>^\circ</c> and <c>\degree</c>, <c>\$</c>, <c>\%</c>,
/// <c>{,}</c>, <c>\dfrac</c> / <c>\tfrac</c> / <c>\frac</c> (also <c>\frac12</c>), <c>\sqrt</c> (exact only for
/// perfect squares), <c>\cdot</c> / <c>\times</c> / <c>\div</c>, integer powers <c>^{…}</c>, parentheses, unary
/// signs and the Unicode minus. Numbers are evaluated exactly as rationals; juxtaposition ("2\sqrt{3}",
/// "3\frac12"), <c>\pi</c>, irrational roots and scientific "1e3" are not numbers and fall back to string comparison.
/// </summary>
public sealed record MathAnswer
{
    /// <summary>What the answer is.</summary>
    public MathAnswerKind Kind { get; }

    /// <summary>The normalised text (the basis of string comparison; includes a trailing "%" when there was one).</summary>
    public string Text { get; }

    /// <summary>The candidate values of a <see cref="MathAnswerKind.Number"/>, or of each element of a tuple.</summary>
    public IReadOnlyList<IReadOnlyList<Rational>> Values { get; }

    /// <summary>The opening and closing brackets of a tuple ("(" and "]" for a half-open interval; "" for a bare list).</summary>
    public (string Open, string Close) Brackets { get; }

    MathAnswer(MathAnswerKind kind, string text, IReadOnlyList<IReadOnlyList<Rational>> values, (string, string) brackets) =>
        (Kind, Text, Values, Brackets) = (kind, text, values, brackets);

    static readonly Regex SpacingCommands = new(@"\\(?:[!,;: ]|q?quad\b|displaystyle\b)|~");
    static readonly Regex DegreeMarks = new(@"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|°");
    static readonly Regex UnitWords = new(@"^(?<v>.*[\d}%)])\s+[A-Za-z]{2,}(?:\s+[A-Za-z]{2,})*(?:\^\{?\d\}?)?\.?$");
    static readonly Regex Assignment = new(@"^[A-Za-z](?:_\{?\w+\}?)?=(?<v>[^=]+)$");
    static readonly Regex Thousands = new(@"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$");
    static readonly string[] TextCommands = [@"\text", @"\textbf", @"\mathrm", @"\mbox"];

    /// <summary>
    /// Parses <paramref name="raw"/>; null when nothing can be read (empty, unbalanced braces, or not a letter when
    /// <paramref name="choice"/>).
    /// </summary>
    public static MathAnswer? Parse(string? raw, PercentMode percent = PercentMode.Strip, bool choice = false)
    {
        var s = Normalize(raw);
        if (s == null) return null;
        if (choice)
        {
            var letter = s.Trim('(', ')');
            return letter.Length == 1 && char.IsAsciiLetter(letter[0])
                ? new MathAnswer(MathAnswerKind.Choice, letter.ToUpperInvariant(), [], ("", "")) : null;
        }
        bool isPercent = s.EndsWith('%');
        var body = isPercent ? s[..^1] : s;
        if (Thousands.IsMatch(body)) body = body.Replace(",", "");
        if (TryEvaluate(body, out var v))
            return new MathAnswer(MathAnswerKind.Number, s, [Readings(v, isPercent, percent)], ("", ""));
        if (!isPercent && TrySplitTuple(s, out var parts, out var brackets))
        {
            var values = new List<IReadOnlyList<Rational>>();
            foreach (var part in parts)
            {
                if (!TryEvaluate(part, out var e)) return new MathAnswer(MathAnswerKind.Expression, s, [], ("", ""));
                values.Add([e]);
            }
            return new MathAnswer(MathAnswerKind.Tuple, s, values, brackets);
        }
        return new MathAnswer(MathAnswerKind.Expression, s, [], ("", ""));
    }

    static IReadOnlyList<Rational> Readings(Rational v, bool isPercent, PercentMode mode)
    {
        if (!isPercent) return [v];
        var fraction = v / Rational.Integer(100);
        return mode switch { PercentMode.Strip => [v], PercentMode.Fraction => [fraction], _ => [v, fraction] };
    }

    /// <summary>
    /// Whether this (the prediction) equals <paramref name="gold"/>: equal normalised text, else by kind — numbers by
    /// exact rational equality (or |a − b| ≤ tol·max(1, |b|) when <paramref name="relativeTolerance"/> is given),
    /// tuples element by element with the same brackets, choices by letter, expressions by text only.
    /// </summary>
    public bool Matches(MathAnswer gold, double? relativeTolerance = null)
    {
        if (Text == gold.Text) return true;
        if (Kind != gold.Kind || Values.Count != gold.Values.Count || Brackets != gold.Brackets) return false;
        if (Kind is MathAnswerKind.Choice or MathAnswerKind.Expression) return false;
        for (int i = 0; i < Values.Count; i++)
            if (!Values[i].Any(a => gold.Values[i].Any(b => NumbersEqual(a, b, relativeTolerance)))) return false;
        return true;
    }

    static bool NumbersEqual(Rational a, Rational b, double? tol)
    {
        if (a == b) return true;
        if (tol is not double t) return false;
        double x = a.ToDouble(), y = b.ToDouble();
        return Math.Abs(x - y) <= t * Math.Max(1, Math.Abs(y));
    }

    /// <summary>
    /// The normalised text of an answer (the simple-LaTeX rules in the type's summary), without spaces; null when empty
    /// or when its braces or parentheses do not balance.
    /// </summary>
    public static string? Normalize(string? raw)
    {
        if (string.IsNullOrWhiteSpace(raw)) return null;
        var s = raw.Replace('\u2212', '-').Replace('\u00a0', ' ').Replace("×", @"\times").Replace("÷", @"\div")
            .Replace(@"\left", "").Replace(@"\right", "").Replace(@"\dfrac", @"\frac").Replace(@"\tfrac", @"\frac")
            .Replace(@"\cdot", "*").Replace(@"\times", "*").Replace(@"\div", "/")
            .Replace(@"\$", "").Replace("$", "").Replace(@"\%", "%").Replace("{,}", ",");
        s = DegreeMarks.Replace(SpacingCommands.Replace(s, " "), "");
        s = RemoveTextGroups(s);
        if (s == null) return null;
        s = s.Trim().TrimEnd('.').Trim();
        if (UnitWords.Match(s) is { Success: true } u) s = u.Groups["v"].Value;
        s = string.Concat(s.Where(c => !char.IsWhiteSpace(c)));
        if (Assignment.Match(s) is { Success: true } a) s = a.Groups["v"].Value;
        s = BraceShorthand(s);
        return s.Length > 0 && Balanced(s) ? s : null;
    }

    // \text{…}-like groups: the whole answer → its content; otherwise a unit → dropped (with a following ^2 or ^3).
    static string? RemoveTextGroups(string s)
    {
        foreach (var command in TextCommands)
        {
            int at;
            while ((at = IndexOfCommand(s, command)) >= 0)
            {
                int open = at + command.Length;
                while (open < s.Length && s[open] == ' ') open++;
                if (open >= s.Length || s[open] != '{') return null;
                int close = MatchingBrace(s, open);
                if (close < 0) return null;
                var content = s[(open + 1)..close];
                bool whole = s[..at].Trim().Length == 0 && s[(close + 1)..].Trim().TrimEnd('.').Length == 0;
                int after = close + 1;
                var power = Regex.Match(s[after..], @"^\^\{?[23]\}?");
                if (!whole && power.Success) after += power.Length;
                s = s[..at] + (whole ? content : " ") + s[after..];
            }
        }
        return s;
    }

    static int IndexOfCommand(string s, string command)
    {
        for (int at = s.IndexOf(command, StringComparison.Ordinal); at >= 0; at = s.IndexOf(command, at + 1, StringComparison.Ordinal))
            if (at + command.Length >= s.Length || !char.IsAsciiLetter(s[at + command.Length])) return at;
        return -1;
    }

    static int MatchingBrace(string s, int open)
    {
        int depth = 0;
        for (int j = open; j < s.Length; j++)
            if (s[j] == '{') depth++;
            else if (s[j] == '}' && --depth == 0) return j;
        return -1;
    }

    // \frac12 → \frac{1}{2}, \frac1{2} → \frac{1}{2}, \sqrt3 → \sqrt{3}.
    static string BraceShorthand(string s)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < s.Length;)
        {
            int args = s.AsSpan(i).StartsWith(@"\frac") ? 2 : s.AsSpan(i).StartsWith(@"\sqrt") ? 1 : 0;
            if (args == 0) { sb.Append(s[i++]); continue; }
            sb.Append(s, i, 5);                                                   // "\frac" and "\sqrt" are 5 chars
            i += 5;
            for (int k = 0; k < args && i < s.Length; k++)
            {
                if (s[i] == '{')
                {
                    int close = MatchingBrace(s, i);
                    if (close < 0) break;
                    sb.Append('{').Append(BraceShorthand(s[(i + 1)..close])).Append('}');
                    i = close + 1;
                }
                else if (char.IsAsciiLetterOrDigit(s[i])) sb.Append('{').Append(s[i++]).Append('}');
                else break;
            }
        }
        return sb.ToString();
    }

    static bool Balanced(string s)
    {
        int braces = 0, parens = 0;
        foreach (var c in s)
        {
            braces += c == '{' ? 1 : c == '}' ? -1 : 0;
            parens += c == '(' ? 1 : c == ')' ? -1 : 0;
            if (braces < 0 || parens < 0) return false;
        }
        return braces == 0 && (parens == 0 || s[0] == '[' || s[^1] == ']');
    }

    // "(a,b)" / "[a,b)" / "a,b" split at top-level commas; false when there is no top-level comma.
    static bool TrySplitTuple(string s, out List<string> parts, out (string, string) brackets)
    {
        brackets = ("", "");
        var inner = s;
        if (s.Length >= 2 && s[0] is '(' or '[' && s[^1] is ')' or ']')
        {
            brackets = (s[..1], s[^1..]);
            inner = s[1..^1];
        }
        parts = [];
        int depth = 0, start = 0;
        for (int i = 0; i < inner.Length; i++)
        {
            char c = inner[i];
            if (c is '(' or '[' or '{') depth++;
            else if (c is ')' or ']' or '}') depth--;
            else if (c == ',' && depth == 0) { parts.Add(inner[start..i]); start = i + 1; }
        }
        parts.Add(inner[start..]);
        return parts.Count >= 2;
    }

    /// <summary>Evaluates a normalised answer exactly (grammar in the type's summary); false when it is not a rational number.</summary>
    public static bool TryEvaluate(string s, out Rational value)
    {
        var p = new Evaluator(s);
        value = default;
        try
        {
            var v = p.Expr();
            if (p.Position != s.Length) return false;
            value = v;
            return true;
        }
        catch (Exception e) when (e is FormatException or DivideByZeroException)
        {
            return false;
        }
    }

    // expr := term (('+'|'-') term)*; term := unary (('*'|'/') unary)*; unary := ('-'|'+') unary | power;
    // power := atom ['^' atom]; atom := number | '(' expr ')' | '{' expr '}' | \frac{expr}{expr} | \sqrt{expr}.
    sealed class Evaluator(string s)
    {
        const int MaxPowerBits = 4096;
        public int Position;

        char Peek => Position < s.Length ? s[Position] : '\0';

        public Rational Expr()
        {
            var v = Term();
            while (Peek is '+' or '-') v = s[Position++] == '+' ? v + Term() : v - Term();
            return v;
        }

        Rational Term()
        {
            var v = Unary();
            while (Peek is '*' or '/') v = s[Position++] == '*' ? v * Unary() : v / Unary();
            return v;
        }

        Rational Unary()
        {
            if (Eat("-")) return -Unary();
            return Eat("+") ? Unary() : Power();
        }

        Rational Power()
        {
            var b = Atom();
            if (Peek != '^') return b;
            Position++;
            var e = Eat("-") ? -Atom() : Atom();
            long bits = (long)Math.Max(b.Numerator.GetBitLength(), b.Denominator.GetBitLength());
            if (!e.IsInteger || BigInteger.Abs(e.Numerator) > MaxPowerBits / Math.Max(1, bits)) throw new FormatException("power too large");
            return b.Pow((int)e.Numerator);
        }

        Rational Atom()
        {
            if (char.IsAsciiDigit(Peek) || Peek == '.')
            {
                int start = Position;
                while (char.IsAsciiDigit(Peek) || Peek == '.') Position++;
                return Rational.TryParseDecimal(s[start..Position], out var n) ? n : throw new FormatException("bad number");
            }
            if (Peek is '(' or '{')
            {
                char close = Peek == '(' ? ')' : '}';
                Position++;
                var v = Expr();
                Expect(close);
                return v;
            }
            if (Eat(@"\frac")) { var n = Group(); return n / Group(); }
            if (Eat(@"\sqrt")) return Group().TrySqrt(out var r) ? r : throw new FormatException("irrational root");
            throw new FormatException($"unexpected '{Peek}'");
        }

        Rational Group()
        {
            Expect('{');
            var v = Expr();
            Expect('}');
            return v;
        }

        bool Eat(string token)
        {
            if (!s.AsSpan(Position).StartsWith(token)) return false;
            Position += token.Length;
            return true;
        }

        void Expect(char c)
        {
            if (Peek != c) throw new FormatException($"expected '{c}'");
            Position++;
        }
    }
}
