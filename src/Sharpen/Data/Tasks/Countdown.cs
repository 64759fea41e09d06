namespace Sharpen.Data.Tasks;

/// <summary>
/// The countdown numbers game: reach a target with the given numbers and + − × ÷. The prompt is <c>"3,7,9:30="</c>
/// (numbers, then the target) and a correct completion an arithmetic expression such as <c>"3*7+9"</c>. Problems are made
/// by combining the numbers in a random order with random operations (intermediate results stay non-negative integers,
/// the target ≥ 1), so each has the solution recorded as <c>reference_solution</c>; the answer is the target.
/// </summary>
public sealed class CountdownTask : IVerifiableTask
{
    const int MaxExpressionLength = 256, MaxNesting = 32;

    /// <summary>Most digits of a given number (each is 1..10^digits − 1).</summary>
    public int MaxDigits { get; }

    /// <summary>Numbers given per problem.</summary>
    public int Count { get; }

    /// <summary>A solution must use every given number exactly once (true) or each at most once (false).</summary>
    public bool UseAllNumbers { get; }

    /// <summary>Divisions may leave a fraction (true), or every division must be exact (false).</summary>
    public bool AllowFractions { get; }

    /// <summary>Problems with <paramref name="count"/> numbers of 1..<paramref name="digits"/> digits.</summary>
    public CountdownTask(int digits = 1, int count = 3, bool useAllNumbers = true, bool allowFractions = false)
    {
        VerifiableTasks.CheckDigits(digits, 4);
        if (count is < 2 or > 6) throw new ArgumentOutOfRangeException(nameof(count), count, "need 2 ≤ count ≤ 6");
        (MaxDigits, Count, UseAllNumbers, AllowFractions) = (digits, count, useAllNumbers, allowFractions);
    }

    /// <inheritdoc/>
    public string Name => "countdown";

    /// <inheritdoc/>
    public int MaxAnswerLength => Count * MaxDigits + 3 * (Count - 1);

    /// <summary>The prompt for <paramref name="numbers"/> and <paramref name="target"/>: <c>"a,b,c:target="</c>.</summary>
    public static string Prompt(IEnumerable<long> numbers, long target) =>
        $"{string.Join(",", numbers.Select(VerifiableTasks.Text))}:{VerifiableTasks.Text(target)}=";

    /// <inheritdoc/>
    public List<PromptAnswerRecord> Problems(int n, ulong seed)
    {
        var rng = new SplitMix64(seed);
        var result = new List<PromptAnswerRecord>(n);
        while (result.Count < n)
        {
            var numbers = Enumerable.Range(0, Count).Select(_ => 1 + rng.NextInt64(VerifiableTasks.Pow10(MaxDigits) - 1)).ToArray();
            var (target, solution) = Combine(numbers, rng);
            if (target < 1) continue;
            result.Add(new PromptAnswerRecord(Prompt(numbers, target), VerifiableTasks.Text(target))
            {
                Id = VerifiableTasks.Text(result.Count), ReferenceSolution = solution,
            });
        }
        return result;
    }

    // Repeatedly replaces two random items by their combination under a random operation that keeps the value a
    // non-negative integer; compound operands are parenthesised.
    static (long Value, string Text) Combine(long[] numbers, SplitMix64 rng)
    {
        var items = numbers.Select(x => (Value: x, Text: VerifiableTasks.Text(x), Leaf: true)).ToList();
        while (items.Count > 1)
        {
            var i = rng.NextInt(items.Count);
            var a = items[i];
            items.RemoveAt(i);
            var j = rng.NextInt(items.Count);
            var b = items[j];
            items.RemoveAt(j);
            var ops = new List<char> { '+', '*' };
            if (a.Value >= b.Value) ops.Add('-');
            if (b.Value != 0 && a.Value % b.Value == 0) ops.Add('/');
            var op = ops[rng.NextInt(ops.Count)];
            var value = op switch { '+' => a.Value + b.Value, '-' => a.Value - b.Value, '*' => a.Value * b.Value, _ => a.Value / b.Value };
            string Wrap((long, string Text, bool Leaf) x) => x.Leaf ? x.Text : $"({x.Text})";
            items.Add((value, $"{Wrap(a)}{op}{Wrap(b)}", false));
        }
        return (items[0].Value, items[0].Text);
    }

