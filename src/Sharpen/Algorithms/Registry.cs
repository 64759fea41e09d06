namespace Sharpen.Algorithms;

/// <summary>
/// Parts registered under names (docs/algorithms.md): recipes pick advantage estimators, policy losses, preference
/// losses, KL estimators and aggregations by name. An unknown name is an error listing the known ones.
/// </summary>
/// <typeparam name="T">The part's type (a function or an interface).</typeparam>
public sealed class Registry<T>
{
    readonly Dictionary<string, T> parts = new(StringComparer.Ordinal);
    readonly string kind;

    /// <summary>A registry of <paramref name="kind"/> (used in error messages, e.g. "preference loss").</summary>
    public Registry(string kind) => this.kind = kind;

    /// <summary>Registers <paramref name="part"/> under <paramref name="name"/>; names are unique.</summary>
    public Registry<T> Add(string name, T part)
    {
        if (!parts.TryAdd(name, part)) throw new InvalidOperationException($"{kind} '{name}' is registered twice");
        return this;
    }

    /// <summary>The part named <paramref name="name"/>.</summary>
    public T Get(string name) => parts.TryGetValue(name, out var p) ? p
        : throw new ArgumentException($"unknown {kind} '{name}'; known: {string.Join(", ", parts.Keys.Order())}");

    /// <summary>Registered names.</summary>
    public IReadOnlyCollection<string> Names => parts.Keys;
}
