namespace Sharpen.Models;

using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;

/// <summary>
/// Byte-level BPE (Sennrich et al. 2016, "Neural Machine Translation of Rare Words with Subword Units";
/// byte-level as in GPT-2) read from a Hugging Face <c>tokenizer.json</c>: GPT-2, Llama-3 and Qwen2 files load as they are.
/// <para>Encoding: added tokens are cut out of the text first; each remaining span is normalized (NFC etc. if the
/// file says so), split by the pre-tokenizer (Split regexes, then ByteLevel which shows each UTF-8 byte as one
/// character of <see cref="ByteLevel"/>'s alphabet), and every piece is merged pair by pair, lowest merge rank first
/// (leftmost among equal ranks), until no listed merge applies. Results per piece are cached.</para>
/// <para>Anything the file asks for that is not supported here (another model type, pre-tokenizer, normalizer,
/// decoder or post-processor) is an error that names it. Added tokens are matched on the raw text, before normalization.</para>
/// </summary>
public sealed class BpeTokenizer : ITokenizer
{
    /// <summary>A pre-tokenizer step: splits pieces into smaller pieces.</summary>
    abstract record Step
    {
        /// <summary>Appends the pieces of <paramref name="piece"/> to <paramref name="output"/>.</summary>
        public abstract void Apply(string piece, List<string> output);
    }

    /// <summary>Hugging Face's Split pre-tokenizer with behaviour Isolated (or Removed).</summary>
    sealed record SplitStep(SplitRegex Regex, bool Remove) : Step
    {
        public override void Apply(string piece, List<string> output) => Regex.Split(piece, output, Remove);
    }

    /// <summary>Hugging Face's ByteLevel pre-tokenizer: optional leading space, optional GPT-2 split, bytes to alphabet.</summary>
    sealed record ByteLevelStep(bool AddPrefixSpace, bool UseRegex) : Step
    {
        static readonly SplitRegex gpt2 = new(SplitPatterns.Gpt2);

        public override void Apply(string piece, List<string> output)
        {
            if (AddPrefixSpace && !piece.StartsWith(' ')) piece = " " + piece;
            if (!UseRegex) { output.Add(ByteLevel.Encode(piece)); return; }
            var split = new List<string>();
            gpt2.Split(piece, split);
            foreach (var s in split) output.Add(ByteLevel.Encode(s));
        }
    }

    readonly Dictionary<string, int> vocab;
    readonly Dictionary<int, string> idToToken;
    readonly List<(string Left, string Right)> merges;
    readonly Dictionary<long, (int Rank, int Id)> mergeOf;  // (left id, right id) → rank and merged id
    readonly List<AddedToken> addedTokens;
    readonly Dictionary<string, AddedToken> addedByContent;
    readonly Dictionary<int, AddedToken> addedById;
    readonly AddedTokenMatcher matcher;
    readonly NormalizationForm[] normalization;
    readonly List<Step> steps;
    readonly int[] prefixIds, suffixIds;
    readonly bool ignoreMerges;
    readonly string? unkToken;
    readonly JsonNode? normalizerJson, preTokenizerJson, postProcessorJson, decoderJson;
    readonly ConcurrentDictionary<string, int[]> cache = new();
    const int CacheCapacity = 100_000;
    int? bosId, eosId, padId;

    /// <inheritdoc/>
    public int VocabSize { get; }

    /// <summary>The merges in rank order (rank 0 first), as pairs of tokens.</summary>
    public IReadOnlyList<(string Left, string Right)> Merges => merges;

    /// <summary>The added tokens (special or not), in id order.</summary>
    public IReadOnlyList<AddedToken> AddedTokens => addedTokens;

    /// <summary>The split pattern of the pre-tokenizer's first Split step (or GPT-2's for a lone ByteLevel), or null.</summary>
    public string? SplitPattern { get; }

    /// <inheritdoc/>
    public int? BosId { get => bosId; set => bosId = Known(value); }

    /// <inheritdoc/>
    public int? EosId { get => eosId; set => eosId = Known(value); }

    /// <inheritdoc/>
    public int? PadId { get => padId; set => padId = Known(value); }

