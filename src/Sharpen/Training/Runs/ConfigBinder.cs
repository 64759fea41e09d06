using System.Runtime.CompilerServices;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sharpen.Training;

/// <summary>
/// Binds typed config classes to YAML recipes and <c>--set key=value</c> overrides (docs/runs.md).
/// Keys are the snake_case names of the public read/write properties; a property whose type is a class
/// with a parameterless constructor is a nested section, written as a YAML mapping or with dotted keys
/// (<c>optim.lr</c>). Leaf options carry an <see cref="OptionAttribute"/> and have one of the types string,
/// int, long, double, bool, an enum (snake_case member names), <c>List&lt;string|int|double&gt;</c>, or their
/// nullable forms. Defaults are whatever <c>new T()</c> holds.
/// </summary>
public static class ConfigBinder
{
    // Where each key of a loaded config got its value ("recipe.yaml:12", "--set train.lr=1e-3"); "" holds the file.
    static readonly ConditionalWeakTable<object, Dictionary<string, string>> origins = new();

    /// <summary>
    /// Builds a <typeparamref name="T"/> from its defaults, then the YAML file at <paramref name="yamlPath"/>
    /// (if any), then each <c>key=value</c> in <paramref name="sets"/> in order, the value read with the YAML
    /// scalar rules for the key's type (<c>optim.lr=3e-4</c>, <c>tags=[a, b]</c>, <c>name=my run</c>).
    /// </summary>
    /// <exception cref="ConfigException">Missing file, bad YAML, unknown key (with the closest known key),
    /// or a value of the wrong type (naming the key, the expected type and the value).</exception>
    public static T Load<T>(string? yamlPath, IEnumerable<string> sets) where T : new()
    {
        var schema = ConfigSchema.Of(typeof(T));
        var config = new T();
        if (yamlPath != null)
        {
            origins.GetOrCreateValue(config)[""] = yamlPath;
            ApplyFile(schema, config, yamlPath);
        }
        foreach (var set in sets) ApplySet(schema, config, set);
        return config;
    }

    /// <summary>
    /// Where <paramref name="key"/> of a config made by <see cref="Load{T}"/> got its value: <c>file:line</c> for a key
    /// of the YAML file, <c>--set key=value</c> for an override, or the file alone (null without one) for a default.
    /// </summary>
    public static string? Origin(object config, string key) =>
        origins.TryGetValue(config, out var o) ? o.GetValueOrDefault(key) ?? o.GetValueOrDefault("") : null;

    /// <summary>
    /// A <see cref="ConfigException"/> for a value of <paramref name="key"/> in <paramref name="config"/> that binds but
    /// is not allowed: <c>origin: key = value: problem</c>, the origin as <see cref="Origin"/> finds it (for an override,
    /// <c>--set key=value: problem</c>).
    /// </summary>
    public static ConfigException Invalid(object config, string key, string problem)
    {
        var entry = ConfigSchema.Of(config.GetType()).ByKey[key];
        var where = Origin(config, key);
        var line = where is not null && where.LastIndexOf(':') is > 0 and var colon && int.TryParse(where[(colon + 1)..], out var l) ? l : (int?)null;
        var file = where is null || where.StartsWith("--set", StringComparison.Ordinal) ? null : line is null ? where : where[..where.LastIndexOf(':')];
        var text = where is not null && file is null ? problem : $"{key} = {ConfigValues.Format(entry.Get(config))}: {problem}";   // --set k=v shows them
        return new ConfigException(where is null ? text : $"{where}: {text}", key, file, line);
    }

    /// <summary>One line per leaf option — dotted key, type, default, unit, description — in columns
    /// (what <c>sharpen train --help-config</c> prints).</summary>
    public static string Help<T>() where T : new()
    {
        var defaults = new T();
        var rows = ConfigSchema.Of(typeof(T)).Entries.Where(e => !e.IsSection)
            .Select(e => new[]
            {
                e.Key, ConfigValues.TypeName(e.Type, e.Nullable), ConfigValues.Format(e.Get(defaults)),
                e.Option!.Unit, e.Option.Description,
            })
            .ToList();
        string[] header = ["key", "type", "default", "unit", "description"];
        var widths = Enumerable.Range(0, 4).Select(c => rows.Append(header).Max(r => r[c].Length)).ToArray();
        var sb = new StringBuilder();
        foreach (var r in rows.Prepend(header))
            sb.Append(string.Join("  ", r.Take(4).Select((cell, c) => cell.PadRight(widths[c])))).Append("  ").AppendLine(r[4]);
        return sb.ToString();
    }

