namespace Sharpen.Data.Tasks;

/// <summary>
/// Sorting a list of non-negative integers in ascending order: the prompt is <c>"[5,3,9,1]="</c>, the answer
/// <c>"1,3,5,9"</c> (duplicates kept). Lists have <see cref="Length"/> items of 1..<see cref="MaxDigits"/> digits each,
/// drawn with <see cref="SplitMix64"/> from the seed.
/// </summary>
public sealed class SortingTask : IVerifiableTask
{
    /// <summary>Most digits of an item.</summary>
    public int MaxDigits { get; }

    /// <summary>Items per list.</summary>
    public int Length { get; }

    /// <summary>Lists of <paramref name="length"/> items of 1..<paramref name="digits"/> digits.</summary>
    public SortingTask(int digits = 2, int length = 4)
    {
        VerifiableTasks.CheckDigits(digits, 18);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        MaxDigits = digits;
        Length = length;
    }

    /// <inheritdoc/>
    public string Name => "sorting";

    /// <inheritdoc/>
    public int MaxAnswerLength => Length * (MaxDigits + 1) - 1;

    /// <summary>The prompt for <paramref name="items"/>: <c>"[a,b,…]="</c>.</summary>
    public static string Prompt(IEnumerable<long> items) => $"[{Join(items)}]=";

    /// <inheritdoc/>
    public List<PromptAnswerRecord> Problems(int n, ulong seed)
    {
        var rng = new SplitMix64(seed);
        return Enumerable.Range(0, n).Select(i =>
        {
            var items = Enumerable.Range(0, Length).Select(_ => VerifiableTasks.Number(rng, MaxDigits)).ToArray();
            return new PromptAnswerRecord(Prompt(items), Join(items.Order())) { Id = VerifiableTasks.Text(i), AnswerType = "string" };
        }).ToList();
    }

    /// <summary>
    /// 1 when the completion lists the prompt's items in ascending order, comma-separated, each written without leading
    /// zeros; a completion that is not a comma-separated list of numbers is a parse failure.
    /// </summary>
    public Verdict Verify(string prompt, string completion)
    {
        var p = prompt.Trim();
        if (!p.StartsWith('[') || !p.EndsWith("]=", StringComparison.Ordinal))
            throw new ArgumentException($"\"{prompt}\" is not a sorting prompt \"[a,b,…]=\"", nameof(prompt));
        var items = p[1..^2].Split(',').Select(VerifiableTasks.ParseNatural).ToArray();
        if (items.Any(x => x is null)) throw new ArgumentException($"\"{prompt}\" lists something other than numbers", nameof(prompt));
        var answer = completion.Trim();
        if (answer.Split(',').Any(x => VerifiableTasks.ParseNatural(x.Trim()) is null)) return Verdict.Unparsed;
        return answer == Join(items.Select(x => x!.Value).Order()) ? Verdict.Correct : Verdict.Wrong;
    }

    static string Join(IEnumerable<long> items) => string.Join(",", items.Select(VerifiableTasks.Text));
}
