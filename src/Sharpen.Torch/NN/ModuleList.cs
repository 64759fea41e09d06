using System.Collections;

namespace Sharpen.Torch.NN;

/// <summary>
/// An ordered list of child modules of type <typeparamref name="T"/>, registered under the names
/// "0", "1", … (so a list registered as "layers" yields parameter names "layers.0.…").
/// </summary>
public class ModuleList<T> : Module, IEnumerable<T> where T : Module
{
    readonly List<T> items = [];

    /// <summary>A list holding <paramref name="modules"/>, in order.</summary>
    public ModuleList(IEnumerable<T>? modules = null)
    {
        if (modules is null) return;
        foreach (var m in modules) Add(m);
    }

    /// <summary>The module at <paramref name="index"/>.</summary>
    public T this[int index] => items[index];

    /// <summary>Number of modules.</summary>
    public int Count => items.Count;

    /// <summary>Appends <paramref name="module"/> under the next index name and returns it.</summary>
    public T Add(T module)
    {
        items.Add(RegisterModule(items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module));
        return module;
    }

    /// <summary>Enumerates the modules in order.</summary>
    public IEnumerator<T> GetEnumerator() => items.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
}

/// <summary>A list of modules of any type (see <see cref="ModuleList{T}"/> for a typed one).</summary>
public sealed class ModuleList : ModuleList<Module>
{
    /// <summary>A list holding <paramref name="modules"/>, in order.</summary>
    public ModuleList(IEnumerable<Module>? modules = null) : base(modules) { }
}
