using Sharpen.Torch;

namespace Sharpen.Algorithms;

using Torch = Sharpen.Torch.Torch;

/// <summary>Per-token value loss L_V [B, T] (0 on masked tokens) and <c>vf_clipfrac</c>, the fraction of loss tokens where the clipped error is the larger.</summary>
public sealed record ValueLossResult(Tensor Loss, IReadOnlyDictionary<string, double> Metrics);

/// <summary>The critic's loss (docs/algorithms.md §3.8).</summary>
public static class ValueLoss
{
    /// <summary>
    /// PPO's clipped value loss (arXiv 1707.06347; verl <c>compute_value_loss</c>):
    /// L_V = ½·max((V − Ret)², (clip(V, V_old − ε_v, V_old + ε_v) − Ret)²); a null <paramref name="clipRange"/>
    /// gives ½·(V − Ret)². Tensors [B, T]: values V (with gradient), oldValues V_old and returns Ret (detached here).
    /// </summary>
    public static ValueLossResult Clipped(Tensor values, Tensor oldValues, Tensor returns, Tensor mask, double? clipRange = 0.2)
    {
        using var scope = new TensorScope();
        var (vOld, ret, m) = (oldValues.Detach(), returns.Detach(), mask.To(values.DType));
        var vfLosses1 = (values - ret).Square();                               // [B, T]
        if (clipRange is not { } eps)
            return new(scope.Keep(0.5 * vfLosses1 * m), new Dictionary<string, double> { ["vf_clipfrac"] = 0 });
        var vClipped = vOld + (values - vOld).Clamp(-eps, eps);
        var vfLosses2 = (vClipped - ret).Square();
        var loss = 0.5 * vfLosses1.Maximum(vfLosses2) * m;
        double clipfrac;
        using (Torch.NoGrad()) clipfrac = MaskedReduce.MeanValue(vfLosses2.Gt(vfLosses1).To(m.DType), m);
        return new(scope.Keep(loss), new Dictionary<string, double> { ["vf_clipfrac"] = clipfrac });
    }
}
