namespace Sharpen.Models;

using System.Text;
using System.Text.Json.Nodes;

/// <summary>
/// One token per character of a fixed alphabet, for built-in tasks with small vocabularies. Ids: &lt;pad&gt; 0,
/// &lt;bos&gt; 1, &lt;eos&gt; 2, then any extra special tokens (e.g. "&lt;|im_start|&gt;"), then the alphabet's characters
/// (Unicode code points) in the order given. A character outside the alphabet is an error.
/// <para>Saved as a Hugging Face tokenizer.json with a WordLevel model, a Split pre-tokenizer that isolates every
/// character, a Fuse decoder and a template that adds &lt;bos&gt; — so it loads in Hugging Face's tokenizers too.</para>
/// </summary>
public sealed class CharTokenizer : ITokenizer
{
    /// <summary>The tokenizer.json model type this tokenizer is saved as.</summary>
    public const string ModelType = "WordLevel";

    /// <summary>The special tokens every character tokenizer has, with ids 0, 1, 2.</summary>
    public const string Pad = "<pad>", Bos = "<bos>", Eos = "<eos>";

    const string EveryCharacter = @"[\s\S]";

    readonly string[] tokens;               // id → token
    readonly bool[] special;                // id → is a special token
    readonly Dictionary<string, int> ids;   // token → id
    readonly AddedTokenMatcher matcher;

    /// <summary>The alphabet's characters, in id order.</summary>
    public string Alphabet => string.Concat(tokens.Where((_, i) => !special[i]));

    /// <inheritdoc/>
    public int VocabSize => tokens.Length;

    /// <inheritdoc/>
    public int? BosId => TokenToId(Bos);

    /// <inheritdoc/>
    public int? EosId => TokenToId(Eos);

    /// <inheritdoc/>
    public int? PadId => TokenToId(Pad);

    /// <summary>A tokenizer over the code points of <paramref name="alphabet"/> (each at most once) plus the special tokens.</summary>
    public CharTokenizer(string alphabet, IEnumerable<string>? extraSpecialTokens = null)
        : this(BuildTokens(alphabet, extraSpecialTokens ?? [], out var isSpecial), isSpecial)
    {
    }

