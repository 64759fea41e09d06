using System.Text;

namespace Sharpen.Training;

/// <summary>One scalar read back from a TensorBoard event file.</summary>
/// <param name="Step">The event's global step.</param>
/// <param name="WallTime">When it was written, Unix seconds.</param>
/// <param name="Tag">The chart name, e.g. <c>train/loss</c>.</param>
/// <param name="Value">The value (TensorBoard stores scalars as float32).</param>
public readonly record struct TensorBoardScalar(long Step, double WallTime, string Tag, float Value);

/// <summary>
/// Writes a TensorBoard event file by hand: TFRecord framing around protobuf <c>Event</c> messages,
/// <c>Event{wall_time=1 double, step=2 int64, file_version=3 string, summary=5 Summary}</c>,
/// <c>Summary{value=1 repeated Value{tag=1 string, simple_value=2 float}}</c>. The first record is the
/// file version <c>brain.Event:2</c>. Every event is flushed to the OS as soon as it is written.
/// </summary>
public sealed class TensorBoardWriter : IDisposable
{
    /// <summary>The file_version string of the first event.</summary>
    public const string FileVersion = "brain.Event:2";

    readonly FileStream file;

    /// <summary>Opens (appending to) the event file at <paramref name="path"/> and writes the file-version event.</summary>
    /// <param name="path">The event file, conventionally <c>events.out.tfevents.&lt;unix&gt;.&lt;host&gt;</c>.</param>
    /// <param name="wallTime">Unix seconds stamped on the file-version event.</param>
    public TensorBoardWriter(string path, double wallTime)
    {
        Path = path;
        file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read);
        var e = new MemoryStream();
        ProtoWire.Double(e, 1, wallTime);
        ProtoWire.String(e, 3, FileVersion);
        Append(e);
    }

    /// <summary>The event file's path.</summary>
    public string Path { get; }

    /// <summary>Writes one event holding <paramref name="values"/> as simple scalars at <paramref name="step"/>.</summary>
    /// <param name="step">Global step.</param>
    /// <param name="wallTime">Unix seconds.</param>
    /// <param name="values">Tag → value pairs.</param>
    public void WriteScalars(long step, double wallTime, IEnumerable<KeyValuePair<string, float>> values)
    {
        var summary = new MemoryStream();
        foreach (var (tag, value) in values)
        {
            var v = new MemoryStream();
            ProtoWire.String(v, 1, tag);
            ProtoWire.Float(v, 2, value);
            ProtoWire.Bytes(summary, 1, v.ToArray());
        }
        var e = new MemoryStream();
        ProtoWire.Double(e, 1, wallTime);
        ProtoWire.Int64(e, 2, step);
        ProtoWire.Bytes(e, 5, summary.ToArray());
        Append(e);
    }

    void Append(MemoryStream e)
    {
        TfRecord.Write(file, e.ToArray());
        file.Flush();
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => file.Dispose();

    /// <summary>Rewrites the event file at <paramref name="path"/> without the events whose step exceeds
    /// <paramref name="maxStep"/> (a resumed run rewrites those steps), dropping a torn last record.</summary>
    internal static void TruncateAfter(string path, long maxStep)
    {
        var records = TfRecord.ReadAll(path, allowTruncatedTail: true);
        var kept = records.Where(r => TensorBoardReader.StepOf(r) <= maxStep).ToList();
        if (kept.Count == records.Count && new FileInfo(path).Length == records.Sum(r => r.Length + 16L)) return;
        var tmp = path + ".tmp";
        using (var s = new FileStream(tmp, FileMode.Create, FileAccess.Write))
            foreach (var r in kept) TfRecord.Write(s, r);
        File.Move(tmp, path, overwrite: true);
    }
}

/// <summary>Reads scalars back from TensorBoard event files, validating the framing as it goes.</summary>
public static class TensorBoardReader
{
    /// <summary>
    /// Every simple-value scalar in the event file at <paramref name="path"/>, in file order.
    /// </summary>
    /// <exception cref="InvalidDataException">A record's length or data CRC is wrong, the file is truncated,
    /// or its first event is not the file version <c>brain.Event:2</c>.</exception>
    public static IReadOnlyList<TensorBoardScalar> ReadScalars(string path)
    {
        var records = TfRecord.ReadAll(path);
        if (records.Count == 0 || FileVersionOf(records[0]) != TensorBoardWriter.FileVersion)
            throw new InvalidDataException($"{path}: the first event is not file_version {TensorBoardWriter.FileVersion}");
        var scalars = new List<TensorBoardScalar>();
        foreach (var r in records) ReadEvent(r, scalars);
        return scalars;
    }

    /// <summary>The step field of an encoded event (0 when absent, as in the file-version event).</summary>
    internal static long StepOf(ReadOnlySpan<byte> evt)
    {
        var r = new ProtoWire.Reader(evt);
        long step = 0;
        while (r.Next(out var field, out var wire))
            if (field == 2 && wire == ProtoWire.Varint) step = (long)r.ReadVarint();
            else r.Skip(wire);
        return step;
    }

    static string? FileVersionOf(ReadOnlySpan<byte> evt)
    {
        var r = new ProtoWire.Reader(evt);
        string? version = null;
        while (r.Next(out var field, out var wire))
            if (field == 3 && wire == ProtoWire.LengthDelimited) version = Encoding.UTF8.GetString(r.ReadBytes());
            else r.Skip(wire);
        return version;
    }

    static void ReadEvent(ReadOnlySpan<byte> evt, List<TensorBoardScalar> into)
    {
        var r = new ProtoWire.Reader(evt);
        double wallTime = 0;
        long step = 0;
        var summaries = new List<byte[]>();
        while (r.Next(out var field, out var wire))
            switch (field, wire)
            {
                case (1, ProtoWire.Fixed64): wallTime = r.ReadDouble(); break;
                case (2, ProtoWire.Varint): step = (long)r.ReadVarint(); break;
                case (5, ProtoWire.LengthDelimited): summaries.Add(r.ReadBytes().ToArray()); break;
                default: r.Skip(wire); break;
            }
        foreach (var summary in summaries)
        {
            var s = new ProtoWire.Reader(summary);
            while (s.Next(out var field, out var wire))
                if (field == 1 && wire == ProtoWire.LengthDelimited) ReadValue(s.ReadBytes(), step, wallTime, into);
                else s.Skip(wire);
        }
    }

    static void ReadValue(ReadOnlySpan<byte> value, long step, double wallTime, List<TensorBoardScalar> into)
    {
        var v = new ProtoWire.Reader(value);
        string tag = "";
        float? simple = null;
        while (v.Next(out var field, out var wire))
            switch (field, wire)
            {
                case (1, ProtoWire.LengthDelimited): tag = Encoding.UTF8.GetString(v.ReadBytes()); break;
                case (2, ProtoWire.Fixed32): simple = v.ReadFloat(); break;
                default: v.Skip(wire); break;
            }
        if (simple is { } x) into.Add(new TensorBoardScalar(step, wallTime, tag, x));
    }
}
