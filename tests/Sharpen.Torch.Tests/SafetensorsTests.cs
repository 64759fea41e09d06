using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Sharpen.Torch;

namespace Sharpen.Torch.Tests;

public sealed class SafetensorsTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("sharpen-safetensors-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string PathOf(string name) => Path.Combine(dir, name);

    // A file laid out by hand from the specification: u64 header length, header JSON padded with spaces, data.
    string WriteRaw(string name, string header, byte[] data, bool pad = true)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var n = pad ? (json.Length + 7) / 8 * 8 : json.Length;
        var bytes = new byte[8 + n + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)n);
        json.CopyTo(bytes, 8);
        bytes.AsSpan(8 + json.Length, n - json.Length).Fill((byte)' ');
        data.CopyTo(bytes, 8 + n);
        var path = PathOf(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static readonly (DType DType, int Size)[] LibtorchDTypes =
    [
        (DType.Bool, 1), (DType.UInt8, 1), (DType.Int8, 1), (DType.Int16, 2), (DType.Int32, 4), (DType.Int64, 8),
        (DType.Float16, 2), (DType.BFloat16, 2), (DType.Float32, 4), (DType.Float64, 8),
    ];

    // Random bit patterns (NaNs and infinities included), or 0/1 for bool.
    static byte[] Pattern(DType dtype, long count, Random rng)
    {
        var b = new byte[count];
        rng.NextBytes(b);
        if (dtype == DType.Bool) for (var i = 0; i < b.Length; i++) b[i] &= 1;
        return b;
    }

    [Fact]
    public void SaveThenLoadKeepsEveryLibtorchDTypeBitExactWithShapesAndMetadata()
    {
        using var scope = new TensorScope();
        var rng = new Random(7);
        var expected = new Dictionary<string, (byte[] Bytes, long[] Shape, DType DType)>();
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (dtype, size) in LibtorchDTypes)
            foreach (var shape in new long[][] { [2, 3], [], [0, 4] })
            {
                var name = $"{dtype}.{shape.Length}d{(shape.Contains(0) ? ".empty" : "")}";
                var bytes = Pattern(dtype, shape.Aggregate(1L, (a, d) => a * d) * size, rng);
                expected[name] = (bytes, shape, dtype);
                tensors[name] = Tensor.FromBytes(bytes, dtype, shape);
            }
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["step"] = "42", ["note"] = "ünïcode \"quoted\" + <tags>" };
        var path = PathOf("all.safetensors");

        Safetensors.Save(path, tensors, metadata);
        var loaded = Safetensors.Load(path);
        using var file = SafetensorsFile.Open(path);

        Assert.Equal(30, loaded.Count);
        Assert.Equal(metadata, file.Metadata);
        foreach (var (name, (bytes, shape, dtype)) in expected)
        {
            Assert.Equal(dtype, loaded[name].DType);
            Assert.Equal(shape, loaded[name].Shape);
            Assert.Equal(bytes, loaded[name].ToBytes());
            Assert.Equal(bytes, file[name].Bytes.ToArray());
            Assert.Equal(bytes.Length, file[name].ByteLength);
        }
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void SaveWritesNameSortedContiguousDataAfterASpacePaddedHeader()
    {
        using var scope = new TensorScope();
        var path = PathOf("layout.safetensors");
        Safetensors.Save(path, new Dictionary<string, Tensor>
        {
            ["b"] = Tensor.From(new long[] { 1, -2 }),
            ["a"] = Tensor.From(new float[] { 0.5f, 1, 2 }),
            ["c"] = Tensor.Scalar(3, DType.Float64),
        });

        // Read the bytes with the specification in hand, not with SafetensorsFile.
        var raw = File.ReadAllBytes(path);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(raw);
        Assert.Equal(0, n % 8);
        var header = Encoding.UTF8.GetString(raw, 8, n);
        var json = header.TrimEnd(' ');
        Assert.StartsWith("{", json);
        Assert.EndsWith("}", json);
        Assert.InRange(n - json.Length, 0, 7);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(["a", "b", "c"], doc.RootElement.EnumerateObject().Select(p => p.Name));
        var offsets = doc.RootElement.EnumerateObject().Select(p => p.Value.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).ToArray()).ToArray();
        Assert.Equal(new long[][] { [0, 12], [12, 28], [28, 36] }, offsets);
        Assert.Equal("F32", doc.RootElement.GetProperty("a").GetProperty("dtype").GetString());
        Assert.Equal(0, doc.RootElement.GetProperty("c").GetProperty("shape").GetArrayLength());
        Assert.Equal(8 + n + 36, raw.Length);
        var data = raw.AsSpan(8 + n);
        Assert.Equal(0.5f, BinaryPrimitives.ReadSingleLittleEndian(data));
        Assert.Equal(2f, BinaryPrimitives.ReadSingleLittleEndian(data[8..]));
        Assert.Equal(-2L, BinaryPrimitives.ReadInt64LittleEndian(data[20..]));
        Assert.Equal(3.0, BinaryPrimitives.ReadDoubleLittleEndian(data[28..]));
        Assert.False(doc.RootElement.TryGetProperty("__metadata__", out _));
    }

    // F32 [2,2], I64 [3], BF16 [2], U16 [2], F8_E4M3 [3], F4 [4] (two 4-bit values per byte), listed out of offset order.
    const string HandHeader =
        """{"ids":{"dtype":"I64","shape":[3],"data_offsets":[16,40]},"__metadata__":{"format":"pt","source":"by hand"}""" +
        ""","w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"h":{"dtype":"BF16","shape":[2],"data_offsets":[40,44]}""" +
        ""","u":{"dtype":"U16","shape":[2],"data_offsets":[44,48]},"f8":{"dtype":"F8_E4M3","shape":[3],"data_offsets":[48,51]}""" +
        ""","f4":{"dtype":"F4","shape":[4],"data_offsets":[51,53]}}""";

    static byte[] HandData()
    {
        var d = new byte[53];
        float[] w = [1.5f, -2f, 0.25f, 1e10f];
        for (var i = 0; i < 4; i++) BinaryPrimitives.WriteSingleLittleEndian(d.AsSpan(4 * i), w[i]);
        long[] ids = [-1, 1L << 40, 7];
        for (var i = 0; i < 3; i++) BinaryPrimitives.WriteInt64LittleEndian(d.AsSpan(16 + 8 * i), ids[i]);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(40), 0x3F80);   // bf16 1.0
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(42), 0xC020);   // bf16 -2.5
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(44), 65535);
        BinaryPrimitives.WriteUInt16LittleEndian(d.AsSpan(46), 258);
        d[48] = 0x38; d[49] = 0xB8; d[50] = 0x7E;                           // e4m3 1.0, -1.0, 448
        d[51] = 0x21; d[52] = 0x43;
        return d;
    }

    [Fact]
    public void ReadsAFileWrittenByHandFromTheSpecification()
    {
        using var scope = new TensorScope();
        var path = WriteRaw("hand.safetensors", HandHeader, HandData());
        using var file = SafetensorsFile.Open(path);

        Assert.Equal(["w", "ids", "h", "u", "f8", "f4"], file.Names);
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt", ["source"] = "by hand" }, file.Metadata);
        Assert.Equal([2L, 2], file["w"].Shape);
        Assert.Equal([1.5f, -2f, 0.25f, 1e10f], file["w"].ToTensor().ToArray<float>());
        Assert.Equal([2L, 2], file["w"].ToTensor().Shape);
        Assert.Equal([-1L, 1L << 40, 7], file["ids"].ToTensor().ToArray<long>());
        var h = file["h"].ToTensor();
        Assert.Equal(DType.BFloat16, h.DType);
        Assert.Equal([1f, -2.5f], h.To(DType.Float32).ToArray<float>());

        var u = file["u"];
        Assert.Equal("U16", u.DTypeName);
        Assert.Null(u.DType);
        Assert.Equal(4, u.ByteLength);
        Assert.Equal(65535, BinaryPrimitives.ReadUInt16LittleEndian(u.Bytes));
        Assert.Equal(258, BinaryPrimitives.ReadUInt16LittleEndian(u.Bytes[2..]));
        var e = Assert.Throws<NotSupportedException>(() => u.ToTensor());
        Assert.Contains("'u'", e.Message);
        Assert.Contains("U16", e.Message);
        Assert.Equal(new byte[] { 0x38, 0xB8, 0x7E }, file["f8"].Bytes.ToArray());
        Assert.Equal(2, file["f4"].ByteLength);
        Assert.Throws<NotSupportedException>(() => file.LoadAll());
        Assert.True(file.Contains("f4"));
        Assert.False(file.Contains("missing"));
        Assert.Contains("'missing'", Assert.Throws<KeyNotFoundException>(() => file["missing"]).Message);
    }

    [Fact]
    public void BytesAreUnreadableOnceTheFileIsClosedButLoadedTensorsStayValid()
    {
        using var scope = new TensorScope();
        var path = WriteRaw("closed.safetensors", HandHeader, HandData());
        var file = SafetensorsFile.Open(path);
        var entry = file["ids"];
        var ids = entry.ToTensor();
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => entry.Bytes.Length);
        Assert.Equal([-1L, 1L << 40, 7], ids.ToArray<long>());
    }

    // Each malformed header gives "<file>: [tensor '<name>': ]<problem>", the tensor named whenever one is at fault.
    [Theory]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}""", 8, null, "the header is not valid JSON (")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} x""", 8, null, "the header is not valid JSON (")]
    [InlineData(""" {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, null, "the header does not start with '{'")]
    [InlineData("""{"a":{"dtype":"F128","shape":[2],"data_offsets":[0,8]}}""", 8, "a", "unknown dtype 'F128' (known: BOOL, U8,")]
    [InlineData("""{"a":{"shape":[2],"data_offsets":[0,8]}}""", 8, "a", "has no \"dtype\"")]
    [InlineData("""{"a":{"dtype":"F32","data_offsets":[0,8]}}""", 8, "a", "has no \"shape\"")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2]}}""", 8, "a", "has no \"data_offsets\"")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}}""", 8, "a", "\"data_offsets\" must be [begin, end], not 1 numbers")]
    [InlineData("""{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}""", 8, "a", "\"shape\" must hold non-negative integers, found -2")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}}""", 8, "a", "\"shape\" must hold non-negative integers, found 2.5")]
    [InlineData("""{"a":[1,2]}""", 8, "a", "its entry is Array, not an object")]
    [InlineData("""{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, "a", "its entry names 'dtype' twice")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", 8, "a", "data_offsets [0, 8] span 8 bytes but shape [3] of F32 needs 12")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}""", 8, "a", "data_offsets [8, 0] ends before it begins")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12,
        "b", "data_offsets [4, 12] overlap those of tensor 'a' [0, 8]")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}""", 12, null, "bytes [0, 4) of the data section belong to no tensor")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 12, null, "the data section holds 12 bytes but the tensors cover only 8; the last 4 belong to no tensor")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 5, "a",
        "data_offsets [0, 8] reach past the data section, which holds 5 bytes (truncated file or wrong offsets)")]
    [InlineData("""{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}}""", 1, "a", "shape [3] of F4 is not a whole number of bytes")]
    [InlineData("""{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,1]}}""", 1, "a", "shape [4294967296, 4294967296] is too large")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}""", 8, "a", "the header lists this tensor twice")]
    [InlineData("""{"__metadata__":{"step":3}}""", 0, null, "metadata value 'step' is Number, but metadata values must be strings")]
    [InlineData("""{"__metadata__":["x"]}""", 0, null, "\"__metadata__\" must be an object of strings")]
    public void MalformedHeaderIsRejectedWithAMessageNamingFileTensorAndProblem(string header, int dataBytes, string? tensor, string problem)
    {
        var path = WriteRaw("bad.safetensors", header, new byte[dataBytes]);
        var e = Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(path));
        Assert.StartsWith($"{path}: {(tensor is null ? "" : $"tensor '{tensor}': ")}{problem}", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.Equal((path, tensor), (e.FilePath, e.Tensor));
        Assert.IsAssignableFrom<InputException>(e);   // what the CLI prints as one line, exit 1
    }

    [Fact]
    public void UnpaddedHeaderAndEmptyFileAreValid()
    {
        using var file = SafetensorsFile.Open(WriteRaw("empty.safetensors", "{}", [], pad: false));
        Assert.Empty(file.Names);
        Assert.Empty(file.Metadata);
    }

    [Fact]
    public void InvalidUtf8HeaderIsRejected()
    {
        var path = WriteRaw("utf8.safetensors", "{\"a\":1}", []);
        var bytes = File.ReadAllBytes(path);
        bytes[10] = 0xFF;
        File.WriteAllBytes(path, bytes);
        Assert.Contains("not valid UTF-8", Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(path)).Message);
    }

    [Fact]
    public void TruncationAtAnyPointIsRejectedWithTheCause()
    {
        var good = File.ReadAllBytes(WriteRaw("good.safetensors", HandHeader, HandData()));
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(good);
        var path = PathOf("cut.safetensors");
        string MessageAt(int length)
        {
            File.WriteAllBytes(path, good[..length]);
            return Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(path)).Message;
        }

        Assert.Equal($"{path}: the file is 0 bytes long, shorter than the 8-byte header length", MessageAt(0));
        Assert.Contains("7 bytes long, shorter than the 8-byte header length", MessageAt(7));
        Assert.Contains($"the header length says {n} bytes but only {n / 2} bytes follow it", MessageAt(8 + n / 2));
        Assert.Contains("tensor 'w': data_offsets [0, 16] reach past the data section, which holds 0 bytes", MessageAt(8 + n));
        Assert.Contains("tensor 'ids': data_offsets [16, 40] reach past the data section, which holds 20 bytes", MessageAt(8 + n + 20));
        Assert.Contains("tensor 'f4': data_offsets [51, 53] reach past the data section, which holds 52 bytes", MessageAt(good.Length - 1));
        for (var length = 0; length < good.Length; length++) MessageAt(length);   // every cut, not just those above
    }

    [Fact]
    public void CorruptHeaderLengthIsRejected()
    {
        var good = File.ReadAllBytes(WriteRaw("good.safetensors", HandHeader, HandData()));
        var n = BinaryPrimitives.ReadUInt64LittleEndian(good);
        var path = PathOf("len.safetensors");
        string MessageWith(ulong length)
        {
            var bytes = (byte[])good.Clone();
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, length);
            File.WriteAllBytes(path, bytes);
            return Assert.Throws<SafetensorsException>(() => SafetensorsFile.Open(path)).Message;
        }

        Assert.Equal($"{path}: the header length says {ulong.MaxValue} bytes but only {good.Length - 8} bytes follow it (truncated or corrupt file)",
            MessageWith(ulong.MaxValue));
        Assert.Contains("does not start with '{'", MessageWith(0));
        Assert.Contains("not valid JSON", MessageWith(n - 9));   // cuts the closing brace off
        Assert.Contains("not valid JSON", MessageWith(n + 1));   // a zero data byte joins the header
    }

    [Fact]
    public void EveryCorruptedHeaderByteGivesAValidFileOrASafetensorsException()
    {
        using var scope = new TensorScope();
        var good = File.ReadAllBytes(WriteRaw("good.safetensors", HandHeader, HandData()));
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(good);
        var path = PathOf("flip.safetensors");
        int rejected = 0, opened = 0;
        for (var i = 8; i < 8 + n; i++)
            foreach (var b in "\0\"9]{,-x "u8.ToArray())
            {
                var bytes = (byte[])good.Clone();
                bytes[i] = b;
                File.WriteAllBytes(path, bytes);
                try
                {
                    using var file = SafetensorsFile.Open(path);
                    foreach (var name in file.Names) _ = file[name].Bytes.Length;
                    opened++;
                }
                catch (SafetensorsException)
                {
                    rejected++;
                }
            }
        Assert.Equal(9 * n, rejected + opened);
        Assert.True(rejected > 5 * n, $"only {rejected} of {9 * n} corruptions were rejected");
    }

    [Fact]
    public void SaveReplacesAnExistingFileAndAFailedSaveLeavesItIntact()
    {
        using var scope = new TensorScope();
        var path = PathOf("atomic.safetensors");
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["x"] = Tensor.From(new float[] { 1, 2 }) });
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["y"] = Tensor.From(new float[] { 3 }) });
        var before = File.ReadAllBytes(path);

        var disposed = Tensor.From(new float[] { 4 });
        disposed.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Safetensors.Save(path, new Dictionary<string, Tensor> { ["z"] = disposed }));
        Assert.Throws<ArgumentException>(() => Safetensors.Save(path, new Dictionary<string, Tensor> { ["__metadata__"] = Tensor.From(new float[] { 5 }) }));

        Assert.Equal(before, File.ReadAllBytes(path));
        Assert.False(File.Exists(path + ".tmp"));
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(["y"], file.Names);
        Assert.Equal([3f], file["y"].ToTensor().ToArray<float>());
    }
}
