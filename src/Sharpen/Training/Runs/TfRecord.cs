using System.Buffers.Binary;

namespace Sharpen.Training;

/// <summary>
/// TFRecord framing, the container of TensorBoard event files. Each record is
/// <c>uint64 length | uint32 masked_crc32c(length) | data[length] | uint32 masked_crc32c(data)</c>, little-endian.
/// </summary>
static class TfRecord
{
    /// <summary>Appends one framed record holding <paramref name="data"/>.</summary>
    public static void Write(Stream stream, ReadOnlySpan<byte> data)
    {
        Span<byte> header = stackalloc byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(header, (ulong)data.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], Crc32C.Masked(header[..8]));
        Span<byte> footer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(footer, Crc32C.Masked(data));
        stream.Write(header);
        stream.Write(data);
        stream.Write(footer);
    }

    /// <summary>Reads every record of the file at <paramref name="path"/>, checking both CRCs of each.</summary>
    /// <param name="path">A TFRecord file.</param>
    /// <param name="allowTruncatedTail">Stop quietly at an incomplete last record (a writer that was killed
    /// mid-record) instead of failing.</param>
    /// <exception cref="InvalidDataException">A CRC does not match, or the file ends inside a record.</exception>
    public static List<byte[]> ReadAll(string path, bool allowTruncatedTail = false)
    {
        var bytes = File.ReadAllBytes(path);
        var records = new List<byte[]>();
        int pos = 0;
        while (pos < bytes.Length)
        {
            if (bytes.Length - pos < 12) return Truncated(records, path, pos, allowTruncatedTail);
            var header = bytes.AsSpan(pos, 12);
            if (BinaryPrimitives.ReadUInt32LittleEndian(header[8..]) != Crc32C.Masked(header[..8]))
                throw new InvalidDataException($"{path}: bad length CRC in the record at byte {pos}");
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(header);
            if (length > (ulong)(bytes.Length - pos - 16)) return Truncated(records, path, pos, allowTruncatedTail);
            var data = bytes.AsSpan(pos + 12, (int)length);
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(pos + 12 + (int)length, 4)) != Crc32C.Masked(data))
                throw new InvalidDataException($"{path}: bad data CRC in the record at byte {pos}");
            records.Add(data.ToArray());
            pos += 16 + (int)length;
        }
        return records;
    }

    static List<byte[]> Truncated(List<byte[]> records, string path, int pos, bool allow) =>
        allow ? records : throw new InvalidDataException($"{path}: file ends inside the record at byte {pos}");
}
