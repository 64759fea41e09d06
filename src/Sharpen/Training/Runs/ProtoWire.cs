using System.Buffers.Binary;
using System.Text;

namespace Sharpen.Training;

/// <summary>
/// The few pieces of the protobuf wire format that TensorBoard's <c>Event</c> message needs: varints,
/// fixed 32/64-bit fields and length-delimited fields, and skipping fields a reader does not know.
/// </summary>
static class ProtoWire
{
    /// <summary>Wire type 0: varint.</summary>
    public const int Varint = 0;
    /// <summary>Wire type 1: 8 bytes little-endian.</summary>
    public const int Fixed64 = 1;
    /// <summary>Wire type 2: varint length then bytes.</summary>
    public const int LengthDelimited = 2;
    /// <summary>Wire type 5: 4 bytes little-endian.</summary>
    public const int Fixed32 = 5;

    /// <summary>Writes a field key: <c>(field &lt;&lt; 3) | wireType</c> as a varint.</summary>
    public static void Key(Stream s, int field, int wireType) => WriteVarint(s, (ulong)((field << 3) | wireType));

    /// <summary>Writes an unsigned LEB128 varint (int64 fields are written as their two's-complement ulong).</summary>
    public static void WriteVarint(Stream s, ulong v)
    {
        while (v >= 0x80)
        {
            s.WriteByte((byte)(v | 0x80));
            v >>= 7;
        }
        s.WriteByte((byte)v);
    }

    /// <summary>Writes field <paramref name="field"/> as a double (wire type 1).</summary>
    public static void Double(Stream s, int field, double v)
    {
        Key(s, field, Fixed64);
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(b, v);
        s.Write(b);
    }

    /// <summary>Writes field <paramref name="field"/> as a float (wire type 5).</summary>
    public static void Float(Stream s, int field, float v)
    {
        Key(s, field, Fixed32);
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteSingleLittleEndian(b, v);
        s.Write(b);
    }

    /// <summary>Writes field <paramref name="field"/> as an int64 (wire type 0).</summary>
    public static void Int64(Stream s, int field, long v)
    {
        Key(s, field, Varint);
        WriteVarint(s, (ulong)v);
    }

    /// <summary>Writes field <paramref name="field"/> as length-delimited bytes (strings, sub-messages).</summary>
    public static void Bytes(Stream s, int field, ReadOnlySpan<byte> v)
    {
        Key(s, field, LengthDelimited);
        WriteVarint(s, (ulong)v.Length);
        s.Write(v);
    }

    /// <summary>Writes field <paramref name="field"/> as a UTF-8 string.</summary>
    public static void String(Stream s, int field, string v) => Bytes(s, field, Encoding.UTF8.GetBytes(v));

    /// <summary>A forward reader over one encoded message.</summary>
    public ref struct Reader(ReadOnlySpan<byte> data)
    {
        readonly ReadOnlySpan<byte> data = data;
        int pos;

        /// <summary>Reads the next field key; false at the end of the message.</summary>
        public bool Next(out int field, out int wireType)
        {
            field = wireType = 0;
            if (pos >= data.Length) return false;
            var key = ReadVarint();
            field = (int)(key >> 3);
            wireType = (int)(key & 7);
            return true;
        }

        /// <summary>Reads a varint value.</summary>
        public ulong ReadVarint()
        {
            ulong v = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (pos >= data.Length) throw new InvalidDataException("protobuf: truncated varint");
                byte b = data[pos++];
                v |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80) return v;
            }
            throw new InvalidDataException("protobuf: varint longer than 10 bytes");
        }

        /// <summary>Reads a fixed64 value as a double.</summary>
        public double ReadDouble() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

        /// <summary>Reads a fixed32 value as a float.</summary>
        public float ReadFloat() => BinaryPrimitives.ReadSingleLittleEndian(Take(4));

        /// <summary>Reads a length-delimited value.</summary>
        public ReadOnlySpan<byte> ReadBytes() => Take(checked((int)ReadVarint()));

        /// <summary>Skips the value of a field of wire type <paramref name="wireType"/>.</summary>
        public void Skip(int wireType)
        {
            switch (wireType)
            {
                case Varint: ReadVarint(); break;
                case Fixed64: Take(8); break;
                case LengthDelimited: ReadBytes(); break;
                case Fixed32: Take(4); break;
                default: throw new InvalidDataException($"protobuf: unsupported wire type {wireType}");
            }
        }

        ReadOnlySpan<byte> Take(int n)
        {
            if (n < 0 || pos + n > data.Length) throw new InvalidDataException("protobuf: field runs past the message");
            var s = data.Slice(pos, n);
            pos += n;
            return s;
        }
    }
}