    BpeTokenizer(JsonObject root, JsonNode? config, string source)
    {
        var model = root["model"] as JsonObject ?? throw new InputException(source, 0, null, "no \"model\"");
        var type = model["type"]?.GetValue<string>() ?? "BPE";
        if (type != "BPE") throw new InputException(source, 0, null, $"model type \"{type}\" is not supported (only byte-level \"BPE\")");
        if (model["byte_fallback"]?.GetValue<bool>() == true)
            throw new InputException(source, 0, null, "BPE with byte_fallback (SentencePiece style) is not supported, only byte-level BPE");
        foreach (var key in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (model[key] is JsonValue v && v.GetValue<string>() is { Length: > 0 } s)
                throw new InputException(source, 0, null, $"BPE {key} \"{s}\" is not supported");
        if (model["dropout"] is JsonValue d && d.GetValue<double>() > 0)
            throw new InputException(source, 0, null, "BPE dropout is not supported");
        ignoreMerges = model["ignore_merges"]?.GetValue<bool>() ?? false;
        unkToken = model["unk_token"]?.GetValue<string>();

        var vocabJson = model["vocab"] as JsonObject ?? throw new InputException(source, 0, null, "model has no \"vocab\" object");
        vocab = new Dictionary<string, int>(vocabJson.Count, StringComparer.Ordinal);
        idToToken = new Dictionary<int, string>(vocabJson.Count);
        foreach (var (token, id) in vocabJson)
        {
            vocab[token] = id?.GetValue<int>() ?? throw new InputException(source, 0, null, $"vocab entry \"{token}\" has no id");
            idToToken[vocab[token]] = token;
        }

        var mergesJson = model["merges"] as JsonArray ?? throw new InputException(source, 0, null, "model has no \"merges\" list");
        merges = new List<(string, string)>(mergesJson.Count);
        mergeOf = new Dictionary<long, (int, int)>(mergesJson.Count);
        foreach (var m in mergesJson)
        {
            var (left, right) = m switch
            {
                JsonArray { Count: 2 } pair when pair[0] is JsonValue a && pair[1] is JsonValue b => (a.GetValue<string>(), b.GetValue<string>()),
                JsonValue v when v.GetValue<string>().Split(' ') is [var a, var b] => (a, b),
                _ => throw new InputException(source, 0, null, $"merge {m?.ToJsonString()} is neither \"a b\" nor [a, b]"),
            };
            var rank = merges.Count;
            merges.Add((left, right));
            if (!vocab.TryGetValue(left, out var l) || !vocab.TryGetValue(right, out var r) || !vocab.TryGetValue(left + right, out var id))
                throw new InputException(source, 0, null, $"merge \"{left} {right}\" uses or makes a token missing from the vocab");
            mergeOf.TryAdd(Pair(l, r), (rank, id));
        }

        addedTokens = (root["added_tokens"] as JsonArray ?? []).Select(n => AddedToken.FromJson(n!)).OrderBy(t => t.Id).ToList();
        addedByContent = addedTokens.ToDictionary(t => t.Content);
        addedById = addedTokens.ToDictionary(t => t.Id);
        matcher = new AddedTokenMatcher(addedTokens);
        VocabSize = Math.Max(idToToken.Count == 0 ? -1 : idToToken.Keys.Max(), addedTokens.Count == 0 ? -1 : addedTokens[^1].Id) + 1;

        normalizerJson = root["normalizer"]?.DeepClone();
        preTokenizerJson = root["pre_tokenizer"]?.DeepClone();
        postProcessorJson = root["post_processor"]?.DeepClone();
        decoderJson = root["decoder"]?.DeepClone();
        normalization = ParseNormalizer(normalizerJson, source);
        steps = [];
        ParsePreTokenizer(preTokenizerJson, source);
        if (steps.Count == 0 || steps[^1] is not ByteLevelStep || steps.Count(s => s is ByteLevelStep) > 1)
            throw new InputException(source, 0, null, "the pre-tokenizer must end with one ByteLevel step (byte-level BPE)");
        SplitPattern = steps[0] switch { SplitStep s => s.Regex.Pattern, ByteLevelStep { UseRegex: true } => SplitPatterns.Gpt2, _ => null };
        var prefix = new List<int>();
        var suffix = new List<int>();
        ParsePostProcessor(postProcessorJson, prefix, suffix, source);
        (prefixIds, suffixIds) = (prefix.ToArray(), suffix.ToArray());
        CheckDecoder(decoderJson, source);

        bosId = FindSpecial(config, "bos_token", "<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>")
                ?? (prefixIds.Length > 0 ? prefixIds[0] : null);
        eosId = FindSpecial(config, "eos_token", "<|end_of_text|>", "<|endoftext|>", "</s>", "<eos>");
        padId = FindSpecial(config, "pad_token", "<pad>", "<|pad|>", "<|finetune_right_pad_id|>");
    }

    /// <summary>Loads a tokenizer.json (or the one inside a directory); a tokenizer_config.json beside it names bos/eos/pad.</summary>
    public static BpeTokenizer FromFile(string path)
    {
        var file = Directory.Exists(path) ? Path.Combine(path, "tokenizer.json") : path;
        var configFile = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, "tokenizer_config.json");
        var config = File.Exists(configFile) ? TokenizerJson.Parse(File.ReadAllText(configFile), configFile) : null;
        return Load(File.ReadAllText(file), config, file);
    }

