using Sharpen.Data;

namespace Sharpen.Algorithms.Reward;

/// <summary>
/// Bootstrap resampling for reward ensembles: each member trains on its own resample, with replacement, of the N
/// training pairs, expressed as a count per (pair, member) that weights the pair's loss for that member.
/// </summary>
public static class Bootstrap
{
    /// <summary>
    /// Counts [N·K] (row-major: pair i, member k at i·K + k): member k draws N pair indices uniformly with
    /// replacement from its own stream of <paramref name="seed"/>, so each member's counts sum to N and a pair is
    /// left out of a member with probability (1 − 1/N)^N ≈ e⁻¹.
    /// </summary>
    public static float[] Counts(int n, int members, ulong seed)
    {
        var counts = new float[n * members];
        for (var k = 0; k < members; k++)
        {
            var rng = new SplitMix64(SplitMix64.Combine(seed, (ulong)k));
            for (var draw = 0; draw < n; draw++) counts[rng.NextInt(n) * members + k]++;
        }
        return counts;
    }
}
