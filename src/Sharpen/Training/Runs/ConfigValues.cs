using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sharpen.Training;

/// <summary>
/// Option values ↔ YAML text, with the YAML 1.2 core-schema scalar rules: <c>null</c>/<c>~</c>/empty is null,
/// <c>true</c>/<c>false</c> are booleans, <c>12</c>, <c>0x1f</c>, <c>0o17</c> integers, <c>1e-4</c>, <c>.5</c>,
/// <c>.inf</c>, <c>.nan</c> floats. A quoted scalar is a string, so it only binds to string options (and enums).
/// </summary>
static partial class ConfigValues
{
    [GeneratedRegex(@"^[-+]?[0-9]+$")] private static partial Regex Decimal();
    [GeneratedRegex(@"^0x[0-9a-fA-F]+$")] private static partial Regex Hex();
    [GeneratedRegex(@"^0o[0-7]+$")] private static partial Regex Octal();
    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")] private static partial Regex Float();
    [GeneratedRegex(@"^[-+]?\.(inf|Inf|INF)$")] private static partial Regex Infinity();
    [GeneratedRegex(@"^\.(nan|NaN|NAN)$")] private static partial Regex NaN();
    [GeneratedRegex(@"^[A-Za-z0-9_/][A-Za-z0-9_./+-]*$")] private static partial Regex SafePlain();

    static readonly Type[] Scalars = [typeof(string), typeof(int), typeof(long), typeof(double), typeof(bool)];
    static readonly Type[] ListElements = [typeof(string), typeof(int), typeof(double)];

    /// <summary>Whether an option may have type <paramref name="t"/>.</summary>
    public static bool IsSupported(Type t)
    {
        var u = Nullable.GetUnderlyingType(t) ?? t;
        return Scalars.Contains(u) || u.IsEnum || ListElement(u) is { } e && ListElements.Contains(e);
    }

    static Type? ListElement(Type t) =>
        t.IsGenericType && t.GetGenericTypeDefinition() == typeof(List<>) ? t.GetGenericArguments()[0] : null;

    /// <summary>The type as users read it: <c>float</c>, <c>int or null</c>, <c>list of int</c>,
    /// <c>one of cosine|linear</c>.</summary>
    public static string TypeName(Type t, bool nullable)
    {
        var u = Nullable.GetUnderlyingType(t) ?? t;
        var name = ListElement(u) is { } e ? "list of " + TypeName(e, false)
            : u.IsEnum ? "one of " + string.Join("|", Enum.GetNames(u).Select(ConfigSchema.SnakeCase))
            : u == typeof(double) ? "float" : u == typeof(int) ? "int" : u == typeof(long) ? "long"
            : u == typeof(bool) ? "bool" : "string";
        return nullable ? name + " or null" : name;
    }

    /// <summary>Converts a YAML node to a value of type <paramref name="t"/>.</summary>
    /// <exception cref="FormatException">The node does not fit; the message is the offending text as written.</exception>
    public static object? FromNode(YamlNode node, Type t, bool nullable)
    {
        var u = Nullable.GetUnderlyingType(t) ?? t;
        if (node is YamlScalarNode s && nullable && IsNull(s)) return null;
        if (ListElement(u) is { } e)
        {
            if (node is not YamlSequenceNode seq) throw new FormatException(Describe(node));
            var list = (System.Collections.IList)Activator.CreateInstance(u)!;
            foreach (var item in seq.Children)
            {
                if (item is not YamlScalarNode si) throw new FormatException(Describe(item) + " in the list");
                try
                {
                    list.Add(FromScalar(si, e));
                }
                catch (FormatException)
                {
                    throw new FormatException(Describe(si) + " in the list");
                }
            }
            return list;
        }
        return node is YamlScalarNode scalar ? FromScalar(scalar, u) : throw new FormatException(Describe(node));
    }

