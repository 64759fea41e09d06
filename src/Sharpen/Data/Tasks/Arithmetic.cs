namespace Sharpen.Data.Tasks;

using System.Globalization;
using System.Text.Json.Nodes;
using Sharpen.Models;

/// <summary>
/// A built-in, download-free task: addition of two non-negative integers. The prompt is <c>"123+45="</c> and the
/// completion the sum, <c>"168"</c>. Each operand has a number of digits drawn uniformly from
/// [<see cref="MinDigits"/>, <see cref="MaxDigits"/>], then a value uniform among numbers of that many digits.
/// Everything is generated from a seed with <see cref="SplitMix64"/>, so the same seed gives the same data everywhere.
/// </summary>
public sealed class Arithmetic
{
    /// <summary>
    /// The characters of the arithmetic tasks: digits, the operators + - *, = and space. End of sequence is the
    /// tokenizer's &lt;eos&gt; token, not a character.
    /// </summary>
    public const string Alphabet = "0123456789+-*= ";

    /// <summary>Fewest digits of an operand (≥ 1).</summary>
    public int MinDigits { get; }

    /// <summary>Most digits of an operand (≤ 18).</summary>
    public int MaxDigits { get; }

    /// <summary>A generator of operands with <paramref name="minDigits"/>..<paramref name="maxDigits"/> digits.</summary>
    public Arithmetic(int maxDigits = 3, int minDigits = 1)
    {
        if (minDigits < 1 || maxDigits < minDigits || maxDigits > 18)
            throw new ArgumentOutOfRangeException(nameof(maxDigits), $"need 1 ≤ minDigits ≤ maxDigits ≤ 18, not {minDigits}..{maxDigits}");
        MinDigits = minDigits;
        MaxDigits = maxDigits;
    }

    /// <summary>A character tokenizer over <see cref="Alphabet"/> with &lt;pad&gt; 0, &lt;bos&gt; 1, &lt;eos&gt; 2.</summary>
    public static CharTokenizer Tokenizer() => new(Alphabet);

    /// <summary>The prompt for a + b: <c>"{a}+{b}="</c>.</summary>
    public static string Prompt(long a, long b) => string.Create(CultureInfo.InvariantCulture, $"{a}+{b}=");

    /// <summary><paramref name="n"/> problems with their sums as completions, for supervised fine-tuning.</summary>
    public List<PromptCompletionRecord> Sft(int n, ulong seed)
    {
        var rng = new SplitMix64(seed);
        return Enumerable.Range(0, n).Select(i =>
        {
            var (a, b) = Operands(rng);
            return new PromptCompletionRecord(Prompt(a, b), Text(a + b)) { Id = Text(i) };
        }).ToList();
    }

    /// <summary><paramref name="n"/> problems with the sum as a verifiable answer (<c>answer_type</c> "numeric"), for online RL.</summary>
    public List<PromptAnswerRecord> Problems(int n, ulong seed)
    {
        var rng = new SplitMix64(seed);
        return Enumerable.Range(0, n).Select(i =>
        {
            var (a, b) = Operands(rng);
            return new PromptAnswerRecord(Prompt(a, b), Text(a + b)) { Id = Text(i), AnswerType = "numeric" };
        }).ToList();
    }

    /// <summary>
    /// <paramref name="n"/> preference pairs: chosen is the sum, rejected a plausible wrong answer (see
    /// <see cref="WrongAnswer"/>). With probability <paramref name="flipRate"/> the two are swapped — label noise for
    /// robust preference losses — and <c>meta.flipped</c> records it.
    /// </summary>
    public List<PreferencePairRecord> PreferencePairs(int n, ulong seed, double flipRate)
    {
        if (flipRate is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(flipRate), flipRate, "must lie in [0, 1]");
        var rng = new SplitMix64(seed);
        return Enumerable.Range(0, n).Select(i =>
        {
            var (a, b) = Operands(rng);
            string right = Text(a + b), wrong = Text(WrongAnswer(a + b, rng));
            var flipped = rng.NextDouble() < flipRate;
            return new PreferencePairRecord(Prompt(a, b), flipped ? wrong : right, flipped ? right : wrong)
            {
                Id = Text(i), Meta = new JsonObject { ["flipped"] = flipped },
            };
        }).ToList();
    }

    /// <summary>
    /// The exact-correctness reward: 1 when <paramref name="completion"/>, whitespace-trimmed, is the decimal sum of the
    /// operands in <paramref name="prompt"/> (written without leading zeros), else 0.
    /// </summary>
    /// <exception cref="ArgumentException">The prompt is not of the form "a+b=".</exception>
    public static double Gold(string prompt, string completion)
    {
        var p = prompt.Trim();
        var parts = p.EndsWith('=') ? p[..^1].Split('+') : [];
        if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var a)
                              || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var b))
            throw new ArgumentException($"\"{prompt}\" is not an addition prompt \"a+b=\"", nameof(prompt));
        return completion.Trim() == Text(a + b) ? 1 : 0;
    }

    /// <summary>
    /// A wrong answer near <paramref name="correct"/>: with probability ½ off by 1..10 (up or down, never negative),
    /// otherwise one digit replaced by another (no new leading zero). Never equal to <paramref name="correct"/>.
    /// </summary>
    public static long WrongAnswer(long correct, SplitMix64 rng)
    {
        if (rng.NextDouble() < 0.5)
        {
            var k = rng.NextInt(1, 11);
            return rng.NextDouble() < 0.5 && correct - k >= 0 ? correct - k : correct + k;
        }
        var digits = Text(correct).ToCharArray();
        var i = rng.NextInt(digits.Length);
        var choices = "0123456789".Where(d => d != digits[i] && !(i == 0 && d == '0' && digits.Length > 1)).ToArray();
        digits[i] = choices[rng.NextInt(choices.Length)];
        return long.Parse(digits, CultureInfo.InvariantCulture);
    }

    (long A, long B) Operands(SplitMix64 rng) => (Operand(rng), Operand(rng));

    long Operand(SplitMix64 rng)
    {
        var digits = rng.NextInt(MinDigits, MaxDigits + 1);
        long lo = digits == 1 ? 0 : Pow10(digits - 1), hi = Pow10(digits);
        return lo + rng.NextInt64(hi - lo);
    }

    static long Pow10(int k)
    {
        long p = 1;
        for (var i = 0; i < k; i++) p *= 10;
        return p;
    }

    static string Text(long x) => x.ToString(CultureInfo.InvariantCulture);
}
