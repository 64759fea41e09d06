namespace Sharpen.Data;

/// <summary>
/// A small seeded random number generator (Steele, Lea and Flood's SplitMix64) whose sequence depends on the seed
/// alone — not on the .NET version — so shuffles, splits and generated tasks are the same on every machine.
/// </summary>
public sealed class SplitMix64(ulong seed)
{
    ulong state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64() => Mix(state += 0x9E3779B97F4A7C15UL);

    /// <summary>A uniform integer in [0, <paramref name="maxExclusive"/>), without modulo bias.</summary>
    public int NextInt(int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (int)Below((ulong)maxExclusive);
    }

    /// <summary>A uniform 64-bit integer in [0, <paramref name="maxExclusive"/>), without modulo bias.</summary>
    public long NextInt64(long maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxExclusive);
        return (long)Below((ulong)maxExclusive);
    }

    ulong Below(ulong n)
    {
        var limit = ulong.MaxValue - ulong.MaxValue % n;    // reject the incomplete last block
        ulong x;
        do x = NextUInt64(); while (x >= limit);
        return x % n;
    }

    /// <summary>A uniform integer in [<paramref name="min"/>, <paramref name="maxExclusive"/>).</summary>
    public int NextInt(int min, int maxExclusive) => min + NextInt(maxExclusive - min);

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Shuffles <paramref name="items"/> in place (Fisher–Yates).</summary>
    public void Shuffle<T>(Span<T> items)
    {
        for (var i = items.Length - 1; i > 0; i--)
        {
            var j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A random permutation of 0..<paramref name="n"/>−1.</summary>
    public int[] Permutation(int n)
    {
        var p = Enumerable.Range(0, n).ToArray();
        Shuffle<int>(p);
        return p;
    }

    /// <summary>One seed derived from two (for example a run seed and an epoch), well mixed.</summary>
    public static ulong Combine(ulong seed, ulong stream) => Mix(seed ^ Mix(stream + 0x9E3779B97F4A7C15UL));

    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
