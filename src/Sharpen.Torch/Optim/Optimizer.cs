using System.Globalization;

namespace Sharpen.Torch.Optim;

/// <summary>
/// Base of the optimisers: parameter groups, a step counter and per-parameter state tensors
/// (created lazily, zeros like the parameter, the first time the parameter has a gradient at a
/// step). State lives outside every <see cref="TensorScope"/> and is freed by <see cref="Dispose"/>.
/// </summary>
public abstract class Optimizer : IDisposable
{
    readonly ParamGroup[] groups;
    readonly Tensor[] flat;          // every parameter, group after group: index = state index
    readonly Tensor[]?[] state;      // per parameter: one tensor per StateNames entry, or null

    /// <summary>Takes ownership of <paramref name="groups"/>, filling their unset values with the defaults.</summary>
    protected Optimizer(IEnumerable<ParamGroup> groups, double defaultLr, double defaultWeightDecay)
    {
        this.groups = groups.ToArray();
        foreach (var g in this.groups) g.Resolve(defaultLr, defaultWeightDecay);
        flat = this.groups.SelectMany(g => g.Params).ToArray();
        if (flat.Length == 0) throw new ArgumentException("the optimiser was given no parameters", nameof(groups));
        if (flat.Distinct(ReferenceEqualityComparer.Instance).Count() != flat.Length)
            throw new ArgumentException("a parameter appears more than once in the optimiser's groups", nameof(groups));
        state = new Tensor[]?[flat.Length];
    }

    /// <summary>The parameter groups; a schedule changes their <see cref="ParamGroup.Lr"/>.</summary>
    public IReadOnlyList<ParamGroup> Groups => groups;

    /// <summary>Number of steps taken (the first <see cref="Step"/> makes it 1).</summary>
    public long StepCount { get; protected set; }

    /// <summary>Names of the state tensors kept per parameter ("exp_avg", …), in order.</summary>
    protected abstract IReadOnlyList<string> StateNames { get; }

    /// <summary>Updates every parameter that has a gradient (parameters without one are left alone) and increments <see cref="StepCount"/>.</summary>
    public abstract void Step();

    /// <summary>Drops every parameter's gradient (set to none, as PyTorch's default).</summary>
    public void ZeroGrad()
    {
        foreach (var p in flat) p.ZeroGrad();
    }

    /// <summary>
    /// The state of parameter number <paramref name="index"/> (counted over all groups in order),
    /// created as zeros like the parameter if it has none yet and has a gradient now; null when it
    /// has neither. <paramref name="created"/> tells whether it was made by this call.
    /// </summary>
    protected Tensor[]? StateFor(int index, out bool created)
    {
        created = false;
        if (state[index] is { } s) return s;
        var p = flat[index];
        using (var g = p.Grad)
            if (g is null) return null;
        created = true;
        return state[index] = StateNames.Select(_ => ZerosLike(p)).ToArray();
    }

    static Tensor ZerosLike(Tensor p) => TensorScope.Untrack(Tensor.Zeros(p.Shape, p.DType, p.Device));

    /// <summary>
    /// Everything needed to resume exactly: "step" (0-dim int64), "group.{g}.lr" (0-dim float64) and
    /// "state.{i}.{name}" for each parameter i that has state. State values are new handles sharing
    /// storage with the live state (clone them to take a snapshot); dispose them or let a scope do it.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var d = new Dictionary<string, Tensor> { ["step"] = Tensor.Scalar(StepCount, DType.Int64) };
        for (var g = 0; g < groups.Length; g++) d[$"group.{g}.lr"] = Tensor.Scalar(groups[g].Lr, DType.Float64);
        for (var i = 0; i < state.Length; i++)
            if (state[i] is { } s)
                for (var k = 0; k < s.Length; k++) d[$"state.{i}.{StateNames[k]}"] = s[k].Detach();
        return d;
    }

    /// <summary>
    /// Restores a <see cref="StateDict"/> taken from an optimiser of the same kind over parameters of
    /// the same shapes: copies the state (into tensors on each parameter's device and dtype), the step
    /// count and the learning rates. Throws <see cref="ArgumentException"/> naming every unexpected or
    /// missing key and every shape mismatch; nothing changes unless every check passes.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> stateDict)
    {
        var problems = new List<string>();
        var loaded = new Dictionary<int, Tensor[]>();
        void Need(string key, bool scalar)
        {
            if (!stateDict.TryGetValue(key, out var t)) problems.Add($"missing key {key}");
            else if (scalar && t.Numel != 1) problems.Add($"{key} must hold one value, it has shape [{string.Join(", ", t.Shape)}]");
        }
        Need("step", true);
        for (var g = 0; g < groups.Length; g++) Need($"group.{g}.lr", true);

        foreach (var (key, t) in stateDict)
        {
            if (key == "step" || key.StartsWith("group.", StringComparison.Ordinal) && IsGroupKey(key)) continue;
            var parts = key.Split('.');
            var k = parts.Length == 3 ? StateNames.ToList().IndexOf(parts[2]) : -1;
            if (parts[0] != "state" || k < 0 || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var i) || i >= flat.Length)
            {
                problems.Add($"unexpected key {key}");
                continue;
            }
            if (!t.Shape.SequenceEqual(flat[i].Shape))
                problems.Add($"shape mismatch for {key}: the state has [{string.Join(", ", t.Shape)}], parameter {i} has [{string.Join(", ", flat[i].Shape)}]");
            if (!loaded.TryGetValue(i, out var slots)) loaded[i] = slots = new Tensor[StateNames.Count];
            slots[k] = t;
        }
        foreach (var (i, slots) in loaded)
            for (var k = 0; k < slots.Length; k++)
                if (slots[k] is null) problems.Add($"missing key state.{i}.{StateNames[k]}");
        if (problems.Count > 0)
            throw new ArgumentException($"{GetType().Name}.LoadStateDict: {string.Join("; ", problems)}", nameof(stateDict));

        FreeState();
        foreach (var (i, slots) in loaded)
            state[i] = slots.Select(src => ZerosLike(flat[i]).Copy_(src)).ToArray();
        StepCount = stateDict["step"].ToInt64();
        for (var g = 0; g < groups.Length; g++) groups[g].Lr = stateDict[$"group.{g}.lr"].ToDouble();
    }

    bool IsGroupKey(string key)
    {
        var parts = key.Split('.');
        return parts.Length == 3 && parts[2] == "lr" && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var g) && g < groups.Length;
    }

    void FreeState()
    {
        for (var i = 0; i < state.Length; i++)
        {
            if (state[i] is { } s) foreach (var t in s) t.Dispose();
            state[i] = null;
        }
    }

    /// <summary>Frees the optimiser state (not the parameters). Safe to call twice.</summary>
    public void Dispose() => FreeState();
}
