namespace Sharpen.Models;

using Sharpen.Torch;

/// <summary>
/// Rotary position embedding (RoFormer, arXiv 2104.09864) in the Llama/Qwen "rotate half" layout:
/// x·cos + rotate_half(x)·sin with cos/sin of position·θ_i repeated over both halves of a head.
/// </summary>
public sealed class Rope
{
    readonly float[] invFreq; // [Dh/2]

    /// <summary>Inverse frequencies θ_i = base^(−2i/Dh), scaled as <paramref name="config"/>.rope_scaling says.</summary>
    public Rope(ModelConfig config)
    {
        var dim = config.HeadDim;
        invFreq = new float[dim / 2];
        for (var i = 0; i < invFreq.Length; i++)
            invFreq[i] = (float)(1.0 / Math.Pow(config.RopeTheta, (float)(2 * i) / dim));
        var s = config.RopeScaling;
        if (s is null) return;
        for (var i = 0; i < invFreq.Length; i++)
            invFreq[i] = s.Kind switch
            {
                "linear" => (float)(invFreq[i] / s.Factor),
                "llama3" => Llama3(invFreq[i], s),
                _ => invFreq[i],
            };
    }

    /// <summary>The (scaled) inverse frequencies, [Dh/2].</summary>
    public IReadOnlyList<float> InverseFrequencies => invFreq;

    // Llama 3.1 frequency-dependent scaling: long wavelengths divided by factor, short ones kept,
    // a smooth interpolation between the two bands.
    static float Llama3(float f, RopeScaling s)
    {
        double lowWavelen = s.OriginalMaxPositionEmbeddings / s.LowFreqFactor;
        double highWavelen = s.OriginalMaxPositionEmbeddings / s.HighFreqFactor;
        double wavelen = 2 * Math.PI / f;
        if (wavelen < highWavelen) return f;
        if (wavelen > lowWavelen) return (float)(f / s.Factor);
        var smooth = (s.OriginalMaxPositionEmbeddings / wavelen - s.LowFreqFactor) / (s.HighFreqFactor - s.LowFreqFactor);
        return (float)((1 - smooth) * f / s.Factor + smooth * f);
    }

    /// <summary>cos and sin tables for integer positions [B, T] → each [B, 1, T, Dh] (ready to broadcast over heads).</summary>
    public (Tensor Cos, Tensor Sin) Tables(Tensor positions, DType dtype)
    {
        using var inv = Tensor.From(invFreq).To(positions.Device);         // [Dh/2]
        return Tables(inv, positions, dtype);
    }

    /// <summary>The tables from inverse frequencies <paramref name="inv"/> [Dh/2] (float32, on the positions' device).</summary>
    public static (Tensor Cos, Tensor Sin) Tables(Tensor inv, Tensor positions, DType dtype)
    {
        var freqs = positions.To(DType.Float32).Unsqueeze(-1) * inv.To(DType.Float32);   // [B, T, Dh/2]
        var emb = Tensor.Cat([freqs, freqs], -1).Unsqueeze(1);             // [B, 1, T, Dh]
        return (emb.Cos().To(dtype), emb.Sin().To(dtype));
    }

    /// <summary>Applies the rotation to x [B, H, T, Dh].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        var half = x.Size(-1) / 2;
        var x1 = x.Narrow(-1, 0, half);
        var x2 = x.Narrow(-1, half, half);
        var rotated = Tensor.Cat([-x2, x1], -1);                            // rotate_half(x)
        return x * cos + rotated * sin;
    }
}
