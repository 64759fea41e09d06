namespace Sharpen.Data;

using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;

/// <summary>
/// Reads JSONL files (one JSON object per line; blank lines are ignored) into records. A malformed line — bytes that
/// are not UTF-8, bad JSON, a key given twice, a string holding a lone surrogate, a missing or ill-typed required field,
/// lists of the wrong length — is a <see cref="DataFormatException"/> whose message names the file, the 1-based line
/// number and the field, or, with <see cref="BadRecordPolicy.Skip"/>, is left out and counted. A path that is missing
/// or a directory is an <see cref="InputException"/> naming it.
/// </summary>
public static class JsonlReader
{
    // The file and line each record was read from, for errors found after reading (tokenisation).
    static readonly ConditionalWeakTable<DataRecord, Tuple<string, int>> origins = new();

    /// <summary>The file and 1-based line <paramref name="record"/> was read from, or null for a record not read by this class.</summary>
    public static (string File, int Line)? Origin(DataRecord record) =>
        origins.TryGetValue(record, out var o) ? (o.Item1, o.Item2) : null;

    /// <summary>Reads every record of <paramref name="path"/> as <typeparamref name="T"/>; <paramref name="skipped"/> counts bad lines left out.</summary>
    public static List<T> Read<T>(string path, BadRecordPolicy policy, out int skipped) where T : DataRecord, IJsonRecord<T> =>
        ReadLines(path, policy, out skipped, T.FromJson);

    /// <summary>
    /// Reads <paramref name="path"/> in the format <see cref="DetectFormat(string)"/> finds from its first record.
    /// </summary>
    public static List<DataRecord> ReadAny(string path, BadRecordPolicy policy, out int skipped, out DataFormat format)
    {
        format = DetectFormat(path);
        Func<JsonObject, DataRecord> parse = format switch
        {
            DataFormat.Text => TextRecord.FromJson,
            DataFormat.PromptCompletion => PromptCompletionRecord.FromJson,
            DataFormat.Conversation => ConversationRecord.FromJson,
            DataFormat.PreferencePair => PreferencePairRecord.FromJson,
            DataFormat.UnpairedPreference => UnpairedPreferenceRecord.FromJson,
            DataFormat.RankedList => RankedListRecord.FromJson,
            DataFormat.PromptAnswer => PromptAnswerRecord.FromJson,
            _ => PromptTestsRecord.FromJson,
        };
        return ReadLines(path, policy, out skipped, parse);
    }

    /// <summary>
    /// The format of <paramref name="path"/>, from the keys of its first non-blank line (see
    /// <see cref="DetectFormat(JsonObject)"/>); errors name the file and line.
    /// </summary>
    public static DataFormat DetectFormat(string path)
    {
        Utf8Lines.CheckReadable(path);
        foreach (var (number, line, error) in Utf8Lines.Lines(path))
        {
            if (error is not null) throw new DataFormatException(null, error, path, number);
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                return DetectFormat(ParseObject(line));
            }
            catch (DataFormatException e)
            {
                throw e.At(path, number);
            }
        }
        throw new DataFormatException(null, "holds no records", path);
    }

    /// <summary>
    /// The format whose required keys (<see cref="RequiredKeys"/>) <paramref name="record"/> has. When several match, the
    /// one whose keys include all the others' wins (prompt + completion + label is unpaired preference, not
    /// prompt–completion); when two match and neither includes the other (text and prompt + completion) the record is
    /// ambiguous, which is an error naming the candidates, as is a record matching none.
    /// </summary>
    public static DataFormat DetectFormat(JsonObject record)
    {
        var matches = Enum.GetValues<DataFormat>().Where(f => RequiredKeys(f).All(k => record[k] is not null)).ToList();
        var maximal = matches.Where(f => !matches.Any(g => g != f && RequiredKeys(g).IsProperSupersetOf(RequiredKeys(f)))).ToList();
        var keys = string.Join(", ", record.Select(kv => kv.Key));
        return maximal.Count switch
        {
            1 => maximal[0],
            0 => throw new DataFormatException(null, $"no known format has the keys {{{keys}}}; expected one of: " +
                 string.Join("; ", Enum.GetValues<DataFormat>().Select(f => $"{f} ({string.Join(", ", RequiredKeys(f))})"))),
            _ => throw new DataFormatException(null, $"the keys {{{keys}}} are ambiguous: they fit " +
                 string.Join(" and ", maximal.Select(f => $"{f} ({string.Join(", ", RequiredKeys(f))})")) + "; read with an explicit record type"),
        };
    }

    /// <summary>The keys that identify <paramref name="format"/> (ranked lists also need <c>scores</c> or <c>ranks</c>, code prompts <c>language</c>).</summary>
    public static HashSet<string> RequiredKeys(DataFormat format) => format switch
    {
        DataFormat.Text => ["text"],
        DataFormat.PromptCompletion => ["prompt", "completion"],
        DataFormat.Conversation => ["messages"],
        DataFormat.PreferencePair => ["prompt", "chosen", "rejected"],
        DataFormat.UnpairedPreference => ["prompt", "completion", "label"],
        DataFormat.RankedList => ["prompt", "responses"],
        DataFormat.PromptAnswer => ["prompt", "answer"],
        DataFormat.PromptTests => ["prompt", "tests"],
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, null),
    };

    static List<T> ReadLines<T>(string path, BadRecordPolicy policy, out int skipped, Func<JsonObject, T> parse)
    {
        var records = new List<T>();
        skipped = 0;
        Utf8Lines.CheckReadable(path);
        foreach (var (number, line, error) in Utf8Lines.Lines(path))
        {
            if (line is not null && string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                var record = parse(ParseObject(line ?? throw new DataFormatException(null, error!)));
                if (record is DataRecord r) origins.AddOrUpdate(r, Tuple.Create(path, number));
                records.Add(record);
            }
            catch (DataFormatException) when (policy == BadRecordPolicy.Skip)
            {
                skipped++;
            }
            catch (DataFormatException e)
            {
                throw e.At(path, number);
            }
        }
        return records;
    }

    static readonly JsonDocumentOptions Strict = new() { AllowDuplicateProperties = false };

    static JsonObject ParseObject(string line)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(line, documentOptions: Strict);
        }
        catch (JsonException e)
        {
            throw new DataFormatException(null, InputException.InvalidJson(null, e).Problem);
        }
        var record = node as JsonObject ?? throw new DataFormatException(null, "a record must be a JSON object");
        CheckStrings(record, "");
        return record;
    }

    // JSON lets "\ud800" escape half of a surrogate pair on its own; such a string is not Unicode text. Finds the
    // first one (in a value or a key) and names its field.
    static void CheckStrings(JsonNode? node, string path)
    {
        const string lone = "holds a lone UTF-16 surrogate (a \\uD800-\\uDFFF escape without its pair), which is not text";
        switch (node)
        {
            case JsonObject o:
                foreach (var (key, value) in o)
                {
                    if (HasLoneSurrogate(key)) throw new DataFormatException(path.Length > 0 ? path : null, $"a key {lone}");
                    CheckStrings(value, path.Length > 0 ? $"{path}.{key}" : key);
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++) CheckStrings(a[i], $"{path}[{i}]");
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                try
                {
                    if (HasLoneSurrogate(v.GetValue<string>())) throw new DataFormatException(path, lone);
                }
                catch (InvalidOperationException)
                {
                    throw new DataFormatException(path, lone);
                }
                break;
        }
    }

    static bool HasLoneSurrogate(string s)
    {
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            else if (char.IsSurrogate(s[i])) return true;
        }
        return false;
    }
}
