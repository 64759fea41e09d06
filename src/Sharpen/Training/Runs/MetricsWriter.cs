using System.Text;
using System.Text.Json;

namespace Sharpen.Training;

/// <summary>
/// The main process's <see cref="IRunLogger"/>: appends one JSON object per call to
/// <c>&lt;runDir&gt;/metrics.jsonl</c>, <c>{"step": n, "time": unix seconds, "split": "train", "loss": 0.71, …}</c>,
/// and writes the same scalars (tagged <c>split/name</c>) to a TensorBoard event file
/// <c>events.out.tfevents.&lt;unix&gt;.&lt;host&gt;</c> beside it. Each line and event is flushed to the OS
/// when written, so a crashed process loses nothing it logged. Non-finite values are written as the JSON
/// strings <c>"NaN"</c>, <c>"Infinity"</c>, <c>"-Infinity"</c>.
/// </summary>
public sealed class MetricsWriter : IRunLogger
{
    /// <summary>The metrics file's name inside a run directory.</summary>
    public const string FileName = "metrics.jsonl";

    /// <summary>The prefix of TensorBoard event file names.</summary>
    public const string EventsPrefix = "events.out.tfevents.";

    readonly FileStream metrics;
    readonly TensorBoardWriter events;
    readonly Func<double> clock;
    readonly Lock gate = new();

    /// <summary>
    /// Opens the run's metrics. A fresh run (<paramref name="resumeStep"/> null) replaces any metrics.jsonl and
    /// event files already in <paramref name="runDir"/>; a resumed run keeps what was logged up to and including
    /// <paramref name="resumeStep"/> and drops the later entries, which the resumed run will log again.
    /// </summary>
    /// <param name="runDir">The run directory (created if missing).</param>
    /// <param name="resumeStep">The step of the checkpoint being resumed, or null for a fresh run.</param>
    /// <param name="clock">Unix seconds; defaults to the system clock.</param>
    public MetricsWriter(string runDir, long? resumeStep = null, Func<double>? clock = null)
    {
        Directory.CreateDirectory(runDir);
        this.clock = clock ?? (() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0);
        MetricsPath = Path.Combine(runDir, FileName);
        var oldEvents = Directory.GetFiles(runDir, EventsPrefix + "*").Where(p => !p.EndsWith(".tmp")).ToList();
        if (resumeStep is { } keep)
        {
            if (File.Exists(MetricsPath)) TruncateMetrics(MetricsPath, keep);
            foreach (var p in oldEvents) TensorBoardWriter.TruncateAfter(p, keep);
        }
        else
        {
            File.Delete(MetricsPath);
            foreach (var p in oldEvents) File.Delete(p);
        }
        metrics = new FileStream(MetricsPath, FileMode.Append, FileAccess.Write, FileShare.Read);
        var now = this.clock();
        var host = new string(Environment.MachineName.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());
        EventsPath = Path.Combine(runDir, $"{EventsPrefix}{(long)now}.{host}");
        events = new TensorBoardWriter(EventsPath, now);
    }

    /// <summary>Path of <c>metrics.jsonl</c>.</summary>
    public string MetricsPath { get; }

    /// <summary>Path of the TensorBoard event file this writer appends to.</summary>
    public string EventsPath { get; }

    /// <summary>Always true: this is the writer of the main process.</summary>
    public bool IsMain => true;

    /// <inheritdoc/>
    public void Log(long step, string split, IReadOnlyDictionary<string, double> metrics)
    {
        ArgumentException.ThrowIfNullOrEmpty(split);
        foreach (var name in metrics.Keys)
            if (name is "" or "step" or "time" or "split")
                throw new ArgumentException($"'{name}' cannot be a metric name", nameof(metrics));
        var time = clock();
        var line = new MemoryStream();
        using (var json = new Utf8JsonWriter(line))
        {
            json.WriteStartObject();
            json.WriteNumber("step", step);
            json.WriteNumber("time", time);
            json.WriteString("split", split);
            foreach (var (name, value) in metrics)
                if (double.IsFinite(value)) json.WriteNumber(name, value);
                else json.WriteString(name, double.IsNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
            json.WriteEndObject();
        }
        line.WriteByte((byte)'\n');
        lock (gate)
        {
            this.metrics.Write(line.GetBuffer().AsSpan(0, (int)line.Length));
            this.metrics.Flush();
            events.WriteScalars(step, time, metrics.Select(kv => KeyValuePair.Create($"{split}/{kv.Key}", (float)kv.Value)));
        }
    }

    /// <summary>Closes both files.</summary>
    public void Dispose()
    {
        metrics.Dispose();
        events.Dispose();
    }

    static void TruncateMetrics(string path, long keep)
    {
        var kept = new StringBuilder();
        foreach (var line in File.ReadLines(path))
            if (MetricsReader.Parse(line) is { } r && r.Step <= keep) kept.Append(line).Append('\n');
        var tmp = path + ".tmp";
        File.WriteAllText(tmp, kept.ToString());
        File.Move(tmp, path, overwrite: true);
    }
}

/// <summary>One line of <c>metrics.jsonl</c>.</summary>
/// <param name="Step">Optimiser step.</param>
/// <param name="Time">Unix seconds when it was logged.</param>
/// <param name="Split"><c>train</c> or <c>eval</c>.</param>
/// <param name="Values">Metric name → value (non-finite values included).</param>
public sealed record MetricsRecord(long Step, double Time, string Split, IReadOnlyDictionary<string, double> Values);

/// <summary>Reads <c>metrics.jsonl</c> files.</summary>
public static class MetricsReader
{
    /// <summary>Every well-formed line of the file at <paramref name="path"/>, in order; a torn last line
    /// (a process killed mid-write) or any other malformed line is skipped.</summary>
    public static IReadOnlyList<MetricsRecord> Read(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        var records = new List<MetricsRecord>();
        while (reader.ReadLine() is { } line)
            if (Parse(line) is { } r) records.Add(r);
        return records;
    }

    /// <summary>One line parsed, or null when it is not a metrics object (needs step, time and split).</summary>
    public static MetricsRecord? Parse(string line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var o = doc.RootElement;
            if (o.ValueKind != JsonValueKind.Object
                || !o.TryGetProperty("step", out var step) || step.ValueKind != JsonValueKind.Number
                || !o.TryGetProperty("time", out var time) || time.ValueKind != JsonValueKind.Number
                || !o.TryGetProperty("split", out var split) || split.ValueKind != JsonValueKind.String)
                return null;
            var values = new Dictionary<string, double>();
            foreach (var p in o.EnumerateObject())
            {
                if (p.Name is "step" or "time" or "split") continue;
                if (p.Value.ValueKind == JsonValueKind.Number) values[p.Name] = p.Value.GetDouble();
                else if (p.Value.ValueKind == JsonValueKind.String && NonFinite(p.Value.GetString()) is { } x) values[p.Name] = x;
            }
            return new MetricsRecord(step.GetInt64(), time.GetDouble(), split.GetString()!, values);
        }
        catch (JsonException)
        {
            return null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    static double? NonFinite(string? s) => s switch
    {
        "NaN" => double.NaN,
        "Infinity" => double.PositiveInfinity,
        "-Infinity" => double.NegativeInfinity,
        _ => null,
    };
}
