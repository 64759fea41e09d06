namespace Sharpen.Data;

using System.Text.Json.Nodes;
using Sharpen.Models;

/// <summary>
/// One chat message: <paramref name="Role"/> is system, user, assistant or tool; <paramref name="ToolCalls"/> is the
/// assistant's list of calls as written in the data, <paramref name="ToolCallId"/> the call a tool message answers.
/// </summary>
public sealed record Message(string Role, string Content, JsonArray? ToolCalls = null, string? ToolCallId = null)
{
    /// <summary>The roles a message may have.</summary>
    public static readonly IReadOnlyList<string> Roles = ["system", "user", "assistant", "tool"];

    /// <summary>The message as a chat template takes it (role and content).</summary>
    public ChatMessage ToChat() => new(Role, Content);
}

/// <summary>
/// A prompt or a response in either of the two forms: standard (<see cref="Text"/>, a plain string) or conversational
/// (<see cref="Messages"/>, rendered with a chat template). Exactly one of the two is set.
/// </summary>
public sealed record TextOrMessages
{
    /// <summary>The plain text, in the standard form.</summary>
    public string? Text { get; }

    /// <summary>The messages, in the conversational form.</summary>
    public IReadOnlyList<Message>? Messages { get; }

    /// <summary>True in the conversational form.</summary>
    public bool IsConversational => Messages is not null;

    /// <summary>The standard form.</summary>
    public TextOrMessages(string text) => Text = text;

    /// <summary>The conversational form.</summary>
    public TextOrMessages(IReadOnlyList<Message> messages) => Messages = messages;

    /// <summary>Plain text converts implicitly.</summary>
    public static implicit operator TextOrMessages(string text) => new(text);

    /// <inheritdoc/>
    public override string ToString() => Text ?? string.Join(" | ", Messages!.Select(m => $"{m.Role}: {m.Content}"));
}

/// <summary>The record formats of docs/algorithms.md §1 (JSONL, one object per line).</summary>
public enum DataFormat
{
    /// <summary><c>text</c>: language-model text.</summary>
    Text,

    /// <summary><c>prompt</c>, <c>completion</c>: supervised fine-tuning pairs.</summary>
    PromptCompletion,

    /// <summary><c>messages</c>: a conversation; the loss is on assistant turns.</summary>
    Conversation,

    /// <summary><c>prompt</c>, <c>chosen</c>, <c>rejected</c>: a preference pair.</summary>
    PreferencePair,

    /// <summary><c>prompt</c>, <c>completion</c>, <c>label</c>: one response marked desirable or not.</summary>
    UnpairedPreference,

    /// <summary><c>prompt</c>, <c>responses</c>, <c>scores</c> or <c>ranks</c>: a ranked list.</summary>
    RankedList,

    /// <summary><c>prompt</c>, <c>answer</c>: a prompt with a verifiable answer.</summary>
    PromptAnswer,

    /// <summary><c>prompt</c>, <c>tests</c>, <c>language</c>: a coding prompt with unit tests.</summary>
    PromptTests,
}

/// <summary>A record type that can be read from one JSON object of a JSONL file.</summary>
public interface IJsonRecord<TSelf> where TSelf : DataRecord, IJsonRecord<TSelf>
{
    /// <summary>The format this record type reads.</summary>
    static abstract DataFormat Format { get; }

    /// <summary>Reads one record; a missing or ill-typed field is a <see cref="DataFormatException"/> naming it.</summary>
    static abstract TSelf FromJson(JsonObject json);
}

/// <summary>What every record may carry: an <see cref="Id"/> and free-form <see cref="Meta"/>data.</summary>
public abstract record DataRecord
{
    /// <summary>The record's id (a string, or a number kept as its JSON text), if given.</summary>
    public string? Id { get; init; }

    /// <summary>The record's <c>meta</c> object, if given.</summary>
    public JsonObject? Meta { get; init; }

    private protected static T Common<T>(T record, JsonFields f) where T : DataRecord =>
        record with { Id = f.OptionalId("id"), Meta = f.OptionalObject("meta") };
}

