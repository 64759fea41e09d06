namespace Sharpen.Models;

using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

/// <summary>Turns text into token ids and back. Implementations are safe to use from several threads.</summary>
public interface ITokenizer
{
    /// <summary>
    /// The token ids of <paramref name="text"/>. Added and special tokens written in the text (e.g. "&lt;|im_end|&gt;")
    /// become their single id. With <paramref name="addSpecialTokens"/> the tokenizer's own prefix/suffix tokens
    /// (such as a beginning-of-text token) are added around the result.
    /// </summary>
    int[] Encode(string text, bool addSpecialTokens = false);

    /// <summary>
    /// The text of <paramref name="ids"/>; special tokens are left out when <paramref name="skipSpecialTokens"/>.
    /// Byte sequences that are not valid UTF-8 become U+FFFD.
    /// </summary>
    string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false);

    /// <summary>One more than the largest token id (ids run from 0 to VocabSize − 1).</summary>
    int VocabSize { get; }

    /// <summary>The beginning-of-sequence token id, if the tokenizer has one.</summary>
    int? BosId { get; }

    /// <summary>The end-of-sequence token id, if the tokenizer has one.</summary>
    int? EosId { get; }

    /// <summary>The padding token id, if the tokenizer has one.</summary>
    int? PadId { get; }

    /// <summary>The id of the token written <paramref name="token"/> (as it appears in tokenizer.json), or null.</summary>
    int? TokenToId(string token);

    /// <summary>The token with id <paramref name="id"/> as tokenizer.json writes it, or null.</summary>
    string? IdToToken(int id);

    /// <summary>Writes <c>tokenizer.json</c> (Hugging Face's format) and <c>tokenizer_config.json</c> into <paramref name="directory"/>.</summary>
    void Save(string directory);
}

/// <summary>Loads whichever tokenizer a tokenizer.json describes.</summary>
public static class TokenizerLoader
{
    /// <summary>
    /// Loads <paramref name="path"/> (a tokenizer.json, or a directory holding one): a byte-level BPE
    /// model gives a <see cref="BpeTokenizer"/>, a character-level WordLevel model a <see cref="CharTokenizer"/>.
    /// </summary>
    /// <exception cref="InputException">The file is missing, is not valid JSON, or describes a tokenizer Sharpen cannot
    /// load; the message names the file (and the line, for bad JSON).</exception>
    public static ITokenizer Load(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "tokenizer.json") : path;
        if (!File.Exists(file)) throw new InputException(file, 0, null, "no such tokenizer file");
        var root = TokenizerJson.Parse(File.ReadAllText(file), file);
        var type = TokenizerJson.Guard(file, () => root["model"]?["type"]?.GetValue<string>());
        return type == CharTokenizer.ModelType ? CharTokenizer.FromFile(file) : BpeTokenizer.FromFile(file);
    }
}

/// <summary>
/// A token added to the vocabulary outside the model (special tokens such as "&lt;|im_start|&gt;"), with
/// Hugging Face's matching options: <paramref name="SingleWord"/> matches only outside words,
/// <paramref name="LStrip"/>/<paramref name="RStrip"/> swallow whitespace on that side.
/// </summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool SingleWord = false,
                                bool LStrip = false, bool RStrip = false, bool Normalized = false)
{
    /// <summary>The entry of tokenizer.json's <c>added_tokens</c> list.</summary>
    public JsonObject ToJson() => new()
    {
        ["id"] = Id, ["content"] = Content, ["single_word"] = SingleWord, ["lstrip"] = LStrip,
        ["rstrip"] = RStrip, ["normalized"] = Normalized, ["special"] = Special,
    };

    /// <summary>Reads an entry of tokenizer.json's <c>added_tokens</c> list.</summary>
    public static AddedToken FromJson(JsonNode node) => new(
        Required(node, "id").GetValue<int>(), Required(node, "content").GetValue<string>(), Flag(node, "special"),
        Flag(node, "single_word"), Flag(node, "lstrip"), Flag(node, "rstrip"), Flag(node, "normalized"));

    static bool Flag(JsonNode node, string name) => node[name]?.GetValue<bool>() ?? false;

    static JsonNode Required(JsonNode node, string name) =>
        node[name] ?? throw new InvalidDataException($"an added_tokens entry has no \"{name}\": {node.ToJsonString()}");
}

