namespace Sharpen.Torch.Optim;

/// <summary>
/// Adam with decoupled weight decay (Loshchilov &amp; Hutter 2019, "Decoupled Weight Decay
/// Regularization"), with PyTorch's arithmetic: for each parameter p with gradient g at step t,
/// p ← p·(1 − lr·λ); m ← β₁m + (1 − β₁)g; v ← β₂v + (1 − β₂)g²;
/// p ← p − lr/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε).
/// State per parameter: "exp_avg" (m) and "exp_avg_sq" (v). Each group is updated by one fused
/// native call. t is the optimiser's step count (shared by all parameters).
/// </summary>
public sealed class AdamW : Optimizer
{
    static readonly string[] Names = ["exp_avg", "exp_avg_sq"];

    /// <summary>β₁: decay of the first-moment average.</summary>
    public double Beta1 { get; }

    /// <summary>β₂: decay of the second-moment average.</summary>
    public double Beta2 { get; }

    /// <summary>ε: added to the denominator for numerical stability.</summary>
    public double Eps { get; }

    /// <summary>AdamW over one group of <paramref name="parameters"/>.</summary>
    public AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
                 double eps = 1e-8, double weightDecay = 0.01)
        : this([new ParamGroup(parameters)], lr, beta1, beta2, eps, weightDecay) { }

    /// <summary>AdamW over several groups; <paramref name="lr"/> and <paramref name="weightDecay"/> are the defaults for groups that set none.</summary>
    public AdamW(IEnumerable<ParamGroup> groups, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
                 double eps = 1e-8, double weightDecay = 0.01)
        : base(groups, lr, weightDecay)
    {
        if (!(beta1 >= 0 && beta1 < 1)) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "β₁ must be in [0, 1)");
        if (!(beta2 >= 0 && beta2 < 1)) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "β₂ must be in [0, 1)");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), eps, "ε must be ≥ 0");
        Beta1 = beta1;
        Beta2 = beta2;
        Eps = eps;
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> StateNames => Names;

    /// <inheritdoc/>
    public override unsafe void Step()
    {
        StepCount++;
        var index = 0;
        foreach (var group in Groups)
        {
            var n = group.Params.Count;
            var p = new IntPtr[n];
            var m = new IntPtr[n];
            var v = new IntPtr[n];
            for (var j = 0; j < n; j++, index++)
            {
                p[j] = group.Params[j].Handle;
                if (StateFor(index, out _) is not { } s) continue;   // no gradient: skipped natively
                m[j] = s[0].Handle;
                v[j] = s[1].Handle;
            }
            fixed (IntPtr* pp = p, pm = m, pv = v)
                Native.Check(Native.sh_optim_adamw_step(pp, pm, pv, n, group.Lr, Beta1, Beta2, Eps, group.WeightDecay, StepCount));
        }
    }
}
