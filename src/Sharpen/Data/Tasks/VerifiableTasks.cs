namespace Sharpen.Data.Tasks;

using System.Globalization;
using Sharpen.Models;

/// <summary>The verdict on one completion: its reward and whether it could be read at all.</summary>
/// <param name="Reward">1 for a correct answer, 0 otherwise (fail-closed: anything unreadable scores 0).</param>
/// <param name="ParseFailed">The completion is not in the answer format (not a number, not an expression, …).</param>
public readonly record struct Verdict(double Reward, bool ParseFailed)
{
    /// <summary>A correct answer: reward 1.</summary>
    public static Verdict Correct => new(1, false);

    /// <summary>A readable but wrong answer: reward 0.</summary>
    public static Verdict Wrong => new(0, false);

    /// <summary>An unreadable answer: reward 0, flagged as a parse failure.</summary>
    public static Verdict Unparsed => new(0, true);
}

/// <summary>
/// A built-in task with a checkable answer, for online RL (docs/algorithms.md §5.2, verifiable rewards): seeded problems, a
/// verifier, and a supervised warm-up set. Prompts carry everything the verifier needs, so it reads only the prompt and
/// the completion; every character lies in <see cref="VerifiableTasks.Alphabet"/>.
/// </summary>
public interface IVerifiableTask
{
    /// <summary>The task's name (<c>addition</c>, <c>multiplication</c>, <c>countdown</c>, <c>sorting</c>).</summary>
    string Name { get; }

    /// <summary>Characters in the longest reference answer of this task's size — a sufficient max_new_tokens less its end token.</summary>
    int MaxAnswerLength { get; }

    /// <summary>
    /// <paramref name="n"/> problems from <paramref name="seed"/>: the prompt, the gold <c>answer</c> and, where the
    /// answer is not itself the completion to write (countdown), a <c>reference_solution</c>. Same seed, same problems.
    /// </summary>
    List<PromptAnswerRecord> Problems(int n, ulong seed);

    /// <summary>Scores <paramref name="completion"/> (whitespace around it ignored) as an answer to <paramref name="prompt"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="prompt"/> is not one of this task's prompts.</exception>
    Verdict Verify(string prompt, string completion);
}

/// <summary>
/// The built-in verifiable tasks (no download): <c>addition</c> ("12+34=" → "46"), <c>multiplication</c>
/// ("12*34=" → "408"), <c>countdown</c> ("3,7,9:30=" → an expression over the given numbers worth 30, "3*7+9") and
/// <c>sorting</c> ("[5,3,9,1]=" → "1,3,5,9"). One character tokenizer covers them all.
/// </summary>
public static class VerifiableTasks
{
    /// <summary>Every character of the built-in tasks: <see cref="Arithmetic.Alphabet"/> (so its ids are unchanged) then / ( ) , : [ ].</summary>
    public const string Alphabet = Arithmetic.Alphabet + "/(),:[]";

    /// <summary>The prefix naming a built-in data set in a recipe, as in <c>builtin:addition</c>.</summary>
    public const string Prefix = "builtin:";

    static readonly Dictionary<string, Func<int, IVerifiableTask>> Factories = new(StringComparer.Ordinal)
    {
        ["addition"] = digits => new AdditionTask(digits),
        ["multiplication"] = digits => new MultiplicationTask(digits),
        ["countdown"] = digits => new CountdownTask(digits),
        ["sorting"] = digits => new SortingTask(digits),
    };

    /// <summary>The task names.</summary>
    public static IReadOnlyCollection<string> Names => Factories.Keys;

    /// <summary>A character tokenizer over <see cref="Alphabet"/> with &lt;pad&gt; 0, &lt;bos&gt; 1, &lt;eos&gt; 2.</summary>
    public static CharTokenizer Tokenizer() => new(Alphabet);

    /// <summary>
    /// The task <paramref name="name"/> (with or without the <c>builtin:</c> prefix) whose numbers have at most
    /// <paramref name="digits"/> digits: operands (addition, multiplication), the given numbers (countdown) or the list
    /// items (sorting).
    /// </summary>
    /// <exception cref="ArgumentException">An unknown name; the message lists the known ones.</exception>
    public static IVerifiableTask Get(string name, int digits = 2)
    {
        var key = name.StartsWith(Prefix, StringComparison.Ordinal) ? name[Prefix.Length..] : name;
        return Factories.TryGetValue(key, out var make) ? make(digits)
            : throw new ArgumentException($"unknown verifiable task '{name}'; known: {string.Join(", ", Names.Select(n => Prefix + n))}");
    }

    /// <summary>Whether <paramref name="source"/> names a built-in verifiable task (<c>builtin:addition</c>, …).</summary>
    public static bool IsTask(string source) =>
        source.StartsWith(Prefix, StringComparison.Ordinal) && Factories.ContainsKey(source[Prefix.Length..]);

    /// <summary>
    /// A supervised warm-up set: <paramref name="n"/> problems of <paramref name="task"/> with their reference
    /// solution (else the answer) as the completion.
    /// </summary>
    public static List<PromptCompletionRecord> Sft(IVerifiableTask task, int n, ulong seed) =>
        task.Problems(n, seed).Select(p => new PromptCompletionRecord(p.Prompt, p.ReferenceSolution ?? p.Answer) { Id = p.Id }).ToList();

    /// <summary>A non-negative decimal integer of at most 18 digits without sign, or null.</summary>
    internal static long? ParseNatural(string text)
    {
        if (text.Length == 0 || text.Length > 18) return null;
        return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
    }

    /// <summary>A uniform number of 1..<paramref name="maxDigits"/> digits, then a uniform value with that many digits (1 digit: 0..9).</summary>
    internal static long Number(SplitMix64 rng, int maxDigits, int minDigits = 1)
    {
        var digits = rng.NextInt(minDigits, maxDigits + 1);
        long lo = digits == 1 ? 0 : Pow10(digits - 1), hi = Pow10(digits);
        return lo + rng.NextInt64(hi - lo);
    }

    internal static long Pow10(int k)
    {
        long p = 1;
        for (var i = 0; i < k; i++) p *= 10;
        return p;
    }

    internal static string Text(long x) => x.ToString(CultureInfo.InvariantCulture);

    internal static void CheckDigits(int digits, int max)
    {
        if (digits < 1 || digits > max) throw new ArgumentOutOfRangeException(nameof(digits), digits, $"need 1 ≤ digits ≤ {max}");
    }
}

/// <summary>Addition as a verifiable task: the problems and reward of <see cref="Arithmetic"/> ("12+34=" → "46").</summary>
public sealed class AdditionTask : IVerifiableTask
{
    readonly Arithmetic arithmetic;

    /// <summary>Operands of 1..<paramref name="digits"/> digits (≤ 17).</summary>
    public AdditionTask(int digits = 2)
    {
        VerifiableTasks.CheckDigits(digits, 17);
        arithmetic = new Arithmetic(digits);
    }

    /// <inheritdoc/>
    public string Name => "addition";

    /// <inheritdoc/>
    public int MaxAnswerLength => arithmetic.MaxDigits + 1;

    /// <inheritdoc/>
    public List<PromptAnswerRecord> Problems(int n, ulong seed) => arithmetic.Problems(n, seed);

    /// <inheritdoc/>
    public Verdict Verify(string prompt, string completion)
    {
        var gold = Arithmetic.Gold(prompt, completion);                     // validates the prompt
        if (VerifiableTasks.ParseNatural(completion.Trim()) is null) return Verdict.Unparsed;
        return gold == 1 ? Verdict.Correct : Verdict.Wrong;
    }
}
