namespace Sharpen.Data.Tasks;

/// <summary>
/// Multiplication of two non-negative integers: the prompt is <c>"12*34="</c>, the answer the product <c>"408"</c>. Each
/// operand has 1..<see cref="MaxDigits"/> digits (a uniform count, then a uniform value of that many digits), drawn with
/// <see cref="SplitMix64"/> from the seed.
/// </summary>
public sealed class MultiplicationTask : IVerifiableTask
{
    /// <summary>Most digits of an operand (≤ 9, so products fit in 18 digits).</summary>
    public int MaxDigits { get; }

    /// <summary>Operands of 1..<paramref name="digits"/> digits.</summary>
    public MultiplicationTask(int digits = 2)
    {
        VerifiableTasks.CheckDigits(digits, 9);
        MaxDigits = digits;
    }

    /// <inheritdoc/>
    public string Name => "multiplication";

    /// <inheritdoc/>
    public int MaxAnswerLength => 2 * MaxDigits;

    /// <summary>The prompt for a × b: <c>"{a}*{b}="</c>.</summary>
    public static string Prompt(long a, long b) => $"{VerifiableTasks.Text(a)}*{VerifiableTasks.Text(b)}=";

    /// <inheritdoc/>
    public List<PromptAnswerRecord> Problems(int n, ulong seed)
    {
        var rng = new SplitMix64(seed);
        return Enumerable.Range(0, n).Select(i =>
        {
            long a = VerifiableTasks.Number(rng, MaxDigits), b = VerifiableTasks.Number(rng, MaxDigits);
            return new PromptAnswerRecord(Prompt(a, b), VerifiableTasks.Text(a * b)) { Id = VerifiableTasks.Text(i), AnswerType = "numeric" };
        }).ToList();
    }

    /// <summary>1 when the completion is the decimal product (no leading zeros); a completion that is not a number is a parse failure.</summary>
    public Verdict Verify(string prompt, string completion)
    {
        var p = prompt.Trim();
        var parts = p.EndsWith('=') ? p[..^1].Split('*') : [];
        if (parts.Length != 2 || VerifiableTasks.ParseNatural(parts[0]) is not { } a || VerifiableTasks.ParseNatural(parts[1]) is not { } b)
            throw new ArgumentException($"\"{prompt}\" is not a multiplication prompt \"a*b=\"", nameof(prompt));
        var answer = completion.Trim();
        if (VerifiableTasks.ParseNatural(answer) is null) return Verdict.Unparsed;
        return answer == VerifiableTasks.Text(checked(a * b)) ? Verdict.Correct : Verdict.Wrong;
    }
}
