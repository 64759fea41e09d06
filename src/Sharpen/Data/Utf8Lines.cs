namespace Sharpen.Data;

using System.Buffers;
using System.Text;
using System.Text.Unicode;

/// <summary>
/// Reads a text file line by line as strict UTF-8. <see cref="File.ReadLines(string)"/> turns bytes that are not UTF-8
/// into U+FFFD, which would then train a model on replacement characters; here they are an error naming the file, the
/// line and the byte. Lines end at <c>\n</c> (a <c>\r</c> before it is dropped); a UTF-8 byte-order mark is skipped.
/// </summary>
public static class Utf8Lines
{
    static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>
    /// The lines of <paramref name="path"/> with their 1-based numbers. A missing path, a directory, or a line that is
    /// not valid UTF-8 is an <see cref="InputException"/> naming the file (and the line).
    /// </summary>
    public static IEnumerable<(int Number, string Text)> Read(string path)
    {
        CheckReadable(path);
        return Lines(path).Select(l => (l.Number, l.Text ?? throw new InputException(path, l.Number, null, l.Error!)));
    }

    /// <summary>One line: its text, or (when it is not valid UTF-8) null and what is wrong.</summary>
    internal readonly record struct Line(int Number, string? Text, string? Error);

    /// <summary>
    /// Like <see cref="Read"/>, but a line that is not valid UTF-8 comes back with its error instead of ending the
    /// enumeration, so a reader can skip it. The caller checks the path first (<see cref="CheckReadable"/>).
    /// </summary>
    internal static IEnumerable<Line> Lines(string path)
    {
        foreach (var (number, bytes) in RawLines(path)) yield return Decode(bytes.Span, number);
    }

    /// <summary>Throws an <see cref="InputException"/> naming <paramref name="path"/> when it is not an existing file.</summary>
    public static void CheckReadable(string path)
    {
        if (Directory.Exists(path)) throw new InputException(path, 0, null, "is a directory, not a file");
        if (!File.Exists(path)) throw new InputException(path, 0, null, "no such file");
    }

    static IEnumerable<(int, ReadOnlyMemory<byte>)> RawLines(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1);
        var buffer = new byte[1 << 16];
        var pending = new ArrayBufferWriter<byte>();   // the start of a line that runs past the buffer
        var number = 0;
        int n;
        while ((n = stream.Read(buffer)) > 0)
        {
            var start = 0;
            while (start < n && Array.IndexOf(buffer, (byte)'\n', start, n - start) is >= 0 and var end)
            {
                number++;
                if (pending.WrittenCount == 0) yield return (number, buffer.AsMemory(start, end - start));
                else
                {
                    pending.Write(buffer.AsSpan(start, end - start));
                    yield return (number, pending.WrittenMemory);
                    pending.Clear();
                }
                start = end + 1;
            }
            pending.Write(buffer.AsSpan(start, n - start));
        }
        if (pending.WrittenCount > 0) yield return (number + 1, pending.WrittenMemory);
    }

    static Line Decode(ReadOnlySpan<byte> line, int number)
    {
        if (number == 1 && line.StartsWith("\uFEFF"u8)) line = line[3..];
        if (line.EndsWith("\r"u8)) line = line[..^1];
        if (Utf8.IsValid(line)) return new(number, Strict.GetString(line), null);
        // Find the first bad byte for the message.
        var chars = new char[line.Length];
        Utf8.ToUtf16(line, chars, out var good, out _, replaceInvalidSequences: false);
        return new(number, null, $"not valid UTF-8 (byte 0x{line[good]:X2} at byte {good + 1} of the line); save the file as UTF-8");
    }
}
