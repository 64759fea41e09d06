namespace Sharpen.Cli;

using System.Globalization;

/// <summary>
/// Parsed `--name value` options and `--flag` switches of one command. Every option a command reads is
/// declared by reading it; <see cref="EnsureAllUsed"/> then rejects anything the user typed that no
/// option matched, naming it.
/// </summary>
public sealed class Args
{
    readonly Dictionary<string, List<string>> values = new();
    readonly HashSet<string> flags = new();
    readonly HashSet<string> used = new();

    /// <summary>Positional arguments (those not starting with --).</summary>
    public List<string> Positional { get; } = new();

    public Args(string[] args, params string[] flagNames)
    {
        var isFlag = new HashSet<string>(flagNames);
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (!a.StartsWith("--")) { Positional.Add(a); continue; }
            var name = a[2..];
            string? inline = null;
            if (name.Contains('=')) (name, inline) = (name[..name.IndexOf('=')], name[(name.IndexOf('=') + 1)..]);
            if (isFlag.Contains(name) && inline is null) { flags.Add(name); continue; }
            var v = inline ?? (i + 1 < args.Length ? args[++i] : throw new ArgumentException($"option --{name} needs a value"));
            if (!values.TryGetValue(name, out var list)) values[name] = list = new();
            list.Add(v);
        }
    }

    /// <summary>True when --name was given.</summary>
    public bool Flag(string name)
    {
        used.Add(name);
        return flags.Contains(name);
    }

    /// <summary>The last value of --name, or null.</summary>
    public string? Get(string name)
    {
        used.Add(name);
        return values.TryGetValue(name, out var v) ? v[^1] : null;
    }

    /// <summary>Every value of a repeatable --name.</summary>
    public IReadOnlyList<string> All(string name)
    {
        used.Add(name);
        return values.TryGetValue(name, out var v) ? v : [];
    }

    /// <summary>The value of --name, or an error saying it is required.</summary>
    public string Required(string name) => Get(name) ?? throw new ArgumentException($"--{name} is required");

    public int Int(string name, int fallback) => Parse(name, fallback, s => int.Parse(s, CultureInfo.InvariantCulture));
    public double Double(string name, double fallback) => Parse(name, fallback, s => double.Parse(s, CultureInfo.InvariantCulture));

    T Parse<T>(string name, T fallback, Func<string, T> parse)
    {
        var s = Get(name);
        if (s is null) return fallback;
        try { return parse(s); }
        catch (FormatException) { throw new ArgumentException($"--{name} expects a {typeof(T).Name.ToLowerInvariant()}, got '{s}'"); }
    }

    /// <summary>Rejects options that no reader asked for.</summary>
    public void EnsureAllUsed()
    {
        var unknown = values.Keys.Concat(flags).Where(k => !used.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"unknown option(s) {string.Join(", ", unknown.Select(u => "--" + u))}");
    }
}