/// <summary>Language-model text (continued pre-training, SFT on raw text). Field: <c>text</c>.</summary>
public sealed record TextRecord(string Text) : DataRecord, IJsonRecord<TextRecord>
{
    /// <inheritdoc/>
    public static DataFormat Format => DataFormat.Text;

    /// <inheritdoc/>
    public static TextRecord FromJson(JsonObject json)
    {
        var f = new JsonFields(json);
        return Common(new TextRecord(f.String("text")), f);
    }
}

/// <summary>
/// A prompt and its demonstration (<c>prompt</c>, <c>completion</c>), with an optional sample <see cref="Weight"/>
/// and the <see cref="SourceTag"/> of C-RLFT's class-conditioned data.
/// </summary>
public sealed record PromptCompletionRecord(TextOrMessages Prompt, TextOrMessages Completion)
    : DataRecord, IJsonRecord<PromptCompletionRecord>
{
    /// <summary>The sample weight (<c>weight</c>, ≥ 0, default 1).</summary>
    public double Weight { get; init; } = 1;

    /// <summary>The data source's tag (<c>source_tag</c>), if given.</summary>
    public string? SourceTag { get; init; }

    /// <inheritdoc/>
    public static DataFormat Format => DataFormat.PromptCompletion;

    /// <inheritdoc/>
    public static PromptCompletionRecord FromJson(JsonObject json)
    {
        var f = new JsonFields(json);
        return Common(new PromptCompletionRecord(f.TextOrMessages("prompt"), f.TextOrMessages("completion"))
        {
            Weight = f.OptionalNonNegative("weight") ?? 1, SourceTag = f.OptionalString("source_tag"),
        }, f);
    }
}

/// <summary>A conversation (<c>messages</c>) with the optional JSON-schema <c>tools</c> list; the loss is on assistant turns.</summary>
public sealed record ConversationRecord(IReadOnlyList<Message> Messages) : DataRecord, IJsonRecord<ConversationRecord>
{
    /// <summary>The tool schemas offered in the conversation (<c>tools</c>), if given.</summary>
    public JsonArray? Tools { get; init; }

    /// <inheritdoc/>
    public static DataFormat Format => DataFormat.Conversation;

    /// <inheritdoc/>
    public static ConversationRecord FromJson(JsonObject json)
    {
        var f = new JsonFields(json);
        var messages = f.List("messages", f.Message);
        if (messages.Count == 0) throw f.Error("messages", "must hold at least one message");
        return Common(new ConversationRecord(messages) { Tools = (JsonArray?)f.OptionalArray("tools")?.DeepClone() }, f);
    }
}

/// <summary>
/// A preference pair: <c>prompt</c>, the preferred <c>chosen</c> and the dispreferred <c>rejected</c> response, with the
/// optional reward <see cref="Margin"/>, soft-label <see cref="Strength"/> p ∈ [0, 1], per-response scores and annotator.
/// </summary>
public sealed record PreferencePairRecord(TextOrMessages Prompt, TextOrMessages Chosen, TextOrMessages Rejected)
    : DataRecord, IJsonRecord<PreferencePairRecord>
{
    /// <summary>The margin by which chosen is better (<c>margin</c>, default 0).</summary>
    public double Margin { get; init; }

    /// <summary>The probability that chosen is preferred (<c>strength</c>), if given.</summary>
    public double? Strength { get; init; }

    /// <summary>The chosen response's score (<c>score_chosen</c>), if given.</summary>
    public double? ScoreChosen { get; init; }

    /// <summary>The rejected response's score (<c>score_rejected</c>), if given.</summary>
    public double? ScoreRejected { get; init; }

    /// <summary>Who labelled the pair (<c>annotator_id</c>), if given.</summary>
    public string? AnnotatorId { get; init; }

    /// <inheritdoc/>
    public static DataFormat Format => DataFormat.PreferencePair;

    /// <inheritdoc/>
    public static PreferencePairRecord FromJson(JsonObject json)
    {
        var f = new JsonFields(json);
        var strength = f.OptionalDouble("strength");
        if (strength is < 0 or > 1) throw f.Error("strength", $"must lie in [0, 1], not {strength}");
        return Common(new PreferencePairRecord(f.TextOrMessages("prompt"), f.TextOrMessages("chosen"), f.TextOrMessages("rejected"))
        {
            Margin = f.OptionalDouble("margin") ?? 0, Strength = strength, ScoreChosen = f.OptionalDouble("score_chosen"),
            ScoreRejected = f.OptionalDouble("score_rejected"), AnnotatorId = f.OptionalId("annotator_id"),
        }, f);
    }
}

