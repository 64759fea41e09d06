namespace Sharpen.Data;

using System.Text.Json;
using System.Text.Json.Nodes;

/// <summary>
/// Reads JSONL files (one JSON object per line; blank lines are ignored) into records. A malformed line — bad JSON,
/// a missing or ill-typed required field, lists of the wrong length — is a <see cref="DataFormatException"/> whose
/// message names the file, the 1-based line number and the field, or, with <see cref="BadRecordPolicy.Skip"/>, is left
/// out and counted.
/// </summary>
public static class JsonlReader
{
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
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
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
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            try
            {
                records.Add(parse(ParseObject(line)));
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

    static JsonObject ParseObject(string line)
    {
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(line);
        }
        catch (JsonException e)
        {
            throw new DataFormatException(null, $"invalid JSON: {e.Message}");
        }
        return node as JsonObject ?? throw new DataFormatException(null, "a record must be a JSON object");
    }
}
