namespace Sharpen.Data;

/// <summary>What a reader does with a malformed record.</summary>
public enum BadRecordPolicy
{
    /// <summary>Throw a <see cref="DataFormatException"/> naming the file, line and field.</summary>
    Error,

    /// <summary>Leave the record out and count it.</summary>
    Skip,
}

/// <summary>
/// A record that does not match its format: bad JSON, a missing or ill-typed field, lists of the wrong length.
/// The message reads <c>file:line: field "name": what is wrong</c>.
/// </summary>
public sealed class DataFormatException : InputException
{
    /// <summary>The field at fault as a path ("messages[2].role"), or null when the line as a whole is bad.</summary>
    public string? Field { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Detail => Problem;

    /// <summary>An error in <paramref name="field"/> (null: the whole record) at <paramref name="file"/>:<paramref name="line"/>.</summary>
    public DataFormatException(string? field, string detail, string? file = null, int line = 0)
        : base(file, line, field is null ? null : $"field \"{field}\"", detail) => Field = field;

    /// <summary>The same error located at <paramref name="file"/>:<paramref name="line"/>.</summary>
    public DataFormatException At(string file, int line) => new(Field, Detail, file, line);
}
