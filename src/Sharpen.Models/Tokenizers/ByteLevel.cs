namespace Sharpen.Models;

using System.Text;

/// <summary>
/// GPT-2's byte-level alphabet (Radford et al. 2019, <c>bytes_to_unicode</c>): every byte 0..255 is
/// shown as one printable character, so BPE tokens are ordinary strings with no spaces or control
/// characters. The printable bytes '!'..'~', '¡'..'¬' and '®'..'ÿ' stand for themselves; the other
/// 68 bytes, in increasing order, become U+0100, U+0101, … (so the space 0x20 is 'Ġ', U+0120).
/// </summary>
public static class ByteLevel
{
    static readonly char[] byteToChar = BuildAlphabet();
    static readonly Dictionary<char, byte> charToByte =
        Enumerable.Range(0, 256).ToDictionary(b => byteToChar[b], b => (byte)b);

    static char[] BuildAlphabet()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }
        return map;
    }

    /// <summary>The alphabet character that stands for byte <paramref name="b"/>.</summary>
    public static char CharOf(byte b) => byteToChar[b];

    /// <summary>The byte that alphabet character <paramref name="c"/> stands for, or null if it is not in the alphabet.</summary>
    public static byte? ByteOf(char c) => charToByte.TryGetValue(c, out var b) ? b : null;

    /// <summary>The UTF-8 bytes of <paramref name="text"/>, each shown as its alphabet character.</summary>
    public static string Encode(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        return string.Create(bytes.Length, bytes, (span, b) =>
        {
            for (var i = 0; i < b.Length; i++) span[i] = byteToChar[b[i]];
        });
    }

    /// <summary>
    /// Appends the bytes a token stands for: its alphabet characters' bytes when every character is in
    /// the alphabet, otherwise (an added token written in plain text) its own UTF-8 bytes.
    /// </summary>
    public static void AppendBytes(string token, List<byte> bytes)
    {
        foreach (var c in token)
            if (!charToByte.ContainsKey(c))
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(token));
                return;
            }
        foreach (var c in token) bytes.Add(charToByte[c]);
    }
}
