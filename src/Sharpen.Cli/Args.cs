namespace Sharpen.Cli;

using System.Globalization;

/// <summary>
/// Parsed `--name value` options and `--flag` switches of one command. Every option a command reads is
/// declared by reading it; <see cref="EnsureAllUsed"/> then rejects anything the user typed that no
/// option matched, naming it. Every mistake is a <see cref="UsageException"/> (exit 2). <c>--help</c> and
/// <c>-h</c> are switches of every command (<see cref="Help"/>).
/// </summary>
public sealed class Args
{
    readonly Dictionary<string, List<string>> values = new();
    readonly HashSet<string> flags = new();
    readonly HashSet<string> valueless = new();   // --name given last or before another option, with no value
    readonly HashSet<string> used = new();
    readonly List<string> missing = new();        // required options not given
    readonly List<string> positional = new();
    bool positionalRead;

    /// <summary>Positional arguments (those not starting with --); a command that never reads them rejects any.</summary>
    public List<string> Positional
    {
        get
        {
            positionalRead = true;
            return positional;
        }
    }

    /// <summary>
    /// Parses <paramref name="args"/>; <paramref name="flagNames"/> are the switches that take no value. An option's value
    /// is the next argument unless that starts with <c>--</c> (write <c>--name=--value</c> for such a value).
    /// </summary>
    public Args(string[] args, params string[] flagNames)
    {
        var isFlag = new HashSet<string>(flagNames) { "help" };
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a == "-h") a = "--help";
            if (!a.StartsWith("--", StringComparison.Ordinal)) { positional.Add(a); continue; }
            var name = a[2..];
            string? inline = null;
            if (name.Contains('=')) (name, inline) = (name[..name.IndexOf('=')], name[(name.IndexOf('=') + 1)..]);
            if (isFlag.Contains(name) && inline is null) { flags.Add(name); continue; }
            if (isFlag.Contains(name)) throw new UsageException($"option --{name} is a switch and takes no value (got --{name}={inline})");
            if (inline is null && (i + 1 == args.Length || args[i + 1].StartsWith("--", StringComparison.Ordinal)))
            {
                valueless.Add(name);
                continue;
            }
            if (!values.TryGetValue(name, out var list)) values[name] = list = new();
            list.Add(inline ?? args[++i]);
        }
    }

    /// <summary>True when --help (or -h) was given: the command prints its usage and reads nothing else.</summary>
    public bool Help => Flag("help");

    /// <summary>True when --name was given.</summary>
    public bool Flag(string name)
    {
        used.Add(name);
        return flags.Contains(name);
    }

    /// <summary>The last value of --name, or null.</summary>
    public string? Get(string name)
    {
        Use(name);
        return values.TryGetValue(name, out var v) ? v[^1] : null;
    }

    /// <summary>Every value of a repeatable --name.</summary>
    public IReadOnlyList<string> All(string name)
    {
        Use(name);
        return values.TryGetValue(name, out var v) ? v : [];
    }

    void Use(string name)
    {
        used.Add(name);
        if (valueless.Contains(name)) throw new UsageException($"option --{name} needs a value");
    }

    /// <summary>
    /// The value of --name. When it is missing the result is empty and <see cref="EnsureAllUsed"/> reports it (after any
    /// unknown option, which is the likelier mistake), so use the value only after that call.
    /// </summary>
    public string Required(string name)
    {
        if (Get(name) is { } v) return v;
        missing.Add(name);
        return "";
    }

    /// <summary>The integer value of --name, or <paramref name="fallback"/> when it is not given.</summary>
    public int Int(string name, int fallback) => Parse(name, fallback, s => int.Parse(s, CultureInfo.InvariantCulture));

    /// <summary>The number value of --name, or <paramref name="fallback"/> when it is not given.</summary>
    public double Double(string name, double fallback) => Parse(name, fallback, s => double.Parse(s, CultureInfo.InvariantCulture));

    T Parse<T>(string name, T fallback, Func<string, T> parse)
    {
        var s = Get(name);
        if (s is null) return fallback;
        try { return parse(s); }
        catch (Exception e) when (e is FormatException or OverflowException)
        {
            throw new UsageException($"option --{name} expects {(typeof(T) == typeof(int) ? "an integer" : "a number")}, got '{s}'");
        }
    }

    /// <summary>
    /// Rejects options that no reader asked for, positional arguments of a command that takes none (one that takes them
    /// reads <see cref="Positional"/> before this call), and missing required options.
    /// </summary>
    public void EnsureAllUsed()
    {
        var unknown = values.Keys.Concat(flags).Concat(valueless).Where(k => !used.Contains(k)).Distinct().ToList();
        if (unknown.Count > 0)
            throw new UsageException($"unknown option{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => "--" + u))}");
        if (!positionalRead && positional.Count > 0)
            throw new UsageException($"unexpected argument '{positional[0]}' (options are written --name value)");
        if (missing.Count > 0)
            throw new UsageException($"option{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing.Select(m => "--" + m))} {(missing.Count > 1 ? "are" : "is")} required");
    }
}