    /// <summary>
    /// Loads from the text of a tokenizer.json. <paramref name="configJson"/> is an optional tokenizer_config.json
    /// whose bos_token/eos_token/pad_token are used; without it they are guessed from usual names. Malformed or
    /// unsupported content is an <see cref="InputException"/> naming <paramref name="source"/>.
    /// </summary>
    public static BpeTokenizer FromJson(string json, string? configJson = null, string source = "tokenizer.json") =>
        Load(json, configJson is null ? null : TokenizerJson.Parse(configJson, "tokenizer_config.json"), source);

    static BpeTokenizer Load(string json, JsonObject? config, string source)
    {
        var root = TokenizerJson.Parse(json, source);
        return TokenizerJson.Guard(source, () => new BpeTokenizer(root, config, source));
    }

    /// <summary>
    /// Builds a byte-level BPE tokenizer: <paramref name="tokens"/> in id order (byte-alphabet strings), merges in rank
    /// order, special tokens given ids after the vocabulary, pre-tokenizer Split(<paramref name="splitPattern"/>) + ByteLevel.
    /// </summary>
    internal static BpeTokenizer Create(IReadOnlyList<string> tokens, IEnumerable<(string Left, string Right)> merges,
                                        IEnumerable<string> specialTokens, string splitPattern)
    {
        var vocab = new JsonObject();
        for (var i = 0; i < tokens.Count; i++) vocab[tokens[i]] = i;
        var added = new JsonArray();
        foreach (var s in specialTokens)
        {
            vocab[s] = vocab.Count;
            added.Add(new AddedToken(vocab.Count - 1, s, Special: true).ToJson());
        }
        var root = new JsonObject
        {
            ["added_tokens"] = added,
            ["pre_tokenizer"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["pretokenizers"] = new JsonArray(
                    new JsonObject
                    {
                        ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = splitPattern },
                        ["behavior"] = "Isolated", ["invert"] = false,
                    },
                    ByteLevelJson(useRegex: false)),
            },
            ["decoder"] = ByteLevelJson(useRegex: true),
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["vocab"] = vocab,
                ["merges"] = new JsonArray(merges.Select(m => (JsonNode)$"{m.Left} {m.Right}").ToArray()),
            },
        };
        return new BpeTokenizer(root, null, "trained tokenizer");
    }

    static JsonObject ByteLevelJson(bool useRegex) => new()
    {
        ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = useRegex,
    };

    /// <inheritdoc/>
    public int[] Encode(string text, bool addSpecialTokens = false)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens) ids.AddRange(prefixIds);
        var last = 0;
        foreach (var (start, end, token) in matcher.Find(text))
        {
            if (start > last) EncodeSpan(text[last..start], ids);
            ids.Add(token.Id);
            last = end;
        }
        if (last < text.Length) EncodeSpan(last == 0 ? text : text[last..], ids);
        if (addSpecialTokens) ids.AddRange(suffixIds);
        return ids.ToArray();
    }

    /// <summary>Normalizes, pre-tokenizes and merges text that holds no added tokens.</summary>
    void EncodeSpan(string text, List<int> ids)
    {
        foreach (var form in normalization) text = UnicodeNormalizer.Normalize(text, form);
        List<string> pieces = [text];
        foreach (var step in steps)
        {
            var next = new List<string>(pieces.Count * 2);
            foreach (var p in pieces) step.Apply(p, next);
            pieces = next;
        }
        foreach (var p in pieces)
            if (p.Length > 0) ids.AddRange(Merge(p));
    }

    /// <summary>
    /// The BPE of one pre-tokenized piece (alphabet characters): start from single characters and apply the
    /// lowest-rank merge among adjacent pairs (leftmost on ties) until none applies.
    /// </summary>
    int[] Merge(string word)
    {
        if (cache.TryGetValue(word, out var cached)) return cached;
        if (ignoreMerges && vocab.TryGetValue(word, out var whole)) return [whole];

        var n = word.Length;
        var sym = new int[n];       // token id of the symbol starting at i
        var next = new int[n];      // index of the following symbol, or n
        var prev = new int[n];      // index of the preceding symbol, or -1
        for (var i = 0; i < n; i++)
        {
            sym[i] = IdOfSymbol(word[i].ToString());
            (next[i], prev[i]) = (i + 1, i - 1);
        }
        var queue = new PriorityQueue<(int Pos, int Left, int Right), (int Rank, int Pos)>();
        void Push(int i)
        {
            if (i < 0 || next[i] >= n) return;
            if (mergeOf.TryGetValue(Pair(sym[i], sym[next[i]]), out var m)) queue.Enqueue((i, sym[i], sym[next[i]]), (m.Rank, i));
        }
        for (var i = 0; i < n - 1; i++) Push(i);
        while (queue.TryDequeue(out var top, out _))
        {
            var (i, left, right) = top;
            var j = next[i];
            if (sym[i] != left || j >= n || sym[j] != right) continue;  // stale entry
            sym[i] = mergeOf[Pair(left, right)].Id;
            sym[j] = -1;
            next[i] = next[j];
            if (next[i] < n) prev[next[i]] = i;
            Push(prev[i]);
            Push(i);
        }
        var result = new List<int>();
        for (var i = 0; i < n; i = next[i]) result.Add(sym[i]);
        var ids = result.ToArray();
        if (cache.Count >= CacheCapacity) cache.Clear();
        cache[word] = ids;
        return ids;
    }

    int IdOfSymbol(string s) =>
        vocab.TryGetValue(s, out var id) ? id
        : unkToken is not null && vocab.TryGetValue(unkToken, out var unk) ? unk
        : throw new InvalidOperationException($"byte symbol '{s}' is not in the vocab and there is no unk_token");

    static long Pair(int left, int right) => (long)left << 32 | (uint)right;

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new List<byte>(ids.Length * 4);
        foreach (var id in ids)
        {
            if (addedById.TryGetValue(id, out var added))
            {
                if (!(skipSpecialTokens && added.Special)) ByteLevel.AppendBytes(added.Content, bytes);
            }
            else if (idToToken.TryGetValue(id, out var token)) ByteLevel.AppendBytes(token, bytes);
            // ids with no token (padding rows of a larger embedding) decode to nothing, as in Hugging Face
        }
        return Encoding.UTF8.GetString(CollectionsMarshal.AsSpan(bytes));
    }

    /// <inheritdoc/>
    public int? TokenToId(string token) =>
        addedByContent.TryGetValue(token, out var a) ? a.Id : vocab.TryGetValue(token, out var id) ? id : null;

    /// <inheritdoc/>
    public string? IdToToken(int id) =>
        addedById.TryGetValue(id, out var a) ? a.Content : idToToken.GetValueOrDefault(id);

    /// <inheritdoc/>
    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        var vocabJson = new JsonObject();
        foreach (var (token, id) in vocab.OrderBy(kv => kv.Value)) vocabJson[token] = id;
        var model = new JsonObject
        {
            ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = unkToken, ["continuing_subword_prefix"] = null,
            ["end_of_word_suffix"] = null, ["fuse_unk"] = false, ["byte_fallback"] = false,
        };
        if (ignoreMerges) model["ignore_merges"] = true;
        model["vocab"] = vocabJson;
        model["merges"] = new JsonArray(merges.Select(m => (JsonNode)$"{m.Left} {m.Right}").ToArray());
        var root = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null,
            ["added_tokens"] = new JsonArray(addedTokens.Select(t => (JsonNode)t.ToJson()).ToArray()),
            ["normalizer"] = normalizerJson?.DeepClone(), ["pre_tokenizer"] = preTokenizerJson?.DeepClone(),
            ["post_processor"] = postProcessorJson?.DeepClone(), ["decoder"] = decoderJson?.DeepClone(),
            ["model"] = model,
        };
        TokenizerJson.Write(root, Path.Combine(directory, "tokenizer.json"));
        TokenizerJson.WriteConfig(this, directory);
    }

    int? Known(int? id) => id is { } i && IdToToken(i) is null
        ? throw new ArgumentOutOfRangeException(nameof(id), $"token id {i} is not in the vocabulary") : id;

    int? FindSpecial(JsonNode? config, string key, params string[] usualNames)
    {
        if (config is not null)
            return TokenizerJson.ConfigToken(config, key) is { } name ? TokenToId(name) : null;
        foreach (var name in usualNames)
            if (TokenToId(name) is { } id) return id;
        return null;
    }

    static NormalizationForm[] ParseNormalizer(JsonNode? node, string source) => node?["type"]?.GetValue<string>() switch
    {
        null => [],
        "NFC" => [NormalizationForm.FormC],
        "NFD" => [NormalizationForm.FormD],
        "NFKC" => [NormalizationForm.FormKC],
        "NFKD" => [NormalizationForm.FormKD],
        "Sequence" => (node["normalizers"] as JsonArray ?? []).SelectMany(n => ParseNormalizer(n, source)).ToArray(),
        var t => throw new InputException(source, 0, null, $"normalizer \"{t}\" is not supported (NFC, NFD, NFKC, NFKD or a Sequence of them)"),
    };

    void ParsePreTokenizer(JsonNode? node, string source)
    {
        switch (node?["type"]?.GetValue<string>())
        {
            case null:
                return;
            case "Sequence":
                foreach (var p in node["pretokenizers"] as JsonArray ?? []) ParsePreTokenizer(p, source);
                return;
            case "ByteLevel":
                steps.Add(new ByteLevelStep(node["add_prefix_space"]?.GetValue<bool>() ?? false, node["use_regex"]?.GetValue<bool>() ?? true));
                return;
            case "Split":
                var behavior = node["behavior"]?.GetValue<string>();
                if (behavior is not ("Isolated" or "Removed") || node["invert"]?.GetValue<bool>() == true)
                    throw new InputException(source, 0, null, $"Split behavior \"{behavior}\"{(node["invert"]?.GetValue<bool>() == true ? " with invert" : "")} is not supported (Isolated or Removed)");
                var pattern = node["pattern"]?["Regex"]?.GetValue<string>()
                              ?? System.Text.RegularExpressions.Regex.Escape(node["pattern"]?["String"]?.GetValue<string>()
                                                                            ?? throw new InputException(source, 0, null, "Split has no pattern"));
                steps.Add(new SplitStep(new SplitRegex(pattern), behavior == "Removed"));
                return;
            case var t:
                throw new InputException(source, 0, null, $"pre-tokenizer \"{t}\" is not supported (ByteLevel, Split, Sequence)");
        }
    }

    void ParsePostProcessor(JsonNode? node, List<int> prefix, List<int> suffix, string source)
    {
        switch (node?["type"]?.GetValue<string>())
        {
            case null or "ByteLevel":
                return;
            case "Sequence":
                foreach (var p in node["processors"] as JsonArray ?? []) ParsePostProcessor(p, prefix, suffix, source);
                return;
            case "TemplateProcessing":
                var seen = false;
                foreach (var item in node["single"] as JsonArray ?? [])
                {
                    if (item?["Sequence"] is not null) { seen = true; continue; }
                    var name = item?["SpecialToken"]?["id"]?.GetValue<string>()
                               ?? throw new InputException(source, 0, null, $"TemplateProcessing item {item?.ToJsonString()} is not understood");
                    var ids = node["special_tokens"]?[name]?["ids"] as JsonArray
                              ?? throw new InputException(source, 0, null, $"TemplateProcessing names \"{name}\" but does not list its ids");
                    (seen ? suffix : prefix).AddRange(ids.Select(i => i?.GetValue<int>() ?? throw new InputException(source, 0, null, $"TemplateProcessing lists a null id for \"{name}\"")));
                }
                return;
            case var t:
                throw new InputException(source, 0, null, $"post-processor \"{t}\" is not supported (ByteLevel, TemplateProcessing, Sequence)");
        }
    }

    static void CheckDecoder(JsonNode? node, string source)
    {
        var type = node?["type"]?.GetValue<string>();
        if (type == "Sequence" && (node!["decoders"] as JsonArray ?? []).All(d => d?["type"]?.GetValue<string>() == "ByteLevel")) return;
        if (type != "ByteLevel")
            throw new InputException(source, 0, null, $"decoder \"{type ?? "null"}\" is not supported (ByteLevel)");
    }
}