/// <summary>Finds added tokens in text: at each position the longest one that matches, leftmost first.</summary>
internal sealed class AddedTokenMatcher
{
    readonly Dictionary<char, AddedToken[]> byFirstChar;

    /// <summary>A matcher for <paramref name="tokens"/>.</summary>
    public AddedTokenMatcher(IEnumerable<AddedToken> tokens) =>
        byFirstChar = tokens.Where(t => t.Content.Length > 0).GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());

    /// <summary>The matches in <paramref name="text"/> as (start, end, token), in order and not overlapping; the span includes stripped whitespace.</summary>
    public List<(int Start, int End, AddedToken Token)> Find(string text)
    {
        var found = new List<(int, int, AddedToken)>();
        if (byFirstChar.Count == 0) return found;
        var lastEnd = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (!byFirstChar.TryGetValue(text[i], out var candidates)) continue;
            foreach (var t in candidates)
            {
                var end = i + t.Content.Length;
                if (end > text.Length || string.CompareOrdinal(text, i, t.Content, 0, t.Content.Length) != 0) continue;
                if (t.SingleWord && (i > 0 && IsWordChar(text[i - 1]) || end < text.Length && IsWordChar(text[end]))) continue;
                var start = i;
                if (t.LStrip) while (start > lastEnd && char.IsWhiteSpace(text[start - 1])) start--;
                if (t.RStrip) while (end < text.Length && char.IsWhiteSpace(text[end])) end++;
                found.Add((start, end, t));
                lastEnd = end;
                i = end - 1;
                break;
            }
        }
        return found;
    }

    static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}

/// <summary>JSON writing shared by the tokenizers: indented, with non-ASCII characters written as themselves.</summary>
internal static class TokenizerJson
{
    static readonly JsonSerializerOptions options = new()
    {
        WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>
    /// The JSON object in <paramref name="text"/> read from <paramref name="source"/>: invalid JSON, a key given twice in
    /// one object, or anything but an object at the top is an <see cref="InputException"/> naming the file and line.
    /// </summary>
    public static JsonObject Parse(string text, string source)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false });
        }
        catch (JsonException e)
        {
            throw InputException.InvalidJson(source, e);
        }
        return node as JsonObject ?? throw new InputException(source, 0, null, "not a JSON object");
    }

    /// <summary>
    /// Runs <paramref name="read"/> (code reading the parsed JSON of <paramref name="source"/>), turning the errors of
    /// ill-typed or malformed values — a string where a number belongs, a missing id, an unsupported regex — into an
    /// <see cref="InputException"/> naming the file.
    /// </summary>
    public static T Guard<T>(string source, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or InvalidDataException or ArgumentException)
        {
            var message = e is ArgumentException { ParamName: { } p } ? e.Message.Replace($" (Parameter '{p}')", "") : e.Message;
            throw new InputException(source, 0, null, message.ReplaceLineEndings(" "), e);
        }
    }

    /// <summary>Writes <paramref name="node"/> to <paramref name="path"/>.</summary>
    public static void Write(JsonNode node, string path) => File.WriteAllText(path, node.ToJsonString(options));

    /// <summary>Writes a <c>tokenizer_config.json</c> naming the bos/eos/pad tokens, for Hugging Face's AutoTokenizer.</summary>
    public static void WriteConfig(ITokenizer tok, string directory)
    {
        JsonNode? Name(int? id) => id is { } i ? tok.IdToToken(i) : null;
        Write(new JsonObject
        {
            ["tokenizer_class"] = "PreTrainedTokenizerFast",
            ["bos_token"] = Name(tok.BosId), ["eos_token"] = Name(tok.EosId), ["pad_token"] = Name(tok.PadId),
        }, Path.Combine(directory, "tokenizer_config.json"));
    }

    /// <summary>The token a tokenizer_config.json entry names: a string, an object with "content", or null.</summary>
    public static string? ConfigToken(JsonNode? config, string key) => config?[key] switch
    {
        JsonValue v when v.TryGetValue<string>(out var s) => s,
        JsonObject o => o["content"]?.GetValue<string>(),
        _ => null,
    };
}