/// <summary>One response with a desirable/undesirable <c>label</c> (KTO, BCO), and an optional sample <see cref="Weight"/>.</summary>
public sealed record UnpairedPreferenceRecord(TextOrMessages Prompt, TextOrMessages Completion, bool Label)
    : DataRecord, IJsonRecord<UnpairedPreferenceRecord>
{
    /// <summary>The sample weight (<c>weight</c>, ≥ 0, default 1).</summary>
    public double Weight { get; init; } = 1;

    /// <inheritdoc/>
    public static DataFormat Format => DataFormat.UnpairedPreference;

    /// <inheritdoc/>
    public static UnpairedPreferenceRecord FromJson(JsonObject json)
    {
        var f = new JsonFields(json);
        return Common(new UnpairedPreferenceRecord(f.TextOrMessages("prompt"), f.TextOrMessages("completion"), f.Bool("label"))
        {
            Weight = f.OptionalNonNegative("weight") ?? 1,
        }, f);
    }
}

/// <summary>
/// A prompt with n ≥ 2 <c>responses</c> and their <see cref="Scores"/> (higher is better), in file order. A file may give
/// <c>ranks</c> (1 is best) instead of <c>scores</c>; then score = −rank. <see cref="Tokenize.RankedList"/> sorts by score.
/// </summary>
public sealed record RankedListRecord(TextOrMessages Prompt, IReadOnlyList<TextOrMessages> Responses, IReadOnlyList<double> Scores)
    : DataRecord, IJsonRecord<RankedListRecord>
{
    /// <summary>The ranks as the file gave them (1 is best), or null when it gave scores.</summary>
    public IReadOnlyList<int>? Ranks { get; init; }

    /// <summary>Whether equal scores are allowed (<c>ties_allowed</c>, default false).</summary>
    public bool TiesAllowed { get; init; }

    /// <inheritdoc/>
    public static DataFormat Format => DataFormat.RankedList;

    /// <inheritdoc/>
    public static RankedListRecord FromJson(JsonObject json)
    {
        var f = new JsonFields(json);
        var responses = f.List("responses", f.AsTextOrMessages);
        if (responses.Count < 2) throw f.Error("responses", $"must hold at least 2 responses, not {responses.Count}");
        var scores = f.OptionalList("scores", f.AsDouble);
        var ranks = f.OptionalList("ranks", f.AsInt);
        if (scores is null && ranks is null) throw f.Error("scores", "is missing (give \"scores\" or \"ranks\")");
        if (scores is not null && scores.Count != responses.Count)
            throw f.Error("scores", $"has {scores.Count} entries for {responses.Count} responses");
        if (ranks is not null && ranks.Count != responses.Count)
            throw f.Error("ranks", $"has {ranks.Count} entries for {responses.Count} responses");
        if (ranks is not null && ranks.Any(r => r < 1)) throw f.Error("ranks", "must be integers ≥ 1 (1 is best)");
        var ties = f.OptionalBool("ties_allowed") ?? false;
        scores ??= ranks!.Select(r => -(double)r).ToList();
        if (!ties && scores.Distinct().Count() != scores.Count)
            throw f.Error(ranks is not null && !f.Has("scores") ? "ranks" : "scores", "has ties but \"ties_allowed\" is not true");
        return Common(new RankedListRecord(f.TextOrMessages("prompt"), responses, scores) { Ranks = ranks, TiesAllowed = ties }, f);
    }
}

/// <summary>
/// A prompt with a verifiable <c>answer</c> (online RL with verifiable rewards); a numeric answer in the file is kept
/// as its JSON text. Optional: <see cref="AnswerType"/>, a reference solution, tiered hints and a difficulty.
/// </summary>
public sealed record PromptAnswerRecord(TextOrMessages Prompt, string Answer) : DataRecord, IJsonRecord<PromptAnswerRecord>
{
    /// <summary>The answer types a verifier knows.</summary>
    public static readonly IReadOnlyList<string> AnswerTypes = ["numeric", "latex", "choice", "string", "label"];

