namespace Sharpen;

using System.Text.Json;

/// <summary>
/// A mistake in something the user gave Sharpen — a file, a recipe key, a command-line option — as opposed to a bug
/// in Sharpen. The message is one line, <c>file[:line][: where]: problem</c>, which <c>sharpen</c> prints after the
/// command's name and exits 1. Parsers of user files throw this (or a subclass) with the file, line and field they know.
/// </summary>
public class InputException : Exception
{
    /// <summary>
    /// An error in <paramref name="file"/> (null: not about a file) at 1-based <paramref name="line"/> (0: unknown),
    /// in <paramref name="where"/> (a field, key or tensor as the user would write it: <c>field "weight"</c>,
    /// <c>tensor 'lm_head.weight'</c>; null: the file or line as a whole).
    /// </summary>
    public InputException(string? file, int line, string? where, string problem, Exception? inner = null)
        : this(Format(file, line, where, problem), file, line, where, problem, inner)
    {
    }

    /// <summary>An error that is about no file (a command-line value, an environment setting).</summary>
    public InputException(string problem, Exception? inner = null) : this(null, 0, null, problem, inner)
    {
    }

    /// <summary>For subclasses that format their own message; the parts are kept as given.</summary>
    protected InputException(string message, string? file, int line, string? where, string problem, Exception? inner)
        : base(message, inner)
    {
        File = file;
        Line = line;
        Where = where;
        Problem = problem;
    }

    /// <summary>The file at fault, when the error comes from a file.</summary>
    public string? File { get; }

    /// <summary>The 1-based line in <see cref="File"/>, or 0 when unknown or not line-based.</summary>
    public int Line { get; }

    /// <summary>The field, key or tensor at fault as the message writes it, or null.</summary>
    public string? Where { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; }

    /// <summary>
    /// The error for text of <paramref name="file"/> that is not valid JSON: the parser's complaint without its position
    /// suffix, located at the parser's line, or at <paramref name="line"/> for files of one JSON value per line.
    /// </summary>
    public static InputException InvalidJson(string? file, JsonException e, int line = 0)
    {
        var text = e.Message;
        foreach (var cut in new[] { " Path: ", " LineNumber: ", " | LineNumber" })
            if (text.IndexOf(cut, StringComparison.Ordinal) is >= 0 and var i) text = text[..i];
        var at = line > 0 ? line : e.LineNumber is { } l ? (int)l + 1 : 0;
        const string duplicate = "Duplicate property '";
        if (text.StartsWith(duplicate, StringComparison.Ordinal) && text.IndexOf('\'', duplicate.Length) is > 0 and var end)
            return new InputException(file, at, null, $"the key \"{text[duplicate.Length..end]}\" appears twice in one object", e);
        var column = e.BytePositionInLine is { } b ? $" (byte {b + 1} of the line)" : "";
        var where = e.Path is { Length: > 1 } p ? $" at {p}" : "";
        return new InputException(file, at, null, $"invalid JSON{where}{column}: {text.Trim()}", e);
    }

    /// <summary>Joins the parts that are present: <c>file:line: where: problem</c>.</summary>
    public static string Format(string? file, int line, string? where, string problem)
    {
        var parts = new List<string>(3);
        if (file is not null) parts.Add(line > 0 ? $"{file}:{line}" : file);
        if (where is not null) parts.Add(where);
        parts.Add(problem);
        return string.Join(": ", parts);
    }
}

/// <summary>A command line that cannot be understood: an unknown option, a missing value. <c>sharpen</c> exits 2.</summary>
public sealed class UsageException(string problem) : InputException(problem);
