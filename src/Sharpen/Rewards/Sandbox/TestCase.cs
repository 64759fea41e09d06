using Sharpen.Data;

namespace Sharpen.Rewards.Sandbox;

/// <summary>
/// One unit test of a program (docs/algorithms.md §1, "Prompt + unit tests"): either <see cref="Input"/> fed on stdin with the
/// stdout compared to <see cref="ExpectedOutput"/>, or a Python <see cref="Assert"/> test run against the program's values.
/// Build one with <see cref="Stdio"/>, <see cref="Assertion"/> or <see cref="From"/>.
/// </summary>
public sealed record TestCase
{
    TestCase(string? input, string? expectedOutput, string? assert) =>
        (Input, ExpectedOutput, Assert) = (input, expectedOutput, assert);

    /// <summary>Text written to the program's stdin (stdin/stdout form), else null.</summary>
    public string? Input { get; }

    /// <summary>The stdout the program must print (stdin/stdout form), else null.</summary>
    public string? ExpectedOutput { get; }

    /// <summary>
    /// Python code run after the program with the program's top-level names in scope (assert form): statements
    /// (<c>assert add(1, 2) == 3</c>) or a bare expression (<c>add(1, 2) == 3</c>), which fails when it is false (a None
    /// result, e.g. <c>check(add)</c>, passes); else null. It runs in a checker sandbox of its own and reaches the
    /// program's values only as plain data or references (docs/sandbox.md, "Assert tests cannot be forged").
    /// </summary>
    public string? Assert { get; }

    /// <summary>A stdin/stdout test: the program reads <paramref name="input"/> and must print <paramref name="expectedOutput"/>.</summary>
    public static TestCase Stdio(string input, string expectedOutput) =>
        new(input ?? throw new ArgumentNullException(nameof(input)), expectedOutput ?? throw new ArgumentNullException(nameof(expectedOutput)), null);

    /// <summary>An assert test: <paramref name="statement"/> (see <see cref="Assert"/>) runs after the program and must not raise.</summary>
    public static TestCase Assertion(string statement) =>
        new(null, null, statement ?? throw new ArgumentNullException(nameof(statement)));

    /// <summary>The sandbox form of a data set's test (an <c>assert</c> wins when both forms are present).</summary>
    public static TestCase From(CodeTest test) => test.Assert is { } a ? Assertion(a)
        : Stdio(test.Input ?? throw new ArgumentException("test has neither assert nor input"),
                test.ExpectedOutput ?? throw new ArgumentException("test has input but no expected_output"));

    /// <summary>
    /// Whether <paramref name="stdout"/> matches <see cref="ExpectedOutput"/>: both are split into lines ("\r\n" read as
    /// "\n"), trailing whitespace is trimmed from every line and trailing empty lines are dropped, then the lines must be equal.
    /// </summary>
    public bool OutputMatches(string stdout) =>
        Lines(stdout).SequenceEqual(Lines(ExpectedOutput ?? throw new InvalidOperationException("not a stdin/stdout test")));

    static List<string> Lines(string text)
    {
        var lines = text.Replace("\r\n", "\n").Split('\n').Select(l => l.TrimEnd()).ToList();
        while (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        return lines;
    }
}
