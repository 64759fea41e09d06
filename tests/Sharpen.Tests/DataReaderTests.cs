using Sharpen.Data;

namespace Sharpen.Tests;

/// <summary>JSONL records of every format, format detection and the errors for malformed lines.</summary>
public sealed class DataReaderTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("sharpen-data-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    string Write(string name, params string[] lines)
    {
        var path = Path.Combine(dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    static List<T> ReadAll<T>(string path) where T : DataRecord, IJsonRecord<T>
    {
        var records = JsonlReader.Read<T>(path, BadRecordPolicy.Error, out var skipped);
        Assert.Equal(0, skipped);
        return records;
    }

    [Fact]
    public void TextAndPromptCompletion_ReadTheirFieldsIdAndMeta()
    {
        var text = ReadAll<TextRecord>(Write("text.jsonl", """{"text": "hello world", "id": 7, "meta": {"src": "web"}}"""));
        Assert.Equal("hello world", Assert.Single(text).Text);
        Assert.Equal("7", text[0].Id);
        Assert.Equal("web", (string)text[0].Meta!["src"]!);

        var pc = ReadAll<PromptCompletionRecord>(Write("pc.jsonl",
            """{"prompt": "2+2=", "completion": "4", "weight": 0.5, "source_tag": "gpt4", "id": "a"}""",
            "",
            """{"prompt": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}], "completion": [{"role": "assistant", "content": "hello"}]}"""));
        Assert.Equal(2, pc.Count);
        Assert.Equal(("2+2=", "4", 0.5, "gpt4", "a"), (pc[0].Prompt.Text, pc[0].Completion.Text, pc[0].Weight, pc[0].SourceTag, pc[0].Id));
        Assert.False(pc[0].Prompt.IsConversational);
        Assert.Equal([new Message("system", "be brief"), new Message("user", "hi")], pc[1].Prompt.Messages!);
        Assert.Equal([new Message("assistant", "hello")], pc[1].Completion.Messages!);
        Assert.Equal(1.0, pc[1].Weight);
        Assert.Null(pc[1].Id);
    }

    [Fact]
    public void Conversation_ReadsRolesToolCallsAndTools()
    {
        var c = Assert.Single(ReadAll<ConversationRecord>(Write("conv.jsonl",
            """{"messages": [{"role": "user", "content": "weather?"}, {"role": "assistant", "tool_calls": [{"name": "get_weather"}]}, {"role": "tool", "content": "sunny", "tool_call_id": "c1"}, {"role": "assistant", "content": "It is sunny."}], "tools": [{"type": "function"}]}""")));
        Assert.Equal(["user", "assistant", "tool", "assistant"], c.Messages.Select(m => m.Role));
        Assert.Equal(["weather?", "", "sunny", "It is sunny."], c.Messages.Select(m => m.Content));
        Assert.Equal("get_weather", (string)c.Messages[1].ToolCalls![0]!["name"]!);
        Assert.Equal("c1", c.Messages[2].ToolCallId);
        Assert.Equal("function", (string)c.Tools![0]!["type"]!);
    }

    [Fact]
    public void PreferencePairAndUnpaired_ReadRequiredAndOptionalFields()
    {
        var p = Assert.Single(ReadAll<PreferencePairRecord>(Write("pair.jsonl",
            """{"prompt": "p", "chosen": "c", "rejected": "r", "margin": 1.5, "strength": 0.8, "score_chosen": 2, "score_rejected": -1, "annotator_id": "ann1"}""")));
        Assert.Equal(("p", "c", "r"), (p.Prompt.Text, p.Chosen.Text, p.Rejected.Text));
        Assert.Equal((1.5, 0.8, 2.0, -1.0, "ann1"), (p.Margin, p.Strength, p.ScoreChosen, p.ScoreRejected, p.AnnotatorId));

        var defaults = Assert.Single(ReadAll<PreferencePairRecord>(Write("pair2.jsonl", """{"prompt": "p", "chosen": "c", "rejected": "r"}""")));
        Assert.Equal((0.0, (double?)null), (defaults.Margin, defaults.Strength));

        var u = ReadAll<UnpairedPreferenceRecord>(Write("kto.jsonl",
            """{"prompt": "p", "completion": "c", "label": false, "weight": 2}""", """{"prompt": "q", "completion": "d", "label": true}"""));
        Assert.Equal([(false, 2.0), (true, 1.0)], u.Select(r => (r.Label, r.Weight)));
    }

    [Fact]
    public void RankedList_ReadsScoresOrTurnsRanksIntoNegatedScores()
    {
        var lists = ReadAll<RankedListRecord>(Write("rank.jsonl",
            """{"prompt": "p", "responses": ["a", "b", "c"], "scores": [0.1, 0.9, 0.5]}""",
            """{"prompt": "q", "responses": ["x", "y"], "ranks": [2, 1]}"""));
        Assert.Equal(["a", "b", "c"], lists[0].Responses.Select(r => r.Text!));
        Assert.Equal([0.1, 0.9, 0.5], lists[0].Scores);
        Assert.Null(lists[0].Ranks);
        Assert.Equal([-2.0, -1.0], lists[1].Scores);
        Assert.Equal([2, 1], lists[1].Ranks!);
    }

    [Fact]
    public void PromptAnswerAndPromptTests_ReadTheirFields()
    {
        var a = Assert.Single(ReadAll<PromptAnswerRecord>(Write("answer.jsonl",
            """{"prompt": "6*7?", "answer": 42, "answer_type": "numeric", "hints": ["think", "multiply"], "difficulty": 0.3, "reference_solution": "6*7=42"}""")));
        Assert.Equal(("6*7?", "42", "numeric", 0.3, "6*7=42"), (a.Prompt.Text, a.Answer, a.AnswerType, a.Difficulty, a.ReferenceSolution));
        Assert.Equal(["think", "multiply"], a.Hints!);

        var t = Assert.Single(ReadAll<PromptTestsRecord>(Write("code.jsonl",
            """{"prompt": "write f", "tests": [{"input": "1", "expected_output": "2"}, {"assert": "f(1) == 2"}], "language": "python", "entry_point": "f", "timeout_s": 2}""")));
        Assert.Equal([new CodeTest("1", "2", null), new CodeTest(null, null, "f(1) == 2")], t.Tests);
        Assert.Equal(("python", "f", 2.0, 1024), (t.Language, t.EntryPoint, t.TimeoutS, t.MemoryMb));
    }

    [Theory]
    [InlineData("""{"text": "t"}""", DataFormat.Text)]
    [InlineData("""{"prompt": "p", "completion": "c"}""", DataFormat.PromptCompletion)]
    [InlineData("""{"messages": [{"role": "user", "content": "u"}]}""", DataFormat.Conversation)]
    [InlineData("""{"prompt": "p", "chosen": "c", "rejected": "r"}""", DataFormat.PreferencePair)]
    [InlineData("""{"prompt": "p", "completion": "c", "label": true}""", DataFormat.UnpairedPreference)]
    [InlineData("""{"prompt": "p", "responses": ["a", "b"], "ranks": [1, 2]}""", DataFormat.RankedList)]
    [InlineData("""{"prompt": "p", "answer": "1"}""", DataFormat.PromptAnswer)]
    [InlineData("""{"prompt": "p", "tests": [{"assert": "x"}], "language": "python"}""", DataFormat.PromptTests)]
    public void DetectFormat_PicksTheFormatFromTheFirstRecordsKeys(string line, DataFormat expected)
    {
        var path = Write("any.jsonl", "", line, line);
        Assert.Equal(expected, JsonlReader.DetectFormat(path));
        var records = JsonlReader.ReadAny(path, BadRecordPolicy.Error, out var skipped, out var format);
        Assert.Equal((expected, 2, 0), (format, records.Count, skipped));
    }

    [Fact]
    public void DetectFormat_RejectsAmbiguousAndUnknownKeysNamingTheCandidates()
    {
        var e = Assert.Throws<DataFormatException>(() => JsonlReader.DetectFormat(Write("amb.jsonl", """{"text": "t", "prompt": "p", "completion": "c"}""")));
        Assert.Contains("ambiguous", e.Message);
        Assert.Contains("Text", e.Message);
        Assert.Contains("PromptCompletion", e.Message);
        Assert.Contains("amb.jsonl:1", e.Message);

        var unknown = Assert.Throws<DataFormatException>(() => JsonlReader.DetectFormat(Write("unk.jsonl", """{"question": "q"}""")));
        Assert.Contains("no known format", unknown.Message);
    }

    [Theory]
    [InlineData("""{"prompt": "p", "chosen": "c"}""", "rejected", "is missing")]
    [InlineData("""{"prompt": "p", "chosen": 5, "rejected": "r"}""", "chosen", "must be a string or a list of messages")]
    [InlineData("""{"prompt": [{"role": "robot", "content": "x"}], "chosen": "c", "rejected": "r"}""", "prompt[0].role", "must be one of")]
    [InlineData("""{"prompt": [{"role": "user"}], "chosen": "c", "rejected": "r"}""", "prompt[0].content", "is missing")]
    [InlineData("""{"prompt": "p", "chosen": "c", "rejected": "r", "margin": "big"}""", "margin", "must be a finite number")]
    [InlineData("""{"prompt": "p", "chosen": "c", "rejected": "r", "strength": 1.5}""", "strength", "[0, 1]")]
    public void MalformedPair_NamesFileLineAndField(string badLine, string field, string detail)
    {
        var path = Write("bad.jsonl", """{"prompt": "p", "chosen": "c", "rejected": "r"}""", "", badLine);
        var e = Assert.Throws<DataFormatException>(() => JsonlReader.Read<PreferencePairRecord>(path, BadRecordPolicy.Error, out _));
        Assert.Equal((path, 3, field), (e.File, e.Line, e.Field));
        Assert.Contains($"bad.jsonl:3: field \"{field}\"", e.Message);
        Assert.Contains(detail, e.Message);
    }

    [Fact]
    public void MalformedListsAndJson_AreReportedWithTheirLine()
    {
        var path = Write("rank.jsonl",
            """{"prompt": "p", "responses": ["a", "b", "c"], "scores": [1, 2]}""",
            """{"prompt": "p", "responses": ["a"], "scores": [1]}""",
            """{"prompt": "p", "responses": ["a", "b"], "scores": [1, 1]}""",
            """{"prompt": "p", "responses": ["a", "b"],""");
        string[] fields = ["scores", "responses", "scores", ""];
        string[] details = ["has 2 entries for 3 responses", "at least 2", "ties", "invalid JSON"];
        for (var line = 1; line <= 4; line++)
        {
            var one = Write($"rank{line}.jsonl", File.ReadLines(path).ElementAt(line - 1));
            var e = Assert.Throws<DataFormatException>(() => JsonlReader.Read<RankedListRecord>(one, BadRecordPolicy.Error, out _));
            Assert.Equal(1, e.Line);
            Assert.Equal(fields[line - 1], e.Field ?? "");
            Assert.Contains($"rank{line}.jsonl:1:", e.Message);
            Assert.Contains(details[line - 1], e.Message);
        }
    }

    [Fact]
    public void SkipPolicy_LeavesOutAndCountsBadLines()
    {
        var path = Write("mixed.jsonl",
            """{"prompt": "a", "completion": "1"}""",
            """{"prompt": "b"}""",
            """not json""",
            "",
            """{"prompt": "c", "completion": "3"}""",
            """[1, 2]""",
            """{"prompt": "d", "completion": "4"}""");
        var records = JsonlReader.Read<PromptCompletionRecord>(path, BadRecordPolicy.Skip, out var skipped);
        Assert.Equal(3, skipped);
        Assert.Equal(["a", "c", "d"], records.Select(r => r.Prompt.Text!));
        var e = Assert.Throws<DataFormatException>(() => JsonlReader.Read<PromptCompletionRecord>(path, BadRecordPolicy.Error, out _));
        Assert.Equal((2, "completion"), (e.Line, e.Field));
    }

    // Each malformed input class: the exact message "file:line: [field "x": ]problem", with file, line and field set.
    [Theory]
    [InlineData("""{"prompt": "p", "completion": "c", "completion": "d"}""", null, "the key \"completion\" appears twice in one object")]
    [InlineData("""{"prompt": "p\ud800", "completion": "c"}""", "prompt", "holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text")]
    [InlineData("""{"prompt": "p", "completion": "\udc00c"}""", "completion", "holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text")]
    [InlineData("""{"prompt": [{"role": "user", "content": "\ud83d"}], "completion": "c"}""", "prompt[0].content", "holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text")]
    [InlineData("""{"prompt": "p", "completion": "c", "weight": -0.5}""", "weight", "must be ≥ 0, not -0.5")]
    [InlineData("""{"prompt": "p", "completion": "c", "weight": "1"}""", "weight", "must be a finite number, not a string")]
    public void MalformedRecord_GivesOneLineNamingFileLineAndField(string badLine, string? field, string problem)
    {
        var path = Write("bad.jsonl", """{"prompt": "ok", "completion": "\ud83d\ude00"}""", badLine);
        var e = Assert.Throws<DataFormatException>(() => JsonlReader.Read<PromptCompletionRecord>(path, BadRecordPolicy.Error, out _));
        Assert.Equal($"{path}:2: {(field is null ? "" : $"field \"{field}\": ")}{problem}", e.Message);
        Assert.Equal((path, 2, field), (e.File, e.Line, e.Field));
        Assert.Equal(1, JsonlReader.Read<PromptCompletionRecord>(path, BadRecordPolicy.Skip, out var skipped).Count);
        Assert.Equal(1, skipped);
    }

    [Fact]
    public void InvalidUtf8_IsAnErrorNamingFileLineAndByte_NotReplacementCharacters()
    {
        var path = Path.Combine(dir, "latin1.jsonl");
        File.WriteAllBytes(path, [.. "{\"text\": \"ok \u00e9\"}\n"u8, .. "{\"text\": \"caf"u8, 0xE9, .. "\"}\n"u8]);
        var e = Assert.Throws<DataFormatException>(() => JsonlReader.Read<TextRecord>(path, BadRecordPolicy.Error, out _));
        Assert.Equal($"{path}:2: not valid UTF-8 (byte 0xE9 at byte 14 of the line); save the file as UTF-8", e.Message);
        Assert.Equal($"{path}:2: not valid UTF-8 (byte 0xE9 at byte 14 of the line); save the file as UTF-8",
            Assert.Throws<DataFormatException>(() => JsonlReader.ReadAny(path, BadRecordPolicy.Error, out _, out _)).Message);
        var kept = JsonlReader.Read<TextRecord>(path, BadRecordPolicy.Skip, out var skipped);
        Assert.Equal(("ok é", 1), (Assert.Single(kept).Text, skipped));

        // Also on the first line (format detection), and a UTF-8 byte-order mark is not an error.
        File.WriteAllBytes(path, [0xEF, 0xBB, 0xBF, .. "{\"text\": \"a\"}\r\n"u8, .. "{\"text\": \"b\"}"u8]);
        Assert.Equal(["a", "b"], JsonlReader.Read<TextRecord>(path, BadRecordPolicy.Error, out _).Select(r => r.Text));
        File.WriteAllBytes(path, [.. "{\"text\": \""u8, 0xC3, .. "\"}"u8]);
        Assert.Equal($"{path}:1: not valid UTF-8 (byte 0xC3 at byte 11 of the line); save the file as UTF-8",
            Assert.Throws<DataFormatException>(() => JsonlReader.DetectFormat(path)).Message);
    }

    [Fact]
    public void Utf8Lines_SplitsLongLinesAcrossItsBufferAndNumbersThem()
    {
        var path = Path.Combine(dir, "long.txt");
        var longLine = string.Concat(Enumerable.Repeat("ab\u00e9\U0001F600", 40_000));   // 4-byte characters straddle buffer edges
        File.WriteAllText(path, $"one\n{longLine}\n\nlast");
        Assert.Equal([(1, "one"), (2, longLine), (3, ""), (4, "last")], Utf8Lines.Read(path).ToList());
    }

    [Fact]
    public void DirectoryOrMissingPath_IsAnErrorNamingIt()
    {
        Assert.Equal($"{dir}: is a directory, not a file",
            Assert.Throws<InputException>(() => JsonlReader.Read<TextRecord>(dir, BadRecordPolicy.Error, out _)).Message);
        var missing = Path.Combine(dir, "none.jsonl");
        Assert.Equal($"{missing}: no such file", Assert.Throws<InputException>(() => JsonlReader.ReadAny(missing, BadRecordPolicy.Error, out _, out _)).Message);
    }

    [Fact]
    public void CharacterOutsideTheTokenizer_NamesTheRecordsFileAndLine()
    {
        var path = Write("alpha.jsonl", """{"prompt": "1+1=", "completion": "2"}""", "", """{"prompt": "1+1=", "completion": "2\u00df"}""");
        var records = JsonlReader.ReadAny(path, BadRecordPolicy.Error, out _, out _);
        var e = Assert.Throws<DataFormatException>(() => Tokenize.Sft(records, Sharpen.Data.Tasks.Arithmetic.Tokenizer(), null, out _));
        Assert.Equal($"{path}:3: character 'ß' (U+00DF) is not in the tokenizer's alphabet", e.Message);
    }
}
