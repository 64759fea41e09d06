using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Sharpen.Training;

namespace Sharpen.Tests;

/// <summary>MetricsWriter: metrics.jsonl lines, resume truncation, and TensorBoard event files.</summary>
public sealed class RunsMetricsTests : IDisposable
{
    readonly DirectoryInfo dir = Directory.CreateTempSubdirectory("sharpen-runs-metrics-");

    public void Dispose() => dir.Delete(recursive: true);

    static Dictionary<string, double> M(params (string Name, double Value)[] values) =>
        values.ToDictionary(v => v.Name, v => v.Value);

    static List<string> ReadLinesShared(string path)
    {
        using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var r = new StreamReader(s);
        return r.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
    }

    [Fact]
    public void Crc32C_MatchesTheStandardCheckValue()
    {
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(0u, Crc32C.Compute([]));
        // RFC 3720 (iSCSI) B.4 test vector: 32 bytes of zeros.
        Assert.Equal(0x8A9136AAu, Crc32C.Compute(new byte[32]));
    }

    [Fact]
    public void Log_WritesOneFlushedJsonLinePerCall_WithStepTimeSplitAndValues()
    {
        double now = 1_700_000_000.25;
        using var w = new MetricsWriter(dir.FullName, clock: () => now);
        w.Log(1, "train", M(("loss", 0.6931471805599453), ("lr", 3e-5)));
        now += 1.5;
        w.Log(2, "eval", M(("loss", double.NaN), ("accuracy", 0.75), ("grad_norm", double.PositiveInfinity)));

        // Read while the writer is still open: what was logged is already on disk.
        var lines = ReadLinesShared(Path.Combine(dir.FullName, "metrics.jsonl"));
        Assert.Equal(2, lines.Count);
        using var first = JsonDocument.Parse(lines[0]);
        var a = first.RootElement;
        Assert.Equal(1, a.GetProperty("step").GetInt64());
        Assert.Equal(1_700_000_000.25, a.GetProperty("time").GetDouble());
        Assert.Equal("train", a.GetProperty("split").GetString());
        Assert.Equal(0.6931471805599453, a.GetProperty("loss").GetDouble());
        Assert.Equal(3e-5, a.GetProperty("lr").GetDouble());
        Assert.Equal(5, a.EnumerateObject().Count());
        using var second = JsonDocument.Parse(lines[1]);
        var b = second.RootElement;
        Assert.Equal((2L, 1_700_000_001.75, "eval"), (b.GetProperty("step").GetInt64(), b.GetProperty("time").GetDouble(), b.GetProperty("split").GetString()));
        Assert.Equal("NaN", b.GetProperty("loss").GetString());
        Assert.Equal("Infinity", b.GetProperty("grad_norm").GetString());
        Assert.Equal(0.75, b.GetProperty("accuracy").GetDouble());

        var records = MetricsReader.Read(w.MetricsPath);
        Assert.Equal(2, records.Count);
        Assert.Equal(3e-5, records[0].Values["lr"]);
        Assert.True(double.IsNaN(records[1].Values["loss"]));
        Assert.Equal(double.PositiveInfinity, records[1].Values["grad_norm"]);
        Assert.Throws<ArgumentException>(() => w.Log(3, "train", M(("step", 1))));
    }

    [Fact]
    public void Resume_DropsEntriesAfterTheResumeStep_InMetricsAndEventFiles()
    {
        double now = 1000;
        using (var w = new MetricsWriter(dir.FullName, clock: () => now))
            for (int step = 1; step <= 10; step++)
            {
                w.Log(step, "train", M(("loss", 1.0 / step)));
                if (step % 5 == 0) w.Log(step, "eval", M(("loss", 2.0 / step)));
            }
        // A crash left half a line behind.
        File.AppendAllText(Path.Combine(dir.FullName, "metrics.jsonl"), "{\"step\": 11, \"ti");

        now = 2000;
        using (var w = new MetricsWriter(dir.FullName, resumeStep: 6, clock: () => now))
            for (int step = 7; step <= 8; step++) w.Log(step, "train", M(("loss", 10.0 + step)));

        var records = MetricsReader.Read(Path.Combine(dir.FullName, "metrics.jsonl"));
        Assert.Equal([1, 2, 3, 4, 5, 5, 6, 7, 8], records.Select(r => r.Step));
        Assert.Equal(["train", "train", "train", "train", "train", "eval", "train", "train", "train"], records.Select(r => r.Split));
        Assert.Equal(0.4, records[5].Values["loss"]);
        Assert.Equal(17.0, records[^2].Values["loss"]);
        Assert.Equal(9, File.ReadAllLines(Path.Combine(dir.FullName, "metrics.jsonl")).Length);

        var events = Directory.GetFiles(dir.FullName, "events.out.tfevents.*").Order().ToList();
        Assert.Equal(2, events.Count);
        Assert.Matches(@"/events\.out\.tfevents\.1000\.[A-Za-z0-9_-]+$", events[0]);
        Assert.Matches(@"/events\.out\.tfevents\.2000\.[A-Za-z0-9_-]+$", events[1]);
        var old = TensorBoardReader.ReadScalars(events[0]);
        Assert.Equal([1, 2, 3, 4, 5, 5, 6], old.Select(s => s.Step));
        Assert.Equal([7, 8], TensorBoardReader.ReadScalars(events[1]).Select(s => s.Step));
    }