    CharTokenizer(string[] tokens, bool[] special)
    {
        this.tokens = tokens;
        this.special = special;
        ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < tokens.Length; i++)
            if (!ids.TryAdd(tokens[i], i))
                throw new ArgumentException($"token \"{tokens[i]}\" appears twice");
        matcher = new AddedTokenMatcher(tokens.Select((t, i) => new AddedToken(i, t, true)).Where(t => special[t.Id]));
    }

    static string[] BuildTokens(string alphabet, IEnumerable<string> extra, out bool[] isSpecial)
    {
        var specials = new[] { Pad, Bos, Eos }.Concat(extra).ToList();
        var tokens = specials.Concat(alphabet.EnumerateRunes().Select(r => r.ToString())).ToArray();
        isSpecial = tokens.Select((_, i) => i < specials.Count).ToArray();
        return tokens;
    }

    /// <summary>Loads a tokenizer.json written by <see cref="Save"/> (or a directory holding one).</summary>
    public static CharTokenizer FromFile(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "tokenizer.json") : path;
        return FromJson(File.ReadAllText(file), file);
    }

    /// <summary>
    /// Loads from the text of a tokenizer.json with a character-level WordLevel model; anything else is an
    /// <see cref="InputException"/> naming <paramref name="source"/>.
    /// </summary>
    public static CharTokenizer FromJson(string json, string source = "tokenizer.json")
    {
        var root = TokenizerJson.Parse(json, source);
        return TokenizerJson.Guard(source, () => FromJson(root, source));
    }

    static CharTokenizer FromJson(JsonObject root, string source)
    {
        var model = root["model"] as JsonObject ?? throw new InputException(source, 0, null, "no \"model\"");
        if (model["type"]?.GetValue<string>() is var type && type != ModelType)
            throw new InputException(source, 0, null, $"model type \"{type}\" is not a character tokenizer ({ModelType})");
        var pattern = root["pre_tokenizer"]?["pattern"]?["Regex"]?.GetValue<string>();
        if (pattern != EveryCharacter)
            throw new InputException(source, 0, null, $"only WordLevel models that split every character ({EveryCharacter}) are supported");
        var specialNames = (root["added_tokens"] as JsonArray ?? []).Select(n => AddedToken.FromJson(n!))
            .Where(t => t.Special).Select(t => t.Content).ToHashSet();
        var vocab = (model["vocab"] as JsonObject ?? throw new InputException(source, 0, null, "model has no \"vocab\""))
            .Select(kv => (Token: kv.Key, Id: kv.Value?.GetValue<int>() ?? throw new InputException(source, 0, null, $"vocab entry \"{kv.Key}\" has no id"))).OrderBy(e => e.Id).ToList();
        for (var i = 0; i < vocab.Count; i++)
        {
            if (vocab[i].Id != i) throw new InputException(source, 0, null, $"vocab ids are not 0..{vocab.Count - 1}");
            if (!specialNames.Contains(vocab[i].Token) && vocab[i].Token.EnumerateRunes().Count() != 1)
                throw new InputException(source, 0, null, $"vocab entry \"{vocab[i].Token}\" is neither special nor one character");
        }
        return new CharTokenizer(vocab.Select(e => e.Token).ToArray(), vocab.Select(e => specialNames.Contains(e.Token)).ToArray());
    }

    /// <inheritdoc/>
    /// <remarks>With <paramref name="addSpecialTokens"/> the result starts with &lt;bos&gt;.</remarks>
    /// <exception cref="ArgumentException">A character is not in the alphabet.</exception>
    public int[] Encode(string text, bool addSpecialTokens = false)
    {
        var result = new List<int>(text.Length + 1);
        if (addSpecialTokens && BosId is { } bos) result.Add(bos);
        var last = 0;
        foreach (var (start, end, token) in matcher.Find(text))
        {
            EncodeCharacters(text, last, start, result);
            result.Add(token.Id);
            last = end;
        }
        EncodeCharacters(text, last, text.Length, result);
        return result.ToArray();
    }

    void EncodeCharacters(string text, int start, int end, List<int> result)
    {
        foreach (var rune in text.AsSpan(start, end - start).EnumerateRunes())
        {
            var s = rune.ToString();
            if (!ids.TryGetValue(s, out var id) || special[id])
                throw new ArgumentException($"character '{s}' (U+{rune.Value:X4}) is not in the tokenizer's alphabet", nameof(text));
            result.Add(id);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Ids outside the vocabulary decode to nothing.</remarks>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var sb = new StringBuilder(ids.Length);
        foreach (var id in ids)
            if ((uint)id < (uint)tokens.Length && !(skipSpecialTokens && special[id])) sb.Append(tokens[id]);
        return sb.ToString();
    }

    /// <inheritdoc/>
    public int? TokenToId(string token) => ids.TryGetValue(token, out var id) ? id : null;

    /// <inheritdoc/>
    public string? IdToToken(int id) => (uint)id < (uint)tokens.Length ? tokens[id] : null;

    /// <inheritdoc/>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var vocab = new JsonObject();
        for (var i = 0; i < tokens.Length; i++) vocab[tokens[i]] = i;
        JsonObject Item(string kind, string id, int typeId) => new() { [kind] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
        var root = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null,
            ["added_tokens"] = new JsonArray(tokens.Select((t, i) => (t, i)).Where(e => special[e.i])
                .Select(e => (JsonNode)new AddedToken(e.i, e.t, true).ToJson()).ToArray()),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = EveryCharacter },
                ["behavior"] = "Isolated", ["invert"] = false,
            },
            ["post_processor"] = BosId is { } bos
                ? new JsonObject
                {
                    ["type"] = "TemplateProcessing",
                    ["single"] = new JsonArray(Item("SpecialToken", Bos, 0), Item("Sequence", "A", 0)),
                    ["pair"] = new JsonArray(Item("SpecialToken", Bos, 0), Item("Sequence", "A", 0), Item("Sequence", "B", 1)),
                    ["special_tokens"] = new JsonObject
                    {
                        [Bos] = new JsonObject { ["id"] = Bos, ["ids"] = new JsonArray(bos), ["tokens"] = new JsonArray(Bos) },
                    },
                }
                : null,
            ["decoder"] = new JsonObject { ["type"] = "Fuse" },
            // "<unk>" is deliberately not in the vocab: an unknown character is an error there too
            ["model"] = new JsonObject { ["type"] = ModelType, ["vocab"] = vocab, ["unk_token"] = "<unk>" },
        };
        TokenizerJson.Write(root, Path.Combine(directory, "tokenizer.json"));
        TokenizerJson.WriteConfig(this, directory);
    }
}
