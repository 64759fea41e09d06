using System.Collections.Concurrent;
using System.Reflection;
using System.Text;

namespace Sharpen.Training;

/// <summary>One bindable property of a config class: a leaf option or a nested section.</summary>
/// <param name="Key">Dotted snake_case key, e.g. <c>optim.lr</c>.</param>
/// <param name="Path">Properties from the root config to this one.</param>
/// <param name="Nullable">Whether <c>null</c> is a legal value.</param>
/// <param name="Option">The documentation; null for sections.</param>
sealed record ConfigEntry(string Key, PropertyInfo[] Path, bool Nullable, OptionAttribute? Option)
{
    /// <summary>The property's declared type.</summary>
    public Type Type => Path[^1].PropertyType;

    /// <summary>True for a nested config class (a YAML mapping), false for a leaf option.</summary>
    public bool IsSection => Option == null;

    /// <summary>Reads this entry's value from <paramref name="root"/>; null if a section on the way is null.</summary>
    public object? Get(object root)
    {
        object? o = root;
        foreach (var p in Path)
        {
            if (o == null) return null;
            o = p.GetValue(o);
        }
        return o;
    }

    /// <summary>Writes <paramref name="value"/> into <paramref name="root"/>, creating null sections on the way.</summary>
    public void Set(object root, object? value)
    {
        var o = root;
        foreach (var p in Path[..^1])
        {
            var child = p.GetValue(o);
            if (child == null) p.SetValue(o, child = Activator.CreateInstance(p.PropertyType)!);
            o = child;
        }
        Path[^1].SetValue(o, value);
    }
}

/// <summary>The options and sections of a config class, found by reflection and cached per type.</summary>
sealed class ConfigSchema
{
    static readonly ConcurrentDictionary<Type, ConfigSchema> Cache = new();

    /// <summary>Every entry, sections before their contents, in declaration order.</summary>
    public IReadOnlyList<ConfigEntry> Entries { get; }

    /// <summary>Entries by dotted key.</summary>
    public IReadOnlyDictionary<string, ConfigEntry> ByKey { get; }

    ConfigSchema(Type root)
    {
        var entries = new List<ConfigEntry>();
        Collect(root, "", [], entries, [root]);
        Entries = entries;
        ByKey = entries.ToDictionary(e => e.Key, StringComparer.Ordinal);
    }

    /// <summary>The schema of config class <paramref name="t"/>.</summary>
    public static ConfigSchema Of(Type t) => Cache.GetOrAdd(t, x => new ConfigSchema(x));

    static void Collect(Type t, string prefix, PropertyInfo[] path, List<ConfigEntry> into, HashSet<Type> visiting)
    {
        var props = t.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.CanRead && p.CanWrite && p.GetIndexParameters().Length == 0 && p.SetMethod!.IsPublic)
            .OrderBy(p => p.MetadataToken);
        foreach (var p in props)
        {
            var key = prefix + SnakeCase(p.Name);
            var nullable = System.Nullable.GetUnderlyingType(p.PropertyType) != null
                || (!p.PropertyType.IsValueType && new NullabilityInfoContext().Create(p).WriteState == NullabilityState.Nullable);
            var option = p.GetCustomAttribute<OptionAttribute>();
            PropertyInfo[] sub = [.. path, p];
            if (IsSection(p.PropertyType))
            {
                if (!visiting.Add(p.PropertyType))
                    throw new InvalidOperationException($"config section '{key}' contains itself");
                into.Add(new ConfigEntry(key, sub, nullable, null));
                Collect(p.PropertyType, key + ".", sub, into, visiting);
                visiting.Remove(p.PropertyType);
                continue;
            }
            if (!ConfigValues.IsSupported(p.PropertyType))
                throw new InvalidOperationException($"config option '{key}' has unsupported type {p.PropertyType.Name}");
            if (option == null)
                throw new InvalidOperationException($"config option '{key}' ({t.Name}.{p.Name}) has no [Option] description");
            into.Add(new ConfigEntry(key, sub, nullable, option));
        }
    }

    static bool IsSection(Type t) =>
        t.IsClass && t != typeof(string) && !t.IsGenericType && t.GetConstructor(Type.EmptyTypes) != null;

    /// <summary>The snake_case key of a PascalCase property name: <c>MaxNewTokens</c> → <c>max_new_tokens</c>,
    /// <c>KLCoef</c> → <c>kl_coef</c>, <c>Beta1</c> → <c>beta1</c>.</summary>
    public static string SnakeCase(string name)
    {
        var sb = new StringBuilder(name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c) && i > 0)
            {
                char prev = name[i - 1];
                bool nextLower = i + 1 < name.Length && char.IsLower(name[i + 1]);
                if (char.IsLower(prev) || char.IsDigit(prev) || (char.IsUpper(prev) && nextLower)) sb.Append('_');
            }
            sb.Append(char.ToLowerInvariant(c));
        }
        return sb.ToString();
    }

    /// <summary>The known key closest to <paramref name="key"/> by edit distance, on the whole dotted key or on
    /// its last segment (so <c>lr</c> finds <c>optim.lr</c>).</summary>
    public string Closest(string key)
    {
        string Last(string k) => k[(k.LastIndexOf('.') + 1)..];
        return Entries.Select(e => e.Key)
            .MinBy(k => Math.Min(Levenshtein(key, k), Levenshtein(Last(key), Last(k)) + 1))!;
    }

    static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++) prev[j] = j;
        for (int i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (int j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(prev[j] + 1, cur[j - 1] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }
}
