namespace Sharpen.Torch;

/// <summary>
/// Collects every tensor created on this thread while it is the innermost open scope and
/// disposes them when it closes. <see cref="Keep(Tensor)"/> moves a result to the enclosing scope
/// (or out of scope tracking altogether when there is none). Scopes nest and are per thread;
/// they must be closed innermost first. A trainer opens one scope per micro-step.
/// </summary>
/// <example><code>
/// using (var scope = new TensorScope())
/// {
///     var loss = scope.Keep(ComputeLoss());   // everything else made here is freed at the brace
/// }
/// </code></example>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] static TensorScope? current;

    readonly TensorScope? parent;
    readonly Thread thread;
    List<Tensor> owned = new();
    bool closed;

    /// <summary>Opens a scope on the calling thread; it becomes the innermost scope.</summary>
    public TensorScope()
    {
        parent = current;
        thread = Thread.CurrentThread;
        current = this;
    }

    /// <summary>The innermost open scope of this thread, if any.</summary>
    public static TensorScope? Current => current;

    /// <summary>Number of live tensors this scope will dispose.</summary>
    public int Count => owned.Count(t => t.Scope == this && !t.IsDisposed);

    internal static void Track(Tensor t)
    {
        var s = current;
        if (s is null) return;
        t.Scope = s;
        s.owned.Add(t);
    }

    /// <summary>Removes <paramref name="t"/> from all scopes: its owner must dispose it.</summary>
    public static Tensor Untrack(Tensor t)
    {
        t.Scope = null;
        return t;
    }

    /// <summary>Moves <paramref name="t"/> out of this scope into the enclosing one (or out of scope tracking).</summary>
    public Tensor Keep(Tensor t)
    {
        if (t.Scope != this)
            throw new InvalidOperationException("Keep: the tensor does not belong to this scope");
        t.Scope = parent;
        parent?.owned.Add(t);
        return t;
    }

    /// <summary>Keeps several tensors; see <see cref="Keep(Tensor)"/>.</summary>
    public void Keep(params Tensor[] ts)
    {
        foreach (var t in ts) Keep(t);
    }

    /// <summary>Disposes every tensor still owned by this scope and closes it.</summary>
    public void Dispose()
    {
        if (closed) return;
        if (Thread.CurrentThread != thread)
            throw new InvalidOperationException("a TensorScope must be closed on the thread that opened it");
        if (current != this)
            throw new InvalidOperationException("TensorScopes must be closed innermost first");
        closed = true;
        current = parent;
        foreach (var t in owned)
            if (t.Scope == this) t.Dispose();
        owned = new();
    }
}