    /// <summary>How to compare answers (<c>answer_type</c>, one of <see cref="AnswerTypes"/>), if given.</summary>
    public string? AnswerType { get; init; }

    /// <summary>A worked solution (<c>reference_solution</c>), for hints and reset states.</summary>
    public string? ReferenceSolution { get; init; }

    /// <summary>Tiered hints, weakest first (<c>hints</c>).</summary>
    public IReadOnlyList<string>? Hints { get; init; }

    /// <summary>The prompt's difficulty (<c>difficulty</c>), if given.</summary>
    public double? Difficulty { get; init; }

    /// <inheritdoc/>
    public static DataFormat Format => DataFormat.PromptAnswer;

    /// <inheritdoc/>
    public static PromptAnswerRecord FromJson(JsonObject json)
    {
        var f = new JsonFields(json);
        var type = f.OptionalString("answer_type");
        if (type is not null && !AnswerTypes.Contains(type))
            throw f.Error("answer_type", $"must be one of {string.Join(", ", AnswerTypes)}, not \"{type}\"");
        return Common(new PromptAnswerRecord(f.TextOrMessages("prompt"), f.StringOrNumber("answer"))
        {
            AnswerType = type, ReferenceSolution = f.OptionalString("reference_solution"),
            Hints = f.OptionalList("hints", f.ElementString), Difficulty = f.OptionalDouble("difficulty"),
        }, f);
    }
}

/// <summary>One unit test: either <see cref="Input"/> fed to the program and its <see cref="ExpectedOutput"/>, or an <see cref="Assert"/> statement.</summary>
public sealed record CodeTest(string? Input, string? ExpectedOutput, string? Assert);

/// <summary>
/// A coding prompt with unit <c>tests</c> in a <c>language</c>; optional entry point, limits (seconds, megabytes) and
/// reference solution.
/// </summary>
public sealed record PromptTestsRecord(TextOrMessages Prompt, IReadOnlyList<CodeTest> Tests, string Language)
    : DataRecord, IJsonRecord<PromptTestsRecord>
{
    /// <summary>The function the tests call (<c>entry_point</c>), if given.</summary>
    public string? EntryPoint { get; init; }

    /// <summary>Wall-clock limit per run in seconds (<c>timeout_s</c>, default 5).</summary>
    public double TimeoutS { get; init; } = 5;

    /// <summary>Memory limit in megabytes (<c>memory_mb</c>, default 1024).</summary>
    public int MemoryMb { get; init; } = 1024;

    /// <summary>A correct program (<c>reference_solution</c>), if given.</summary>
    public string? ReferenceSolution { get; init; }

    /// <inheritdoc/>
    public static DataFormat Format => DataFormat.PromptTests;

    /// <inheritdoc/>
    public static PromptTestsRecord FromJson(JsonObject json)
    {
        var f = new JsonFields(json);
        var tests = f.List("tests", (path, n) =>
        {
            var t = f.Nested(path, n);
            var test = new CodeTest(t.OptionalString("input"), t.OptionalString("expected_output"), t.OptionalString("assert"));
            if (test.Assert is null && (test.Input is null || test.ExpectedOutput is null))
                throw t.Error(test.Input is null ? "input" : "expected_output", "is missing (a test is {input, expected_output} or {assert})");
            return test;
        });
        if (tests.Count == 0) throw f.Error("tests", "must hold at least one test");
        var timeout = f.OptionalDouble("timeout_s") ?? 5;
        if (timeout <= 0) throw f.Error("timeout_s", "must be positive");
        var memory = f.OptionalInt("memory_mb") ?? 1024;
        if (memory <= 0) throw f.Error("memory_mb", "must be positive");
        return Common(new PromptTestsRecord(f.TextOrMessages("prompt"), tests, f.String("language"))
        {
            EntryPoint = f.OptionalString("entry_point"), TimeoutS = timeout, MemoryMb = memory,
            ReferenceSolution = f.OptionalString("reference_solution"),
        }, f);
    }
}