    static object FromScalar(YamlScalarNode node, Type t)
    {
        var text = node.Value ?? "";
        bool plain = node.Style is ScalarStyle.Plain or ScalarStyle.Any;
        if (t == typeof(string)) return text;
        if (t.IsEnum)
            return Enum.GetNames(t).FirstOrDefault(n => ConfigSchema.SnakeCase(n) == text) is { } name
                ? Enum.Parse(t, name) : throw new FormatException(Describe(node));
        if (!plain) throw new FormatException(Describe(node));
        if (t == typeof(bool))
            return text switch
            {
                "true" or "True" or "TRUE" => true,
                "false" or "False" or "FALSE" => false,
                _ => throw new FormatException(Describe(node)),
            };
        if (t == typeof(int) || t == typeof(long))
        {
            var v = ParseInteger(text) ?? throw new FormatException(Describe(node));
            if (t == typeof(long)) return v;
            return v is >= int.MinValue and <= int.MaxValue ? (int)v : throw new FormatException(Describe(node));
        }
        if (t == typeof(double))
        {
            if (Infinity().IsMatch(text)) return text[0] == '-' ? double.NegativeInfinity : double.PositiveInfinity;
            if (NaN().IsMatch(text)) return double.NaN;
            if (Float().IsMatch(text)) return double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
            if (ParseInteger(text) is { } i) return (double)i;
            throw new FormatException(Describe(node));
        }
        throw new InvalidOperationException($"unsupported option type {t.Name}");
    }

    static long? ParseInteger(string text)
    {
        if (Decimal().IsMatch(text))
            return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var d) ? d : null;
        ulong u;
        if (Hex().IsMatch(text))
        {
            if (!ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out u)) return null;
        }
        else if (Octal().IsMatch(text))
        {
            try { u = Convert.ToUInt64(text[2..], 8); }
            catch (OverflowException) { return null; }
        }
        else return null;
        return u <= long.MaxValue ? (long)u : null;
    }

    static bool IsNull(YamlScalarNode s) =>
        s.Style is ScalarStyle.Plain or ScalarStyle.Any && s.Value is null or "" or "~" or "null" or "Null" or "NULL";

    static string Describe(YamlNode node) => node switch
    {
        YamlScalarNode s when s.Style is ScalarStyle.Plain or ScalarStyle.Any => $"'{s.Value}'",
        YamlScalarNode s => $"the quoted string \"{s.Value}\"",
        YamlSequenceNode => "a list",
        YamlMappingNode => "a mapping",
        _ => node.ToString(),
    };

    /// <summary>The YAML text of an option value; <see cref="FromNode"/> reads it back to an equal value.</summary>
    public static string Format(object? value) => value switch
    {
        null => "null",
        bool b => b ? "true" : "false",
        int or long => Convert.ToString(value, CultureInfo.InvariantCulture)!,
        double d => FormatDouble(d),
        string s => FormatString(s),
        Enum e => ConfigSchema.SnakeCase(e.ToString()),
        System.Collections.IList list => "[" + string.Join(", ", list.Cast<object?>().Select(Format)) + "]",
        _ => throw new InvalidOperationException($"unsupported option value {value.GetType().Name}"),
    };

    static string FormatDouble(double d)
    {
        if (double.IsNaN(d)) return ".nan";
        if (double.IsInfinity(d)) return d > 0 ? ".inf" : "-.inf";
        // Always with a '.', so YAML 1.1 readers (PyYAML) also see a float: 1e-08 → 1.0e-08, 2 → 2.0.
        var s = d.ToString("R", CultureInfo.InvariantCulture).Replace('E', 'e');
        if (s.Contains('.')) return s;
        int e = s.IndexOf('e');
        return e < 0 ? s + ".0" : s[..e] + ".0" + s[e..];
    }

    /// <summary>A string plain when YAML would read it back as the same string, double-quoted otherwise.</summary>
    static string FormatString(string s)
    {
        bool resolvesToOtherType = s is "" or "~" or "null" or "Null" or "NULL" or "true" or "True" or "TRUE"
            or "false" or "False" or "FALSE" || ParseInteger(s) != null || Float().IsMatch(s);
        if (!resolvesToOtherType && SafePlain().IsMatch(s)) return s;
        var sb = new StringBuilder("\"");
        foreach (var c in s)
            sb.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                '\n' => "\\n",
                '\t' => "\\t",
                '\r' => "\\r",
                < ' ' or '\x7f' => $"\\u{(int)c:x4}",
                _ => c.ToString(),
            });
        return sb.Append('"').ToString();
    }
}
