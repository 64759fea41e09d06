namespace Sharpen.Torch.NN;

using Torch = Sharpen.Torch.Torch;

/// <summary>
/// A layer or model: owns named parameters (trainable tensors), buffers (non-trainable state)
/// and child modules, in registration order. Names are dotted paths as in PyTorch
/// ("layers.0.proj.weight"), so state dictionaries line up with Hugging Face checkpoints.
/// Parameters and buffers live outside every <see cref="TensorScope"/>; the module disposes
/// them (and its children) in <see cref="Dispose"/>.
/// </summary>
/// <remarks>
/// A subclass registers its parts in its constructor and exposes its own <c>Forward</c>
/// (signatures differ between modules, so there is no common one).
/// </remarks>
public abstract class Module : IDisposable
{
    readonly List<(string Name, Tensor Value)> parameters = [];
    readonly List<(string Name, Tensor Value, bool Persistent)> buffers = [];
    readonly List<(string Name, Module Value)> children = [];
    readonly HashSet<string> names = [];
    bool disposed;

    /// <summary>True in training mode (the default), false after <see cref="Eval"/>; changes what Dropout does.</summary>
    public bool Training { get; private set; } = true;

    /// <summary>
    /// Registers <paramref name="value"/> as a trainable parameter named <paramref name="name"/>
    /// (no dots): sets requires_grad, takes it out of scope tracking (the module disposes it) and
    /// returns it. The tensor must be a leaf (created directly, not computed with grad enabled).
    /// </summary>
    protected Tensor RegisterParameter(string name, Tensor value)
    {
        Claim(name);
        TensorScope.Untrack(value);
        value.RequiresGrad = true;
        parameters.Add((name, value));
        return value;
    }

    /// <summary>
    /// Registers <paramref name="value"/> as a buffer: state that is moved by <see cref="To(Device)"/>
    /// and disposed with the module but not trained. A persistent buffer is part of the state
    /// dictionary; a non-persistent one (for example a rotary-embedding table that checkpoints do not
    /// carry) is not. Takes it out of scope tracking and returns it.
    /// </summary>
    protected Tensor RegisterBuffer(string name, Tensor value, bool persistent = true)
    {
        Claim(name);
        TensorScope.Untrack(value);
        buffers.Add((name, value, persistent));
        return value;
    }

    /// <summary>Registers a child module under <paramref name="name"/> (its entries become "name.…") and returns it.</summary>
    protected T RegisterModule<T>(string name, T module) where T : Module
    {
        Claim(name);
        children.Add((name, module));
        return module;
    }