    /// <summary>The resolved <paramref name="config"/> as YAML, every key present (nested sections as
    /// indented mappings, lists in flow style); <see cref="Load{T}"/> reads it back to an equal config.</summary>
    public static string ToYaml<T>(T config) where T : new()
    {
        ArgumentNullException.ThrowIfNull(config);
        var sb = new StringBuilder();
        var nullSections = new List<string>();
        foreach (var e in ConfigSchema.Of(typeof(T)).Entries)
        {
            if (nullSections.Any(s => e.Key.StartsWith(s + ".", StringComparison.Ordinal))) continue;
            var indent = new string(' ', 2 * (e.Path.Length - 1));
            var name = e.Key[(e.Key.LastIndexOf('.') + 1)..];
            var value = e.Get(config);
            if (e.IsSection && value != null) sb.Append(indent).Append(name).AppendLine(":");
            else
            {
                if (e.IsSection) nullSections.Add(e.Key);
                sb.Append(indent).Append(name).Append(": ").AppendLine(ConfigValues.Format(value));
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// The leaf options whose values differ between <paramref name="before"/> and <paramref name="after"/>, in schema
    /// order, each value formatted as <see cref="ToYaml{T}"/> writes it.
    /// </summary>
    public static IReadOnlyList<ConfigChange> Diff<T>(T before, T after) where T : new()
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        return ConfigSchema.Of(typeof(T)).Entries.Where(e => !e.IsSection)
            .Select(e => new ConfigChange(e.Key, ConfigValues.Format(e.Get(before)), ConfigValues.Format(e.Get(after))))
            .Where(c => c.Old != c.New)
            .ToList();
    }

    static void ApplyFile(ConfigSchema schema, object config, string path)
    {
        if (!File.Exists(path)) throw new ConfigException($"config file not found: {path}", file: path);
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            stream.Load(reader);
        }
        catch (YamlException ex)
        {
            throw new ConfigException($"{path}:{ex.Start.Line}:{ex.Start.Column}: invalid YAML: {ex.Message}",
                file: path, line: (int)ex.Start.Line);
        }
        if (stream.Documents.Count > 1)
            throw new ConfigException($"{path}: expected one YAML document, found {stream.Documents.Count}", file: path);
        if (stream.Documents.Count == 0) return;
        switch (stream.Documents[0].RootNode)
        {
            case YamlMappingNode map: ApplyMapping(schema, config, map, "", path); break;
            case YamlScalarNode { Value: null or "" }: break;
            case var root:
                throw new ConfigException($"{path}:{root.Start.Line}: expected a mapping of keys at the top level",
                    file: path, line: (int)root.Start.Line);
        }
    }

    static void ApplyMapping(ConfigSchema schema, object config, YamlMappingNode map, string prefix, string file)
    {
        foreach (var (keyNode, valueNode) in map.Children)
        {
            var line = (int)keyNode.Start.Line;
            var where = $"{file}:{line}:{keyNode.Start.Column}";
            if (keyNode is not YamlScalarNode { Value: { } name })
                throw new ConfigException($"{where}: keys must be plain names", file: file, line: line);
            var key = prefix + name;
            if (!schema.ByKey.TryGetValue(key, out var entry))
                throw new ConfigException($"{where}: unknown key '{key}'; did you mean '{schema.Closest(key)}'?",
                    key, file, line);
            if (entry.IsSection && valueNode is YamlMappingNode sub)
            {
                if (entry.Get(config) == null) entry.Set(config, Activator.CreateInstance(entry.Type));
                ApplyMapping(schema, config, sub, key + ".", file);
            }
            else Assign(config, entry, valueNode, where, file, line);
        }
    }

    static void ApplySet(ConfigSchema schema, object config, string set)
    {
        var where = $"--set {set}";
        int eq = set.IndexOf('=');
        if (eq <= 0) throw new ConfigException($"{where}: expected key=value");
        var key = set[..eq].Trim();
        var text = set[(eq + 1)..];
        if (!schema.ByKey.TryGetValue(key, out var entry))
            throw new ConfigException($"{where}: unknown key '{key}'; did you mean '{schema.Closest(key)}'?", key);
        Assign(config, entry, ParseSetValue(entry, text, where), where, null, null);
    }

    /// <summary>The YAML node of a <c>--set</c> value: string options take the text verbatim unless it is
    /// quoted or (for nullable strings) a null literal; every other type parses it as a YAML document.</summary>
    static YamlNode ParseSetValue(ConfigEntry entry, string text, string where)
    {
        var isString = (Nullable.GetUnderlyingType(entry.Type) ?? entry.Type) == typeof(string);
        if (isString && !text.StartsWith('"') && !text.StartsWith('\'')) return new YamlScalarNode(text);
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException)
        {
            throw new ConfigException(
                $"{where}: '{entry.Key}' expects {ConfigValues.TypeName(entry.Type, entry.Nullable)}, got '{text}'", entry.Key);
        }
        return stream.Documents.Count == 0 ? new YamlScalarNode("") : stream.Documents[0].RootNode;
    }

    static void Assign(object config, ConfigEntry entry, YamlNode node, string where, string? file, int? line)
    {
        origins.GetOrCreateValue(config)[entry.Key] = file is null ? where : $"{file}:{line}";
        if (entry.IsSection)
        {
            if (entry.Nullable && node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" })
            {
                entry.Set(config, null);
                return;
            }
            throw new ConfigException($"{where}: '{entry.Key}' is a section; expected a mapping of its keys", entry.Key, file, line);
        }
        try
        {
            entry.Set(config, ConfigValues.FromNode(node, entry.Type, entry.Nullable));
        }
        catch (FormatException ex)
        {
            var type = ConfigValues.TypeName(entry.Type, entry.Nullable);
            throw new ConfigException($"{where}: '{entry.Key}' expects {type}, got {ex.Message}", entry.Key, file, line);
        }
    }
}

/// <summary>One option that differs between two configs.</summary>
/// <param name="Key">Dotted key, e.g. <c>train.lr</c>.</param>
/// <param name="Old">The value before, as YAML.</param>
/// <param name="New">The value after, as YAML.</param>
public sealed record ConfigChange(string Key, string Old, string New);