    [Fact]
    public void FreshRun_ReplacesEarlierMetricsAndEventFiles()
    {
        using (var w = new MetricsWriter(dir.FullName, clock: () => 1000)) w.Log(1, "train", M(("loss", 1)));
        using (var w = new MetricsWriter(dir.FullName, clock: () => 3000)) w.Log(5, "train", M(("loss", 2)));
        Assert.Equal([5L], MetricsReader.Read(Path.Combine(dir.FullName, "metrics.jsonl")).Select(r => r.Step));
        Assert.Single(Directory.GetFiles(dir.FullName, "events.out.tfevents.*"));
    }

    [Fact]
    public void EventFile_DecodesToTheLoggedScalars_WithValidFraming()
    {
        double now = 1_700_000_123.5;
        string path;
        using (var w = new MetricsWriter(dir.FullName, clock: () => now))
        {
            path = w.EventsPath;
            w.Log(10, "train", M(("loss", 0.5), ("lr", 1e-4), ("tokens_per_s", 12345.678)));
            now += 2;
            w.Log(1L << 40, "eval", M(("loss", -0.25)));
        }
        var scalars = TensorBoardReader.ReadScalars(path);
        Assert.Equal(
            [
                new TensorBoardScalar(10, 1_700_000_123.5, "train/loss", 0.5f),
                new TensorBoardScalar(10, 1_700_000_123.5, "train/lr", 1e-4f),
                new TensorBoardScalar(10, 1_700_000_123.5, "train/tokens_per_s", 12345.678f),
                new TensorBoardScalar(1L << 40, 1_700_000_125.5, "eval/loss", -0.25f),
            ],
            scalars);

        // The framing, decoded here by hand: the first record is Event{wall_time, file_version="brain.Event:2"}.
        var bytes = File.ReadAllBytes(path);
        var length = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(MaskedCrc(bytes.AsSpan(0, 8)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(8)));
        var data = bytes.AsSpan(12, length);
        Assert.Equal(MaskedCrc(data), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(12 + length)));
        Assert.Equal(0x09, data[0]);                     // field 1, wire type 1 (double)
        Assert.Equal(1_700_000_123.5, BinaryPrimitives.ReadDoubleLittleEndian(data[1..9]));
        Assert.Equal(0x1A, data[9]);                     // field 3, wire type 2 (string)
        Assert.Equal(13, data[10]);
        Assert.Equal("brain.Event:2", Encoding.ASCII.GetString(data[11..]));
        Assert.Equal(24, length);
    }

    [Fact]
    public void Reader_RejectsACorruptedRecord()
    {
        string path;
        using (var w = new MetricsWriter(dir.FullName, clock: () => 5000))
        {
            path = w.EventsPath;
            w.Log(1, "train", M(("loss", 0.5)));
        }
        var bytes = File.ReadAllBytes(path);
        bytes[^6] ^= 0x01;   // a bit of the last value's float
        File.WriteAllBytes(path, bytes);
        var ex = Assert.Throws<InvalidDataException>(() => TensorBoardReader.ReadScalars(path));
        Assert.Contains("bad data CRC", ex.Message);
    }

    [Fact]
    public void NullRunLogger_IsNotMainAndWritesNothing()
    {
        IRunLogger logger = NullRunLogger.Instance;
        logger.Log(1, "train", M(("loss", 1)));
        logger.Dispose();
        Assert.False(logger.IsMain);
        Assert.Empty(dir.GetFileSystemInfos());
        using var main = new MetricsWriter(dir.FullName);
        Assert.True(main.IsMain);
    }

    /// <summary>TFRecord's mask, written out independently of the library: rotate right 15, add a constant.</summary>
    static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        uint crc = Crc32C.Compute(data);
        return unchecked(((crc >> 15) | (crc << 17)) + 0xA282EAD8u);
    }
}