    void Claim(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains('.'))
            throw new ArgumentException($"'{name}' is not a valid module entry name: it must be non-empty and contain no '.'", nameof(name));
        if (!names.Add(name))
            throw new ArgumentException($"{GetType().Name} already has an entry named '{name}'", nameof(name));
    }

    // Every parameter (IsParameter true) and buffer (only the persistent ones unless asked), own
    // entries first then each child's, with dotted names; a tensor shared between modules (tied
    // weights) appears under each name.
    IEnumerable<(string Name, Tensor Value, bool IsParameter)> Entries(bool persistentOnly = true, string prefix = "")
    {
        foreach (var (n, t) in parameters) yield return (prefix + n, t, true);
        foreach (var (n, t, persistent) in buffers)
            if (persistent || !persistentOnly) yield return (prefix + n, t, false);
        foreach (var (n, m) in children)
            foreach (var e in m.Entries(persistentOnly, prefix + n + "."))
                yield return e;
    }

    // Each distinct tensor once (first name wins), so shared tensors are trained and converted once.
    static IEnumerable<(string Name, Tensor Value)> Distinct(IEnumerable<(string Name, Tensor Value, bool IsParameter)> entries)
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (n, t, _) in entries)
            if (seen.Add(t)) yield return (n, t);
    }

    /// <summary>Every distinct parameter, recursively, in registration order (hand these to an optimiser).</summary>
    public IEnumerable<Tensor> Parameters() => NamedParameters().Select(e => e.Value);

    /// <summary>Every distinct parameter with its dotted name ("layers.0.weight"), own parameters first, then each child's in registration order.</summary>
    public IEnumerable<(string Name, Tensor Value)> NamedParameters() => Distinct(Entries().Where(e => e.IsParameter));

    /// <summary>Every distinct buffer (persistent or not) with its dotted name, in the same order as <see cref="NamedParameters"/>.</summary>
    public IEnumerable<(string Name, Tensor Value)> NamedBuffers() => Distinct(Entries(persistentOnly: false).Where(e => !e.IsParameter));

    /// <summary>The child modules registered directly on this one, with their names.</summary>
    public IEnumerable<(string Name, Module Value)> NamedChildren() => children;

    /// <summary>Total number of elements over all distinct parameters.</summary>
    public long ParameterCount() => Parameters().Sum(p => p.Numel);

    /// <summary>
    /// Parameters and persistent buffers by dotted name (a tensor shared by two modules appears under both
    /// names). The values are new detached handles sharing storage with the module's tensors:
    /// dispose them (or let the enclosing scope do so) and clone them to take a snapshot.
    /// </summary>
    public Dictionary<string, Tensor> StateDict()
    {
        var state = new Dictionary<string, Tensor>();
        foreach (var (n, t, _) in Entries()) state[n] = t.Detach();
        return state;
    }

    /// <summary>
    /// Copies values from <paramref name="state"/> into this module's parameters and buffers in
    /// place (without recording gradients), converting dtype and device as needed; the tensor objects
    /// stay the same. Throws <see cref="ArgumentException"/> naming every key whose shape differs
    /// (with both shapes), and, when <paramref name="strict"/>, every missing and unexpected key.
    /// Nothing is copied unless every check passes.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, Tensor> state, bool strict = true)
    {
        var entries = Entries().ToList();
        var problems = new List<string>();
        if (strict)
        {
            var missing = entries.Where(e => !state.ContainsKey(e.Name)).Select(e => e.Name).ToList();
            var known = entries.Select(e => e.Name).ToHashSet();
            var unexpected = state.Keys.Where(k => !known.Contains(k)).ToList();
            if (missing.Count > 0) problems.Add($"missing keys: {string.Join(", ", missing)}");
            if (unexpected.Count > 0) problems.Add($"unexpected keys: {string.Join(", ", unexpected)}");
        }
        foreach (var (n, t, _) in entries)
            if (state.TryGetValue(n, out var src) && !src.Shape.SequenceEqual(t.Shape))
                problems.Add($"shape mismatch for {n}: the state has [{string.Join(", ", src.Shape)}], the module has [{string.Join(", ", t.Shape)}]");
        if (problems.Count > 0)
            throw new ArgumentException($"{GetType().Name}.LoadStateDict: {string.Join("; ", problems)}", nameof(state));

        using var noGrad = Torch.NoGrad();
        foreach (var (n, t, _) in entries)
            if (state.TryGetValue(n, out var src)) t.Copy_(src);
    }

    /// <summary>Sets training mode on this module and every descendant; returns this module.</summary>
    public Module Train(bool on = true)
    {
        Training = on;
        foreach (var (_, m) in children) m.Train(on);
        return this;
    }

    /// <summary>Sets evaluation mode (Dropout becomes the identity) recursively; returns this module.</summary>
    public Module Eval() => Train(false);

    /// <summary>
    /// Moves every parameter and buffer to <paramref name="device"/>. The tensor objects stay the same
    /// (their native tensors are swapped), so references held elsewhere remain valid; requires_grad is
    /// kept, gradients of moved tensors are dropped. Call it before creating the optimiser.
    /// </summary>
    public Module To(Device device) => Convert(t => t.To(t.DType, device));

    /// <summary>
    /// Converts the floating-point parameters and buffers to <paramref name="dtype"/> (integer and
    /// bool buffers keep theirs), keeping the same tensor objects as <see cref="To(Device)"/> does.
    /// </summary>
    public Module To(DType dtype)
    {
        if (!dtype.IsFloatingPoint())
            throw new ArgumentException($"Module.To: {dtype} is not a floating-point dtype", nameof(dtype));
        return Convert(t => t.DType.IsFloatingPoint() ? t.To(dtype, t.Device) : t.Alias());
    }

    Module Convert(Func<Tensor, Tensor> convert)
    {
        using var noGrad = Torch.NoGrad();
        foreach (var (_, t) in Distinct(Entries(persistentOnly: false)))
        {
            var requiresGrad = t.RequiresGrad;
            var converted = convert(t);
            t.ReplaceHandle(converted);
            t.RequiresGrad = requiresGrad;
        }
        return this;
    }

    /// <summary>Drops the gradient of every parameter (PyTorch's zero_grad(set_to_none=True)).</summary>
    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.ZeroGrad();
    }

    /// <summary>Disposes every parameter, buffer and child module. Safe to call twice.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var (_, t) in parameters) t.Dispose();
        foreach (var (_, t, _) in buffers) t.Dispose();
        foreach (var (_, m) in children) m.Dispose();
    }
}