    /// <summary>
    /// 1 when the completion is an expression over integers, + − × ÷ and parentheses (no unary minus) whose exact value is
    /// the target and whose numbers come from the given ones (each given number used at most as often as given; every one
    /// exactly once with <see cref="UseAllNumbers"/>). Division by zero, a division leaving a fraction (unless
    /// <see cref="AllowFractions"/>) or an overflow score 0. Text that is not such an expression is a parse failure. The
    /// expression is parsed and evaluated here, never executed.
    /// </summary>
    public Verdict Verify(string prompt, string completion)
    {
        var (numbers, target) = ParsePrompt(prompt);
        var text = completion.Trim();
        if (text.Length == 0 || text.Length > MaxExpressionLength) return Verdict.Unparsed;
        var parser = new Parser(text);
        Rational value;
        try
        {
            value = parser.Parse();
        }
        catch (FormatException)
        {
            return Verdict.Unparsed;
        }
        catch (OverflowException)
        {
            return Verdict.Wrong;
        }
        catch (DivideByZeroException)
        {
            return Verdict.Wrong;
        }
        if (parser.InexactDivision && !AllowFractions) return Verdict.Wrong;
        var available = numbers.GroupBy(x => x).ToDictionary(g => g.Key, g => g.Count());
        foreach (var used in parser.Numbers)
            if (!available.TryGetValue(used, out var left) || left == 0) return Verdict.Wrong;
            else available[used] = left - 1;
        if (UseAllNumbers && available.Values.Any(left => left > 0)) return Verdict.Wrong;
        return value.Numerator == target && value.Denominator == 1 ? Verdict.Correct : Verdict.Wrong;
    }

    static (long[] Numbers, long Target) ParsePrompt(string prompt)
    {
        var p = prompt.Trim();
        var colon = p.IndexOf(':');
        if (colon > 0 && p.EndsWith('=') && VerifiableTasks.ParseNatural(p[(colon + 1)..^1]) is { } target)
        {
            var numbers = p[..colon].Split(',').Select(VerifiableTasks.ParseNatural).ToArray();
            if (numbers.All(x => x is not null)) return (numbers.Select(x => x!.Value).ToArray(), target);
        }
        throw new ArgumentException($"\"{prompt}\" is not a countdown prompt \"a,b,…:target=\"", nameof(prompt));
    }

    /// <summary>An exact fraction n/d in lowest terms, d &gt; 0; arithmetic is checked (overflow throws).</summary>
    readonly record struct Rational(long Numerator, long Denominator)
    {
        public static Rational Of(long n, long d)
        {
            if (d == 0) throw new DivideByZeroException();
            if (d < 0) (n, d) = (checked(-n), checked(-d));
            var g = Gcd(Math.Abs(n), d);
            return new(n / g, d / g);
        }

        public static Rational operator +(Rational a, Rational b) =>
            Of(checked(a.Numerator * b.Denominator + b.Numerator * a.Denominator), checked(a.Denominator * b.Denominator));

        public static Rational operator -(Rational a, Rational b) =>
            Of(checked(a.Numerator * b.Denominator - b.Numerator * a.Denominator), checked(a.Denominator * b.Denominator));

        public static Rational operator *(Rational a, Rational b) =>
            Of(checked(a.Numerator * b.Numerator), checked(a.Denominator * b.Denominator));

        public static Rational operator /(Rational a, Rational b) =>
            Of(checked(a.Numerator * b.Denominator), checked(a.Denominator * b.Numerator));

        static long Gcd(long a, long b) => b == 0 ? Math.Max(a, 1) : Gcd(b, a % b);
    }

    /// <summary>
    /// Recursive descent over expr := term (('+'|'-') term)*, term := factor (('*'|'/') factor)*,
    /// factor := number | '(' expr ')', spaces allowed between tokens. Records the numbers written and whether a
    /// division left a fraction; throws <see cref="FormatException"/> on anything else.
    /// </summary>
    sealed class Parser(string text)
    {
        int at, depth;

        /// <summary>The literal numbers of the expression, in order.</summary>
        public List<long> Numbers { get; } = [];

        /// <summary>Some division's result was not an integer.</summary>
        public bool InexactDivision { get; private set; }

        public Rational Parse()
        {
            var value = Expression();
            SkipSpaces();
            if (at != text.Length) throw new FormatException($"unexpected '{text[at]}' at {at}");
            return value;
        }

        Rational Expression()
        {
            var value = Term();
            while (Accept('+', '-') is { } op)
                value = op == '+' ? value + Term() : value - Term();
            return value;
        }

        Rational Term()
        {
            var value = Factor();
            while (Accept('*', '/') is { } op)
            {
                if (op == '*')
                {
                    value *= Factor();
                    continue;
                }
                value /= Factor();
                InexactDivision |= value.Denominator != 1;
            }
            return value;
        }

        Rational Factor()
        {
            if (Accept('(', '(') is not null)
            {
                if (++depth > MaxNesting) throw new FormatException("parentheses nested too deeply");
                var inner = Expression();
                if (Accept(')', ')') is null) throw new FormatException("missing ')'");
                depth--;
                return inner;
            }
            SkipSpaces();
            var start = at;
            while (at < text.Length && char.IsAsciiDigit(text[at])) at++;
            if (VerifiableTasks.ParseNatural(text[start..at]) is not { } n) throw new FormatException($"expected a number at {start}");
            Numbers.Add(n);
            return new Rational(n, 1);
        }

        char? Accept(char a, char b)
        {
            SkipSpaces();
            if (at < text.Length && (text[at] == a || text[at] == b)) return text[at++];
            return null;
        }

        void SkipSpaces()
        {
            while (at < text.Length && text[at] == ' ') at++;
        }
    }
}
