using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text.Json;
using System.Text.Unicode;

namespace Sharpen.Torch;

/// <summary>
/// An open safetensors file, memory-mapped read-only. <see cref="Open"/> parses and validates the whole
/// header up front (dtypes, shapes, offsets, full coverage of the data section), so every entry it hands
/// out is readable. Tensor data stays in the mapping until <see cref="SafetensorsEntry.ToTensor"/> copies it.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    readonly MemoryMappedFile map;
    readonly MemoryMappedViewAccessor view;
    readonly byte* data;   // start of the data section
    readonly Dictionary<string, SafetensorsEntry> entries;
    bool disposed;

    /// <summary>The path the file was opened from.</summary>
    public string Path { get; }

    /// <summary>The header's "__metadata__" map (empty when the file has none).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor names in the order their data lies in the file.</summary>
    public IReadOnlyList<string> Names { get; }

    SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long headerBytes, long dataBytes)
    {
        Path = path;
        this.map = map;
        this.view = view;
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        p += view.PointerOffset;
        data = p + 8 + headerBytes;
        try
        {
            var (metadata, infos) = ParseHeader(path, new ReadOnlySpan<byte>(p + 8, (int)headerBytes));
            Validate(path, infos, dataBytes);
            Metadata = metadata;
            Names = infos.Select(e => e.Name).ToArray();
            entries = infos.ToDictionary(e => e.Name, e => new SafetensorsEntry(this, e.Name, e.DTypeName, e.Shape, e.Begin, e.End - e.Begin));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>Maps the file at <paramref name="path"/> and validates its header; throws <see cref="SafetensorsException"/> if it is malformed.</summary>
    public static SafetensorsFile Open(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var length = stream.Length;
        if (length < 8) throw new SafetensorsException(path, $"the file is {length} bytes long, shorter than the 8-byte header length");
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        var n = BinaryPrimitives.ReadUInt64LittleEndian(prefix);   // header length N
        if (n > (ulong)(length - 8))
            throw new SafetensorsException(path, $"the header length says {n} bytes but only {length - 8} bytes follow it (truncated or corrupt file)");
        if (n > Safetensors.MaxHeaderBytes)
            throw new SafetensorsException(path, $"the header length {n} bytes exceeds the limit of {Safetensors.MaxHeaderBytes}");
        var map = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: true);
        MemoryMappedViewAccessor view;
        try
        {
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        }
        catch
        {
            map.Dispose();
            throw;
        }
        return new SafetensorsFile(path, map, view, (long)n, length - 8 - (long)n);
    }

    /// <summary>True when the file has a tensor called <paramref name="name"/>.</summary>
    public bool Contains(string name) => entries.ContainsKey(name);

    /// <summary>The tensor called <paramref name="name"/>; throws <see cref="KeyNotFoundException"/> naming the file if there is none.</summary>
    public SafetensorsEntry this[string name] =>
        entries.TryGetValue(name, out var e) ? e : throw new KeyNotFoundException($"no tensor '{name}' in '{Path}' ({entries.Count} tensors)");

    /// <summary>Copies every tensor into a new CPU tensor. Throws <see cref="NotSupportedException"/> if a dtype has no libtorch counterpart.</summary>
    public Dictionary<string, Tensor> LoadAll()
    {
        var result = new Dictionary<string, Tensor>(Names.Count);
        try
        {
            foreach (var name in Names) result[name] = entries[name].ToTensor();
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>Address of byte <paramref name="offset"/> of the data section; throws once the file is disposed.</summary>
    internal byte* Data(long offset) =>
        !disposed ? data + offset : throw new ObjectDisposedException(nameof(SafetensorsFile), $"'{Path}' was closed; its tensors' bytes are no longer mapped");

    /// <summary>Unmaps the file. Entries' <see cref="SafetensorsEntry.Bytes"/> are invalid afterwards; tensors already made stay valid.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        view.SafeMemoryMappedViewHandle.ReleasePointer();
        view.Dispose();
        map.Dispose();
    }

    // ---- header ---------------------------------------------------------------------------

    record Info(string Name, string DTypeName, long[] Shape, long Begin, long End);

    static (Dictionary<string, string> Metadata, List<Info> Tensors) ParseHeader(string path, ReadOnlySpan<byte> header)
    {
        SafetensorsException Bad(string problem, string? tensor = null) => new(path, problem, tensor);
        if (header.Length == 0 || header[0] != (byte)'{') throw Bad("the header does not start with '{'");
        if (!Utf8.IsValid(header)) throw Bad("the header is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header.ToArray());
        }
        catch (JsonException e)
        {
            throw Bad($"the header is not valid JSON ({e.Message})");
        }
        using (doc)
        {
            var metadata = new Dictionary<string, string>();
            var tensors = new List<Info>();
            foreach (var p in Properties(doc.RootElement, "the header", null, Bad))
            {
                if (p.Name != Safetensors.MetadataKey)
                {
                    tensors.Add(ParseEntry(p.Name, p.Value, Bad));
                    continue;
                }
                if (p.Value.ValueKind != JsonValueKind.Object) throw Bad($"\"{Safetensors.MetadataKey}\" must be an object of strings");
                foreach (var m in Properties(p.Value, $"\"{Safetensors.MetadataKey}\"", null, Bad))
                    metadata[m.Name] = m.Value.ValueKind == JsonValueKind.String
                        ? m.Value.GetString()!
                        : throw Bad($"metadata value '{m.Name}' is {m.Value.ValueKind}, but metadata values must be strings");
            }
            return (metadata, tensors);
        }
    }

    // The properties of a JSON object, rejecting a name given twice (the format forbids duplicate keys).
    // A tensor listed twice is named as the tensor at fault; a field given twice, with the tensor it belongs to.
    static IEnumerable<JsonProperty> Properties(JsonElement obj, string where, string? tensor, Func<string, string?, SafetensorsException> bad)
    {
        var seen = new HashSet<string>();
        foreach (var p in obj.EnumerateObject())
            yield return seen.Add(p.Name) ? p
                : where == "the header" && p.Name != Safetensors.MetadataKey ? throw bad("the header lists this tensor twice", p.Name)
                : throw bad($"{where} names '{p.Name}' twice", tensor);
    }

    static Info ParseEntry(string name, JsonElement e, Func<string, string?, SafetensorsException> bad)
    {
        if (e.ValueKind != JsonValueKind.Object) throw bad($"its entry is {e.ValueKind}, not an object", name);
        string? dtype = null;
        long[]? shape = null, offsets = null;
        foreach (var f in Properties(e, "its entry", name, bad))
            switch (f.Name)
            {
                case "dtype": dtype = f.Value.ValueKind == JsonValueKind.String ? f.Value.GetString() : throw bad("\"dtype\" is not a string", name); break;
                case "shape": shape = Integers(f.Value, name, "shape", bad); break;
                case "data_offsets": offsets = Integers(f.Value, name, "data_offsets", bad); break;
            }
        if (dtype is null) throw bad("has no \"dtype\"", name);
        if (shape is null) throw bad("has no \"shape\"", name);
        if (offsets is null) throw bad("has no \"data_offsets\"", name);
        if (!Safetensors.Formats.ContainsKey(dtype))
            throw bad($"unknown dtype '{dtype}' (known: {string.Join(", ", Safetensors.Formats.Keys)})", name);
        if (offsets.Length != 2) throw bad($"\"data_offsets\" must be [begin, end], not {offsets.Length} numbers", name);
        return new Info(name, dtype, shape, offsets[0], offsets[1]);
    }

    static long[] Integers(JsonElement a, string name, string field, Func<string, string?, SafetensorsException> bad)
    {
        if (a.ValueKind != JsonValueKind.Array) throw bad($"\"{field}\" is not an array", name);
        var r = new long[a.GetArrayLength()];
        var i = 0;
        foreach (var x in a.EnumerateArray())
            r[i++] = x.ValueKind == JsonValueKind.Number && x.TryGetInt64(out var v) && v >= 0
                ? v
                : throw bad($"\"{field}\" must hold non-negative integers, found {x.GetRawText()}", name);
        return r;
    }

    // Sorts infos by offset, checks each tensor's byte range against its shape and dtype and the data section,
    // then that the ranges tile the data section exactly: no overlap, no hole, nothing after the last tensor.
    static void Validate(string path, List<Info> infos, long dataBytes)
    {
        infos.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        foreach (var e in infos)
        {
            var range = $"data_offsets [{e.Begin}, {e.End}]";
            if (e.End < e.Begin) throw new SafetensorsException(path, $"{range} ends before it begins", e.Name);
            long bits;
            try
            {
                bits = e.Shape.Aggregate((long)Safetensors.Formats[e.DTypeName].Bits, (acc, d) => checked(acc * d));
            }
            catch (OverflowException)
            {
                throw new SafetensorsException(path, $"shape [{string.Join(", ", e.Shape)}] is too large", e.Name);
            }
            var what = $"shape [{string.Join(", ", e.Shape)}] of {e.DTypeName}";
            if (bits % 8 != 0) throw new SafetensorsException(path, $"{what} is not a whole number of bytes", e.Name);
            if (e.End - e.Begin != bits / 8)
                throw new SafetensorsException(path, $"{range} span {e.End - e.Begin} bytes but {what} needs {bits / 8}", e.Name);
            if (e.End > dataBytes)
                throw new SafetensorsException(path, $"{range} reach past the data section, which holds {dataBytes} bytes (truncated file or wrong offsets)", e.Name);
        }
        Info? previous = null;
        foreach (var e in infos)
        {
            var covered = previous?.End ?? 0;
            if (e.Begin < covered)
                throw new SafetensorsException(path, $"data_offsets [{e.Begin}, {e.End}] overlap those of tensor '{previous!.Name}' [{previous.Begin}, {previous.End}]", e.Name);
            if (e.Begin > covered)
                throw new SafetensorsException(path, $"bytes [{covered}, {e.Begin}) of the data section belong to no tensor");
            previous = e;
        }
        var end = previous?.End ?? 0;
        if (end != dataBytes)
            throw new SafetensorsException(path, $"the data section holds {dataBytes} bytes but the tensors cover only {end}; the last {dataBytes - end} belong to no tensor");
    }
}

/// <summary>One tensor of an open <see cref="SafetensorsFile"/>: its header entry and a view of its bytes.</summary>
public sealed unsafe class SafetensorsEntry
{
    readonly SafetensorsFile file;
    readonly long begin;
    readonly long[] shape;

    internal SafetensorsEntry(SafetensorsFile file, string name, string dtypeName, long[] shape, long begin, long byteLength)
    {
        this.file = file;
        Name = name;
        DTypeName = dtypeName;
        this.shape = shape;
        this.begin = begin;
        ByteLength = byteLength;
    }

    /// <summary>The tensor's name in the file.</summary>
    public string Name { get; }

    /// <summary>The format's dtype string: "F32", "BF16", "U16", "F8_E4M3", …</summary>
    public string DTypeName { get; }

    /// <summary>The Sharpen dtype that holds this tensor, or null when libtorch here has none (U16, U32, U64, C64, 8/6/4-bit floats).</summary>
    public DType? DType => Safetensors.Formats[DTypeName].DType;

    /// <summary>Sizes of every dimension (a copy; empty for a 0-dimensional tensor).</summary>
    public long[] Shape => (long[])shape.Clone();

    /// <summary>Size of the tensor's data, in bytes.</summary>
    public long ByteLength { get; }

    /// <summary>
    /// The tensor's raw little-endian row-major bytes, straight from the mapped file (readable for every dtype of
    /// the format); valid while the file is open. Throws <see cref="NotSupportedException"/> above 2 GiB, where a span cannot reach: use <see cref="ToTensor"/>.
    /// </summary>
    public ReadOnlySpan<byte> Bytes =>
        ByteLength <= int.MaxValue
            ? new ReadOnlySpan<byte>(file.Data(begin), (int)ByteLength)
            : throw new NotSupportedException($"tensor '{Name}' in '{file.Path}' is {ByteLength} bytes, more than a span can address; use ToTensor");

    /// <summary>Copies the data into a new CPU tensor. Throws <see cref="NotSupportedException"/> when <see cref="DType"/> is null (no silent widening).</summary>
    public Tensor ToTensor()
    {
        var dtype = DType ?? throw new NotSupportedException(
            $"tensor '{Name}' in '{file.Path}' has dtype {DTypeName}, which libtorch 1.13 has no tensor type for; read its raw bytes through Bytes");
        var src = file.Data(begin);
        fixed (long* s = shape)
            return new Tensor(Native.sh_tensor_from_data(src, ByteLength, s, shape.Length, (int)dtype));
    }

    public override string ToString() => $"{Name}: {DTypeName} [{string.Join(", ", shape)}]";
}
