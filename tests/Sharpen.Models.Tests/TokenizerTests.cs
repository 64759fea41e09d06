namespace Sharpen.Models.Tests;

using System.Text;
using System.Text.Json.Nodes;

/// <summary>
/// Byte-level BPE against hand-derived encodings of a small hand-written tokenizer.json, split patterns against
/// hand-split text, the trainer against a naive recount, and round trips (text → ids → text, save → load).
/// </summary>
public class TokenizerTests
{
    /// <summary>GPT-2's bytes_to_unicode, written out here from its definition (independent of the library's).</summary>
    static char[] Gpt2Alphabet()
    {
        var printable = Enumerable.Range('!', '~' - '!' + 1).Concat(Enumerable.Range(0xA1, 0xAC - 0xA1 + 1))
            .Concat(Enumerable.Range(0xAE, 0xFF - 0xAE + 1)).ToHashSet();
        var map = new char[256];
        var n = 0;
        for (var b = 0; b < 256; b++) map[b] = printable.Contains(b) ? (char)b : (char)(256 + n++);
        return map;
    }

    static readonly char[] alphabet = Gpt2Alphabet();
    static string Bytes(params int[] bytes) => new(bytes.Select(b => alphabet[b]).ToArray());

    /// <summary>
    /// Ids 0..255 are the bytes; merges (rank: result id) 0 h+e:256, 1 l+l:257, 2 he+ll:258, 3 hell+o:259,
    /// 4 Ġ+w:260, 5 o+r:261, 6 Ġw+or:262, 7 Ã+©:263 (é), 8 r+l:264; special &lt;|endoftext|&gt; 265.
    /// Ranks 0-4 are written "a b", the rest [a, b].
    /// </summary>
    static JsonObject HandWrittenJson(JsonNode? postProcessor = null)
    {
        var vocab = new JsonObject();
        for (var b = 0; b < 256; b++) vocab[Bytes(b)] = b;
        string[][] merges = [["h", "e"], ["l", "l"], ["he", "ll"], ["hell", "o"], [Bytes(' '), "w"],
                             ["o", "r"], [Bytes(' ') + "w", "or"], [Bytes(0xC3), Bytes(0xA9)], ["r", "l"]];
        var mergesJson = new JsonArray();
        for (var r = 0; r < merges.Length; r++)
        {
            vocab[merges[r][0] + merges[r][1]] = 256 + r;
            mergesJson.Add(r < 5 ? (JsonNode)$"{merges[r][0]} {merges[r][1]}" : new JsonArray(merges[r][0], merges[r][1]));
        }
        vocab["<|endoftext|>"] = 265;
        return new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = new JsonArray(new JsonObject
            {
                ["id"] = 265, ["content"] = "<|endoftext|>", ["single_word"] = false, ["lstrip"] = false,
                ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            }),
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = true },
            ["post_processor"] = postProcessor,
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel" },
            ["model"] = new JsonObject { ["type"] = "BPE", ["vocab"] = vocab, ["merges"] = mergesJson },
        };
    }

    static readonly BpeTokenizer handWritten = BpeTokenizer.FromJson(HandWrittenJson().ToJsonString());

    public static TheoryData<string, int[]> HandDerived => new()
    {
        { "hello world", [259, 262, 'l', 'd'] },
        { "hello  world", [259, ' ', 262, 'l', 'd'] },            // "hello" " " " world"
        { "café", ['c', 'a', 'f', 263] },                         // é = C3 A9 merged
        { "中", [0xE4, 0xB8, 0xAD] },
        { "🙂", [0xF0, 0x9F, 0x99, 0x82] },
        { " 中🙂", [' ', 0xE4, 0xB8, 0xAD, 0xF0, 0x9F, 0x99, 0x82] },
        { "hello<|endoftext|> world", [259, 265, 262, 'l', 'd'] },
        { "rll", ['r', 257] },                                    // l+l (rank 1) before r+l (rank 8)
        { " orl", [' ', 261, 'l'] },                              // o+r (rank 5) before r+l (rank 8)
        { "I'm 42!\n", ['I', '\'', 'm', ' ', '4', '2', '!', '\n'] },
    };

    [Theory]
    [MemberData(nameof(HandDerived))]
    public void HandWrittenTokenizerEncodesToHandDerivedIdsAndDecodesBack(string text, int[] expected)
    {
        Assert.Equal(expected, handWritten.Encode(text));
        Assert.Equal(text, handWritten.Decode(expected));
    }

    [Fact]
    public void ByteAlphabetAndVocabLookupsFollowGpt2()
    {
        Assert.Equal("Ġ", handWritten.IdToToken(' '));
        Assert.Equal("Ń", handWritten.IdToToken(0xAD));  // the 68th non-printable byte → U+0100 + 67
        Assert.Equal("Ċ", handWritten.IdToToken('\n'));
        Assert.Equal(262, handWritten.TokenToId("Ġwor"));
        Assert.Equal(265, handWritten.TokenToId("<|endoftext|>"));
        Assert.Null(handWritten.TokenToId("nope"));
        Assert.Equal(266, handWritten.VocabSize);
        Assert.Equal(265, handWritten.EosId);
        Assert.Equal(9, handWritten.Merges.Count);
    }

    [Fact]
    public void DecodeSkipsSpecialTokensOnRequestAndReplacesInvalidUtf8LikeHuggingFace()
    {
        Assert.Equal("hello world", handWritten.Decode([259, 265, 262, 'l', 'd'], skipSpecialTokens: true));
        Assert.Equal("hello<|endoftext|>", handWritten.Decode([259, 265]));
        Assert.Equal("\uFFFD", handWritten.Decode([0xC3]));                      // truncated 2-byte sequence
        Assert.Equal("\uFFFD(", handWritten.Decode([0xC3, '(']));
        Assert.Equal("\uFFFDh", handWritten.Decode([0xF0, 0x9F, 'h']));           // one U+FFFD per maximal invalid prefix
        Assert.Equal("\uFFFD\uFFFD", handWritten.Decode([0xFF, 0xFE]));
    }

    [Fact]
    public void TemplatePostProcessorAddsSpecialTokensOnlyWhenAsked()
    {
        var template = JsonNode.Parse("""
            {"type":"TemplateProcessing",
             "single":[{"SpecialToken":{"id":"<|endoftext|>","type_id":0}},{"Sequence":{"id":"A","type_id":0}}],
             "pair":[],
             "special_tokens":{"<|endoftext|>":{"id":"<|endoftext|>","ids":[265],"tokens":["<|endoftext|>"]}}}
            """);
        var tok = BpeTokenizer.FromJson(HandWrittenJson(template).ToJsonString());
        Assert.Equal([265, 259], tok.Encode("hello", addSpecialTokens: true));
        Assert.Equal([259], tok.Encode("hello"));
    }

    [Fact]
    public void SplitSequenceIgnoreMergesAndNfcNormalizerWorkAsInLlama3AndQwen2Files()
    {
        var json = HandWrittenJson();
        json["normalizer"] = new JsonObject { ["type"] = "NFC" };
        json["pre_tokenizer"] = JsonNode.Parse($$"""
            {"type":"Sequence","pretokenizers":[
              {"type":"Split","pattern":{"Regex":{{JsonValue.Create(SplitPatterns.Llama3).ToJsonString()}}},"behavior":"Isolated","invert":false},
              {"type":"ByteLevel","add_prefix_space":false,"trim_offsets":true,"use_regex":false}]}
            """);
        json["model"]!["vocab"]!["Ġworld"] = 266;  // reachable only as a whole word: merges stop at Ġwor + l + d
        var merging = BpeTokenizer.FromJson(json.ToJsonString());
        json["model"]!["ignore_merges"] = true;
        var whole = BpeTokenizer.FromJson(json.ToJsonString());

        Assert.Equal([259, 262, 'l', 'd'], merging.Encode("hello world"));
        Assert.Equal([259, 266], whole.Encode("hello world"));
        Assert.Equal(['c', 'a', 'f', 263], merging.Encode("cafe\u0301"));   // e + combining acute → é
        Assert.Equal(['1', '2', '3', '4'], merging.Encode("1234"));        // "123" "4": no merges apply either way
        Assert.Equal(SplitPatterns.Llama3, merging.SplitPattern);
    }

    [Fact]
    public void UnsupportedModelsAndPreTokenizersAreErrorsThatNameThem()
    {
        var unigram = HandWrittenJson();
        unigram["model"]!["type"] = "Unigram";
        Assert.Equal("tokenizer.json: model type \"Unigram\" is not supported (only byte-level \"BPE\")",
            Assert.Throws<InputException>(() => BpeTokenizer.FromJson(unigram.ToJsonString())).Message);
        var metaspace = HandWrittenJson();
        metaspace["pre_tokenizer"] = new JsonObject { ["type"] = "Metaspace" };
        Assert.Equal("my/tokenizer.json: pre-tokenizer \"Metaspace\" is not supported (ByteLevel, Split, Sequence)",
            Assert.Throws<InputException>(() => BpeTokenizer.FromJson(metaspace.ToJsonString(), source: "my/tokenizer.json")).Message);
    }

    [Fact]
    public void MalformedTokenizerFilesAreErrorsNamingFileAndLine()
    {
        var dir = Directory.CreateTempSubdirectory("tok-bad-").FullName;
        try
        {
            var good = HandWrittenJson().ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true });
            var file = Path.Combine(dir, "tokenizer.json");
            InputException Load(string text)
            {
                File.WriteAllText(file, text);
                return Assert.Throws<InputException>(() => TokenizerLoader.Load(dir));
            }

            // Truncated: the parser's line, and the file named.
            var lines = good.Split('\n');
            var cut = Load(string.Join('\n', lines[..5]));
            Assert.StartsWith($"{file}:5: invalid JSON", cut.Message);
            Assert.Equal((file, 5), (cut.File, cut.Line));
            Assert.StartsWith($"{file}:1: invalid JSON", Load("").Message);
            Assert.Equal($"{file}: not a JSON object", Load("[1, 2]").Message);
            Assert.Equal($"{file}: the key \"model\" appears twice in one object", Load("""{"model": {}, "model": {}}""").Message);
            // Ill-typed values: a string where a token id belongs.
            var json = HandWrittenJson();
            json["model"]!["vocab"]!["a"] = "zero";
            Assert.StartsWith($"{file}: ", Load(json.ToJsonString()).Message);
            json = HandWrittenJson();
            json["model"]!["vocab"]!["a"] = null;
            Assert.Equal($"{file}: vocab entry \"a\" has no id", Load(json.ToJsonString()).Message);
            Assert.Equal($"{Path.Combine(dir, "missing")}: no such tokenizer file", Assert.Throws<InputException>(() => TokenizerLoader.Load(Path.Combine(dir, "missing"))).Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void SavedHandWrittenTokenizerLoadsBackIdentically()
    {
        var dir = Directory.CreateTempSubdirectory("tok-").FullName;
        try
        {
            handWritten.Save(dir);
            var loaded = Assert.IsType<BpeTokenizer>(TokenizerLoader.Load(dir));
            foreach (var s in RandomStrings(50, seed: 7)) Assert.Equal(handWritten.Encode(s), loaded.Encode(s));
            Assert.Equal(handWritten.Merges, loaded.Merges);
            Assert.Equal(handWritten.EosId, loaded.EosId);
            var first = File.ReadAllText(Path.Combine(dir, "tokenizer.json"));
            loaded.Save(dir);
            Assert.Equal(first, File.ReadAllText(Path.Combine(dir, "tokenizer.json")));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>Random strings mixing ASCII, whitespace runs, newlines, digits, accents, CJK, emoji and astral letters.</summary>
    static List<string> RandomStrings(int count, int seed)
    {
        var rng = new Random(seed);
        string[] pool = ["a", "Z", "the", " ", "   ", "\n", "\r\n", "\t", "0", "123456", "'s", "'RE", "!", "?!.", "é", "ü",
                         "中", "文", "🙂", "👍🏽", "𝐀", "𠀀", "\u0301", "ß", "—", "<|", "|>"];
        var result = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var sb = new StringBuilder();
            var parts = rng.Next(0, 20);
            for (var p = 0; p < parts; p++)
            {
                if (rng.Next(4) > 0) { sb.Append(pool[rng.Next(pool.Length)]); continue; }
                int cp;
                do cp = rng.Next(2) == 0 ? rng.Next(0x20, 0x3000) : rng.Next(0x10000, 0x20000);
                while (cp is >= 0xD800 and <= 0xDFFF);
                sb.Append(char.ConvertFromUtf32(cp));
            }
            result.Add(sb.ToString());
        }
        return result;
    }

    static readonly Lazy<BpeTokenizer> trained = new(() =>
        BpeTrainer.Train(Corpus(40_000, seed: 3), 600, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]));

    /// <summary>English-like lines from a small word list, with numbers, punctuation and some non-ASCII words.</summary>
    internal static List<string> Corpus(int lines, int seed)
    {
        var rng = new Random(seed);
        string[] words = ["the", "cat", "sat", "on", "mat", "and", "then", "there", "were", "three", "dogs", "it's",
                          "don't", "café", "naïve", "中文", "🙂", "answer", "is", "what", "why", "how", "hello", "world"];
        var result = new List<string>(lines);
        for (var i = 0; i < lines; i++)
        {
            var n = rng.Next(3, 12);
            var sb = new StringBuilder();
            for (var w = 0; w < n; w++)
            {
                if (w > 0) sb.Append(' ');
                sb.Append(rng.Next(8) == 0 ? rng.Next(0, 100000).ToString() : words[rng.Next(words.Length)]);
            }
            sb.Append(rng.Next(3) == 0 ? "?\n" : ".\n");
            result.Add(sb.ToString());
        }
        return result;
    }

    [Fact]
    public void DecodeOfEncodeIsIdentityOnRandomUnicodeStrings()
    {
        foreach (var tok in new ITokenizer[] { handWritten, trained.Value })
            foreach (var s in RandomStrings(200, seed: 42))
                Assert.Equal(s, tok.Decode(tok.Encode(s)));
    }

    [Fact]
    public void Llama3PatternSplitsLikeHandDerivation()
    {
        var split = new SplitRegex(SplitPatterns.Llama3);
        Assert.Equal(["I", "'m", " ", "123", "45", " apples", ",", " ", " they", "'re", "\n\n", " ", " OK", "!"],
                     split.Split("I'm 12345 apples,  they're\n\n  OK!"));
        Assert.Equal(["WE", "'", "RE", " 2024", "..."], new SplitRegex(SplitPatterns.Gpt2).Split("WE'RE 2024..."));  // GPT-2's contractions are lowercase only
        Assert.Equal(["WE", "'RE", " ", "202", "4", "..."], split.Split("WE'RE 2024..."));
    }

    [Fact]
    public void Qwen2PatternKeepsEveryDigitApart()
    {
        Assert.Equal(["x", "=", "1", "2", "3", "4", "5", ";\n"], new SplitRegex(SplitPatterns.Qwen2).Split("x=12345;\n"));
    }

    [Fact]
    public void CharactersOutsideTheBasicPlaneSplitAsWholeCodePointsOfTheirCategory()
    {
        var split = new SplitRegex(SplitPatterns.Llama3);
        Assert.Equal(["🙂abc"], split.Split("🙂abc"));               // emoji is one non-letter code point, then letters
        Assert.Equal(["x", " 𝐀𝐁", "!"], split.Split("x 𝐀𝐁!"));     // mathematical bold letters are letters
        Assert.Equal(["𝟏𝟐𝟑", "𝟒"], split.Split("𝟏𝟐𝟑𝟒"));            // mathematical digits are numbers, grouped by three
    }

    [Fact]
    public void OnigurumaSyntaxIsTranslated()
    {
        var pieces = new List<string>();
        new SplitRegex("a?+a").Split("a", pieces, removeMatches: true);  // possessive: a?+ keeps the a, so no match
        Assert.Equal(["a"], pieces);
        pieces.Clear();
        new SplitRegex("a?a").Split("a", pieces, removeMatches: true);
        Assert.Empty(pieces);
        Assert.Equal(["ab", "1"], new SplitRegex(@"\pL+").Split("ab1"));
    }

    /// <summary>
    /// The first merges of the trainer against a naive trainer that recounts every pair from scratch after each
    /// merge (most frequent pair; ties to the smaller left id, then right id).
    /// </summary>
    [Fact]
    public void TrainerMergesTheMostFrequentPairsInOrder()
    {
        var rng = new Random(5);
        var texts = Enumerable.Range(0, 300).Select(_ => string.Join(' ',
            Enumerable.Range(0, rng.Next(1, 8)).Select(_ => new string(Enumerable.Range(0, rng.Next(1, 7)).Select(_ => "aabcd"[rng.Next(5)]).ToArray())))).ToList();
        const int k = 60;
        var tok = BpeTrainer.Train(texts, 256 + k, []);

        // Llama-3 pre-tokenization of lowercase words with single spaces: the first word bare, the rest with a leading space
        var words = new List<List<int>>();
        foreach (var t in texts)
            words.AddRange(t.Split(' ').Select((w, i) => Encoding.UTF8.GetBytes(i == 0 ? w : " " + w).Select(b => (int)b).ToList()));
        var tokens = Enumerable.Range(0, 256).Select(b => Bytes(b)).ToList();
        var expected = new List<(string, string)>();
        while (tokens.Count < 256 + k)
        {
            var counts = new Dictionary<(int, int), int>();
            foreach (var w in words)
                for (var i = 0; i + 1 < w.Count; i++) counts[(w[i], w[i + 1])] = counts.GetValueOrDefault((w[i], w[i + 1])) + 1;
            var best = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1).ThenBy(kv => kv.Key.Item2).First().Key;
            var merged = tokens[best.Item1] + tokens[best.Item2];
            var id = tokens.IndexOf(merged);
            if (id < 0) { id = tokens.Count; tokens.Add(merged); }
            expected.Add((tokens[best.Item1], tokens[best.Item2]));
            foreach (var w in words)
                for (var i = 0; i + 1 < w.Count; i++)
                    if (w[i] == best.Item1 && w[i + 1] == best.Item2) { w[i] = id; w.RemoveAt(i + 1); }
        }
        Assert.Equal(expected, tok.Merges);
        Assert.Equal(256 + k, tok.VocabSize);
    }

    [Fact]
    public void TrainedVocabularyHasTheRequestedSizeWithBytesFirstAndSpecialsLast()
    {
        var tok = trained.Value;
        Assert.Equal(600, tok.VocabSize);
        Assert.Equal(600 - 3 - 256, tok.Merges.Count);
        Assert.Equal([597, 598, 599], new[] { "<|endoftext|>", "<|im_start|>", "<|im_end|>" }.Select(s => tok.TokenToId(s)!.Value));
        Assert.Equal(Bytes(0xE4), tok.IdToToken(0xE4));
        Assert.Equal([597], tok.Encode("<|endoftext|>"));
        Assert.Equal(597, tok.EosId);
        // the corpus's most common words became single tokens
        Assert.Single(tok.Encode(" the"));
        Assert.Single(tok.Encode(" hello"));
    }

    [Fact]
    public void SavedTrainedTokenizerLoadsBackWithIdenticalEncodings()
    {
        var dir = Directory.CreateTempSubdirectory("tok-").FullName;
        try
        {
            trained.Value.Save(dir);
            var loaded = BpeTokenizer.FromFile(Path.Combine(dir, "tokenizer.json"));
            Assert.Equal(trained.Value.VocabSize, loaded.VocabSize);
            Assert.Equal(trained.Value.EosId, loaded.EosId);
            Assert.Equal(SplitPatterns.Llama3, loaded.SplitPattern);
            foreach (var s in RandomStrings(100, seed: 9).Concat(Corpus(50, seed: 11)))
                Assert.Equal(trained.Value.Encode(s), loaded.Encode(s));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void CharTokenizerEncodesSpecialsWholeAndRoundTrips()
    {
        var tok = new CharTokenizer("abc xyz\n中🙂");
        // <pad> 0, <bos> 1, <eos> 2, then a 3, b 4, c 5, ' ' 6, x 7, y 8, z 9, \n 10, 中 11, 🙂 12
        Assert.Equal([3, 4, 1, 5, 6, 12, 10, 11], tok.Encode("ab<bos>c 🙂\n中"));
        Assert.Equal([1, 7, 2], tok.Encode("x<eos>", addSpecialTokens: true));
        Assert.Equal("ab<bos>c 🙂\n中", tok.Decode([3, 4, 1, 5, 6, 12, 10, 11]));
        Assert.Equal("abc 🙂\n中", tok.Decode([3, 4, 1, 5, 6, 12, 10, 11], skipSpecialTokens: true));
        Assert.Equal(13, tok.VocabSize);
        Assert.Equal<(int?, int?, int?)>((0, 1, 2), (tok.PadId, tok.BosId, tok.EosId));

        var dir = Directory.CreateTempSubdirectory("tok-").FullName;
        try
        {
            var withExtras = new CharTokenizer("abc", ["<|im_start|>"]);
            withExtras.Save(dir);
            var loaded = Assert.IsType<CharTokenizer>(TokenizerLoader.Load(dir));
            Assert.Equal("abc", loaded.Alphabet);
            Assert.Equal(withExtras.VocabSize, loaded.VocabSize);
            Assert.Equal([3, 4, 5, 6], loaded.Encode("<|im_start|>abc"));
            Assert.Equal(withExtras.Encode("cab<|im_start|><eos>"), loaded.Encode("cab<|im_start|><eos>"));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void CharTokenizerRejectsUnknownCharactersByName()
    {
        var tok = new CharTokenizer("abc");
        var e = Assert.Throws<ArgumentException>(() => tok.Encode("abd"));
        Assert.Contains("'d'", e.Message);
        Assert.Contains("U+0064", e.Message);
        Assert.Throws<ArgumentException>(() => new CharTokenizer("aba"));
    }
}
