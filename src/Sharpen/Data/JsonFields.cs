namespace Sharpen.Data;

using System.Text.Json;
using System.Text.Json.Nodes;

/// <summary>
/// Typed access to the fields of one JSON object; every failure is a <see cref="DataFormatException"/> naming the
/// field by its path (<paramref name="path"/> prefixes nested fields, e.g. "messages[2].").
/// </summary>
internal readonly struct JsonFields(JsonObject json, string path = "")
{
    /// <summary>True when <paramref name="name"/> is present and not null.</summary>
    public bool Has(string name) => json[name] is not null;

    /// <summary>An error about field <paramref name="name"/>.</summary>
    public DataFormatException Error(string name, string detail) => new(path + name, detail);

    JsonNode Required(string name) => json[name] ?? throw Error(name, "is missing");

    JsonValueKind Kind(JsonNode node) => node.GetValueKind();

    /// <summary>A required string.</summary>
    public string String(string name) => AsString(name, Required(name));

    /// <summary>An optional string (null when absent).</summary>
    public string? OptionalString(string name) => json[name] is { } n ? AsString(name, n) : null;

    string AsString(string name, JsonNode n) =>
        Kind(n) == JsonValueKind.String ? n.GetValue<string>() : throw Error(name, $"must be a string, not {Describe(n)}");

    /// <summary>A required string, or a number written as its JSON text ("42", "3.5").</summary>
    public string StringOrNumber(string name)
    {
        var n = Required(name);
        return Kind(n) == JsonValueKind.Number ? n.ToJsonString() : AsString(name, n);
    }

    /// <summary>An optional id: a string or a number (kept as its JSON text).</summary>
    public string? OptionalId(string name) => Has(name) ? StringOrNumber(name) : null;

    /// <summary>A required boolean.</summary>
    public bool Bool(string name) => AsBool(name, Required(name));

    /// <summary>An optional boolean.</summary>
    public bool? OptionalBool(string name) => json[name] is { } n ? AsBool(name, n) : null;

    bool AsBool(string name, JsonNode n) => Kind(n) switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Error(name, $"must be true or false, not {Describe(n)}"),
    };

    /// <summary>An optional finite number.</summary>
    public double? OptionalDouble(string name) => json[name] is { } n ? AsDouble(name, n) : null;

    /// <summary>An optional finite number ≥ 0 (a sample weight).</summary>
    public double? OptionalNonNegative(string name) => OptionalDouble(name) is { } d
        ? d >= 0 ? d : throw Error(name, $"must be ≥ 0, not {d}")
        : null;

    /// <summary>A finite number.</summary>
    public double AsDouble(string name, JsonNode n) =>
        Kind(n) == JsonValueKind.Number && n.GetValue<double>() is var d && double.IsFinite(d) ? d
            : throw Error(name, $"must be a finite number, not {Describe(n)}");

    /// <summary>An integer.</summary>
    public int AsInt(string name, JsonNode n) =>
        Kind(n) == JsonValueKind.Number && n.AsValue().TryGetValue<int>(out var i) ? i
            : throw Error(name, $"must be an integer, not {Describe(n)}");

    /// <summary>An optional integer.</summary>
    public int? OptionalInt(string name) => json[name] is { } n ? AsInt(name, n) : null;

    /// <summary>A required array.</summary>
    public JsonArray Array(string name) => AsArray(name, Required(name));

    /// <summary>An optional array.</summary>
    public JsonArray? OptionalArray(string name) => json[name] is { } n ? AsArray(name, n) : null;

    JsonArray AsArray(string name, JsonNode n) => n as JsonArray ?? throw Error(name, $"must be a list, not {Describe(n)}");

    /// <summary>An optional object (a detached copy).</summary>
    public JsonObject? OptionalObject(string name) => json[name] is { } n
        ? n as JsonObject is { } o ? (JsonObject)o.DeepClone() : throw Error(name, $"must be an object, not {Describe(n)}")
        : null;

    /// <summary>The elements of list <paramref name="name"/> read by <paramref name="read"/>(element path, element).</summary>
    public List<T> List<T>(string name, Func<string, JsonNode, T> read) => Elements(name, Array(name), read);

    /// <summary>Like <see cref="List{T}"/> for an optional list.</summary>
    public List<T>? OptionalList<T>(string name, Func<string, JsonNode, T> read) =>
        OptionalArray(name) is { } a ? Elements(name, a, read) : null;

    List<T> Elements<T>(string name, JsonArray a, Func<string, JsonNode, T> read)
    {
        var result = new List<T>(a.Count);
        for (var i = 0; i < a.Count; i++)
            result.Add(read($"{name}[{i}]", a[i] ?? throw Error($"{name}[{i}]", "is null")));
        return result;
    }

    /// <summary>A string element of a list (<paramref name="elementPath"/> is relative to this object).</summary>
    public string ElementString(string elementPath, JsonNode n) => AsString(elementPath, n);

    /// <summary>Fields of a nested object.</summary>
    public JsonFields Nested(string elementPath, JsonNode n) =>
        n is JsonObject o ? new JsonFields(o, path + elementPath + ".") : throw Error(elementPath, $"must be an object, not {Describe(n)}");

    /// <summary>A required prompt or response: a string or a list of messages.</summary>
    public TextOrMessages TextOrMessages(string name)
    {
        var n = Required(name);
        if (n is JsonArray) return new(List(name, Message));
        return Kind(n) == JsonValueKind.String ? new(n.GetValue<string>())
            : throw Error(name, $"must be a string or a list of messages, not {Describe(n)}");
    }

    /// <summary>A prompt or response element of a list.</summary>
    public TextOrMessages AsTextOrMessages(string elementPath, JsonNode n)
    {
        if (n is JsonArray a) return new(Elements(elementPath, a, Message));
        return Kind(n) == JsonValueKind.String ? new(n.GetValue<string>())
            : throw Error(elementPath, $"must be a string or a list of messages, not {Describe(n)}");
    }

    /// <summary>One chat message at <paramref name="elementPath"/>.</summary>
    public Message Message(string elementPath, JsonNode n)
    {
        var m = Nested(elementPath, n);
        var role = m.String("role");
        if (!Data.Message.Roles.Contains(role))
            throw m.Error("role", $"must be one of {string.Join(", ", Data.Message.Roles)}, not \"{role}\"");
        var toolCalls = m.OptionalArray("tool_calls");
        var content = toolCalls is null ? m.String("content") : m.OptionalString("content") ?? "";
        return new Message(role, content, (JsonArray?)toolCalls?.DeepClone(), m.OptionalString("tool_call_id"));
    }

    static string Describe(JsonNode n) => n.GetValueKind() switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "a list",
        JsonValueKind.Object => "an object",
        _ => "null",
    };
}
