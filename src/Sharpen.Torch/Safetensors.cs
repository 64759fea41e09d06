using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Sharpen.Torch;

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors): an 8-byte
/// little-endian header length N, N bytes of UTF-8 JSON giving each tensor's dtype, shape and
/// [begin, end) byte range within the data section that follows (plus an optional string-to-string
/// "__metadata__" map), then the data itself, little-endian and row-major. See <see cref="SafetensorsFile"/> to read.
/// </summary>
public static class Safetensors
{
    /// <summary>Largest header accepted when reading, in bytes (the reference implementation's limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    internal const string MetadataKey = "__metadata__";

    /// <summary>Every dtype of the format: bits per element, and the Sharpen dtype that holds it (null: none in libtorch 1.13).</summary>
    internal static readonly IReadOnlyDictionary<string, (int Bits, DType? DType)> Formats = new Dictionary<string, (int, DType?)>
    {
        ["BOOL"] = (8, DType.Bool), ["U8"] = (8, DType.UInt8), ["I8"] = (8, DType.Int8),
        ["I16"] = (16, DType.Int16), ["I32"] = (32, DType.Int32), ["I64"] = (64, DType.Int64),
        ["F16"] = (16, DType.Float16), ["BF16"] = (16, DType.BFloat16), ["F32"] = (32, DType.Float32), ["F64"] = (64, DType.Float64),
        ["U16"] = (16, null), ["U32"] = (32, null), ["U64"] = (64, null), ["C64"] = (64, null),
        ["F8_E4M3"] = (8, null), ["F8_E5M2"] = (8, null), ["F8_E8M0"] = (8, null), ["F8_E4M3FNUZ"] = (8, null), ["F8_E5M2FNUZ"] = (8, null),
        ["F6_E2M3"] = (6, null), ["F6_E3M2"] = (6, null), ["F4"] = (4, null),
    };

    static readonly Dictionary<DType, string> NameOf =
        Formats.Where(f => f.Value.DType is not null).ToDictionary(f => f.Value.DType!.Value, f => f.Key);

    /// <summary>
    /// Writes <paramref name="tensors"/> (from any device) to <paramref name="path"/>: tensors sorted by name,
    /// their data contiguous in that order, the header padded with spaces to a multiple of 8 bytes. The file is
    /// written to <c>path + ".tmp"</c> and renamed, so <paramref name="path"/> never holds a partial file.
    /// Hugging Face transformers expects <paramref name="metadata"/> to contain <c>{"format": "pt"}</c>.
    /// </summary>
    public static unsafe void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var names = tensors.Keys.Order(StringComparer.Ordinal).ToArray();
        var sizes = new long[names.Length];
        var header = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(header, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            if (metadata is not null)
            {
                json.WriteStartObject(MetadataKey);
                foreach (var key in metadata.Keys.Order(StringComparer.Ordinal)) json.WriteString(key, metadata[key]);
                json.WriteEndObject();
            }
            long offset = 0;
            for (var i = 0; i < names.Length; i++)
            {
                if (names[i] == MetadataKey) throw new ArgumentException($"'{MetadataKey}' is reserved for metadata and cannot name a tensor", nameof(tensors));
                var t = tensors[names[i]];
                sizes[i] = t.Numel * t.DType.ElementSize();
                json.WriteStartObject(names[i]);
                json.WriteString("dtype", NameOf[t.DType]);
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset += sizes[i]);
                json.WriteEndArray();
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        var padded = (header.WrittenCount + 7) / 8 * 8;

        var tmp = path + ".tmp";
        try
        {
            using (var file = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Span<byte> prefix = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)padded);
                file.Write(prefix);
                file.Write(header.WrittenSpan);
                for (var i = header.WrittenCount; i < padded; i++) file.WriteByte((byte)' ');
                for (var i = 0; i < names.Length; i++) WriteData(file, tensors[names[i]], sizes[i]);
                file.Flush(flushToDisk: true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        catch
        {
            File.Delete(tmp);
            throw;
        }
    }

    // Copies the tensor to host memory (a native buffer, so tensors over 2 GiB work too) and writes it.
    static unsafe void WriteData(FileStream file, Tensor t, long nbytes)
    {
        if (nbytes == 0) return;
        var p = (byte*)NativeMemory.Alloc((nuint)nbytes);
        try
        {
            Native.Check(Native.sh_tensor_copy_to_host(t.Handle, p, nbytes));
            const int chunk = 1 << 30;
            for (long at = 0; at < nbytes; at += chunk)
                file.Write(new ReadOnlySpan<byte>(p + at, (int)Math.Min(chunk, nbytes - at)));
        }
        finally
        {
            NativeMemory.Free(p);
        }
    }

    /// <summary>Reads every tensor of the file at <paramref name="path"/> into new CPU tensors (see <see cref="SafetensorsFile.LoadAll"/>).</summary>
    public static Dictionary<string, Tensor> Load(string path)
    {
        using var file = SafetensorsFile.Open(path);
        return file.LoadAll();
    }
}

/// <summary>
/// A malformed safetensors file. The message reads <c>file: tensor 'name': what is wrong</c> (without the tensor when
/// the fault is in the file as a whole).
/// </summary>
public sealed class SafetensorsException : InputException
{
    /// <summary>Creates the error for <paramref name="path"/> with the <paramref name="problem"/> found in it, in <paramref name="tensor"/> when there is one.</summary>
    public SafetensorsException(string path, string problem, string? tensor = null)
        : base(path, 0, tensor is null ? null : $"tensor '{tensor}'", problem) => Tensor = tensor;

    /// <summary>The file that is malformed.</summary>
    public string FilePath => File!;

    /// <summary>The tensor whose entry or data is at fault, or null.</summary>
    public string? Tensor { get; }
}
