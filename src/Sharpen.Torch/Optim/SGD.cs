namespace Sharpen.Torch.Optim;

/// <summary>
/// Stochastic gradient descent with the semantics of torch.optim.SGD: for each parameter p with
/// gradient g, d = g + λp; with momentum μ, b ← d on the first step and b ← μb + (1 − dampening)d
/// after, then d = b (or d + μb with Nesterov momentum, Sutskever et al. 2013); p ← p − lr·d.
/// State per parameter (only with momentum): "momentum_buffer".
/// </summary>
public sealed class SGD : Optimizer
{
    static readonly string[] MomentumNames = ["momentum_buffer"];

    /// <summary>μ: momentum factor (0: plain SGD).</summary>
    public double Momentum { get; }

    /// <summary>Fraction of the new gradient held back from the momentum buffer.</summary>
    public double Dampening { get; }

    /// <summary>True for Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <summary>SGD over one group of <paramref name="parameters"/>.</summary>
    public SGD(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0,
               double weightDecay = 0, bool nesterov = false)
        : this([new ParamGroup(parameters)], lr, momentum, dampening, weightDecay, nesterov) { }

    /// <summary>SGD over several groups; <paramref name="lr"/> and <paramref name="weightDecay"/> are the defaults for groups that set none.</summary>
    public SGD(IEnumerable<ParamGroup> groups, double lr, double momentum = 0, double dampening = 0,
               double weightDecay = 0, bool nesterov = false)
        : base(groups, lr, weightDecay)
    {
        if (!(momentum >= 0)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "momentum must be ≥ 0");
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException("Nesterov momentum needs momentum > 0 and dampening 0", nameof(nesterov));
        Momentum = momentum;
        Dampening = dampening;
        Nesterov = nesterov;
    }

    /// <inheritdoc/>
    protected override IReadOnlyList<string> StateNames => Momentum != 0 ? MomentumNames : [];

    /// <inheritdoc/>
    public override unsafe void Step()
    {
        StepCount++;
        var index = 0;
        foreach (var group in Groups)
        {
            // Parameters whose momentum buffer is new this step start it from d, the rest update it:
            // two native calls, one per kind.
            var fresh = new List<(IntPtr P, IntPtr B)>();
            var running = new List<(IntPtr P, IntPtr B)>();
            foreach (var param in group.Params)
            {
                var i = index++;
                if (Momentum == 0)
                {
                    running.Add((param.Handle, IntPtr.Zero));
                    continue;
                }
                if (StateFor(i, out var created) is not { } s) continue;   // no gradient yet
                (created ? fresh : running).Add((param.Handle, s[0].Handle));
            }
            Update(fresh, group, first: true);
            Update(running, group, first: false);
        }
    }

    unsafe void Update(List<(IntPtr P, IntPtr B)> items, ParamGroup group, bool first)
    {
        if (items.Count == 0) return;
        var p = items.Select(e => e.P).ToArray();
        var b = items.Select(e => e.B).ToArray();
        fixed (IntPtr* pp = p, pb = b)
            Native.Check(Native.sh_optim_sgd_step(pp, pb, p.Length, group.Lr, Momentum, Dampening, group.WeightDecay, Nesterov ? 1 : 0, first ? 1 : 0));
    }
}
