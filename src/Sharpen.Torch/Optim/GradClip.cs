namespace Sharpen.Torch.Optim;

/// <summary>Gradient clipping.</summary>
public static class GradClip
{
    /// <summary>
    /// Scales the gradients of <paramref name="parameters"/> in place so their joint L2 norm
    /// (over all elements of all gradients, computed in float64) is at most <paramref name="maxNorm"/>:
    /// each is multiplied by maxNorm/(norm + 1e-6) when that is below 1, as
    /// torch.nn.utils.clip_grad_norm_. Parameters without a gradient are ignored. Returns the norm
    /// before clipping (NaN or ∞ when a gradient is not finite; the gradients are then left as they are).
    /// </summary>
    public static unsafe double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        if (!(maxNorm > 0)) throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be > 0");
        var handles = parameters.Select(p => p.Handle).ToArray();
        fixed (IntPtr* h = handles)
        {
            var norm = Native.sh_optim_clip_grad_norm(h, handles.Length, maxNorm);
            if (double.IsNaN(norm) && Native.LastError() is { Length: > 0 } err) throw new TorchException(err);
            return norm;
        }
    }
}
