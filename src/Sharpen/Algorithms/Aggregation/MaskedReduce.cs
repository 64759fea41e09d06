using Sharpen.Torch;

namespace Sharpen.Algorithms;

/// <summary>
/// Reductions over the loss tokens of a [B, T] tensor. The mask is 1 on tokens the policy generated
/// and 0 on prompt, padding and tool output (docs/algorithms.md §0), in the values' floating dtype.
/// </summary>
internal static class MaskedReduce
{
    /// <summary>Σ m·x / Σ m (0-dim); 0 when the mask is empty.</summary>
    public static Tensor Mean(Tensor x, Tensor mask) => (x * mask).Sum() / mask.Sum().Clamp(min: 1);

    /// <summary><see cref="Mean"/> read back as a number (for metrics).</summary>
    public static double MeanValue(Tensor x, Tensor mask) => Mean(x, mask).ToDouble();

    /// <summary>
    /// (x − mean)/√(var + 1e−8) over the loss tokens, with the Bessel-corrected variance, and 0 on the
    /// other tokens (verl <c>masked_whiten</c>). [B, T] → [B, T].
    /// </summary>
    public static Tensor Whiten(Tensor x, Tensor mask)
    {
        var n = mask.Sum();
        var mean = (x * mask).Sum() / n.Clamp(min: 1);
        var centred = x - mean;
        var variance = (centred.Square() * mask).Sum() / (n - 1).Clamp(min: 1);
        return centred * (variance + 1e-8).Rsqrt() * mask;
    }
}
