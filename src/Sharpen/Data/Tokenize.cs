namespace Sharpen.Data;

using Sharpen.Models;

/// <summary>
/// Turns records into token ids for the trainers. Standard form: [bos?] prompt tokens, then completion tokens
/// [+ eos], prompt and completion encoded separately. Conversational form: the chat template renders the prompt's
/// messages followed by the response's, and the loss mask is the template's assistant mask (a response given as plain
/// text after a conversational prompt is taken as one assistant message). Truncation is described at
/// <see cref="TokenizeOptions.MaxLength"/>; each method reports whether it truncated. The list methods report a record
/// read by <see cref="JsonlReader"/> that cannot be tokenised as a <see cref="DataFormatException"/> naming its file and line.
/// </summary>
public static class Tokenize
{
    /// <summary>
    /// A supervised example from a <see cref="TextRecord"/> (loss on every token), a <see cref="PromptCompletionRecord"/>
    /// (loss on the completion, see <see cref="TokenizeOptions.CompletionOnly"/>) or a <see cref="ConversationRecord"/>
    /// (loss on assistant tokens).
    /// </summary>
    /// <exception cref="ArgumentException">Another record type, a conversational record without a template, or a template that marks no assistant tokens.</exception>
    public static SftExample Sft(DataRecord record, ITokenizer tok, TokenizeOptions? options, out bool truncated)
    {
        var o = options ?? new TokenizeOptions();
        truncated = false;
        switch (record)
        {
            case TextRecord t:
            {
                var ids = Bos(tok, o).Concat(tok.Encode(t.Text)).Concat(Eos(tok, o)).ToArray();
                var keep = Math.Min(ids.Length, o.MaxLength ?? int.MaxValue);
                truncated = keep < ids.Length;
                return new SftExample(ids[..keep], Enumerable.Repeat(true, keep).ToArray());
            }
            case PromptCompletionRecord pc:
            {
                var s = Encode(pc.Prompt, pc.Completion, tok, o, singleResponse: false);
                var (left, keep) = Budget(s.Prompt.Length, s.Completion.Length, o.MaxLength, out truncated);
                var promptMask = o.CompletionOnly ? new bool[s.Prompt.Length] : s.PromptMask;
                return new SftExample([.. s.Prompt[left..], .. Head(s.Completion, keep)], [.. promptMask[left..], .. Head(s.CompletionMask, keep)]);
            }
            case ConversationRecord c:
            {
                var e = Template(o).Encode(tok, c.Messages.Select(m => m.ToChat()).ToList(), addGenerationPrompt: false);
                CheckAssistantMarked(c.Messages, e.AssistantMask);
                var drop = Math.Max(0, e.Ids.Length - (o.MaxLength ?? int.MaxValue));
                truncated = drop > 0;
                return new SftExample(e.Ids[drop..], e.AssistantMask[drop..]);
            }
            default:
                throw new ArgumentException($"{record.GetType().Name} is not supervised data (text, prompt–completion or conversation)", nameof(record));
        }
    }

    /// <summary>Supervised examples from <paramref name="records"/>; <paramref name="truncated"/> counts those cut to <see cref="TokenizeOptions.MaxLength"/>.</summary>
    public static List<SftExample> Sft(IEnumerable<DataRecord> records, ITokenizer tok, TokenizeOptions? options, out int truncated) =>
        Many(records, r => (Sft(r, tok, options, out var t), t), out truncated);

    /// <summary>A preference pair; each response ends with its end token, and the two share one prompt truncation.</summary>
    public static PairExample Pair(PreferencePairRecord record, ITokenizer tok, TokenizeOptions? options, out bool truncated)
    {
        var o = options ?? new TokenizeOptions();
        var chosen = Encode(record.Prompt, record.Chosen, tok, o, singleResponse: true);
        var rejected = Encode(record.Prompt, record.Rejected, tok, o, singleResponse: true);
        var (left, keep) = Budget(chosen.Prompt.Length, Math.Max(chosen.Completion.Length, rejected.Completion.Length), o.MaxLength, out truncated);
        return new PairExample(chosen.Prompt[left..], Head(chosen.Completion, keep), Head(rejected.Completion, keep), record.Margin);
    }

    /// <summary>Preference pairs from <paramref name="records"/>; <paramref name="truncated"/> counts those truncated.</summary>
    public static List<PairExample> Pairs(IEnumerable<PreferencePairRecord> records, ITokenizer tok, TokenizeOptions? options, out int truncated) =>
        Many(records, r => (Pair(r, tok, options, out var t), t), out truncated);

    /// <summary>An unpaired preference: the response and its label (true: desirable).</summary>
    public static UnpairedExample Unpaired(UnpairedPreferenceRecord record, ITokenizer tok, TokenizeOptions? options, out bool truncated)
    {
        var o = options ?? new TokenizeOptions();
        var s = Encode(record.Prompt, record.Completion, tok, o, singleResponse: true);
        var (left, keep) = Budget(s.Prompt.Length, s.Completion.Length, o.MaxLength, out truncated);
        return new UnpairedExample(s.Prompt[left..], Head(s.Completion, keep), record.Label);
    }

    /// <summary>Unpaired preferences from <paramref name="records"/>; <paramref name="truncated"/> counts those truncated.</summary>
    public static List<UnpairedExample> Unpaired(IEnumerable<UnpairedPreferenceRecord> records, ITokenizer tok, TokenizeOptions? options, out int truncated) =>
        Many(records, r => (Unpaired(r, tok, options, out var t), t), out truncated);

    /// <summary>A ranked list with its responses sorted by descending score (equal scores keep file order).</summary>
    public static ListExample RankedList(RankedListRecord record, ITokenizer tok, TokenizeOptions? options, out bool truncated)
    {
        var o = options ?? new TokenizeOptions();
        var order = Enumerable.Range(0, record.Responses.Count).OrderByDescending(i => record.Scores[i]).ToArray();
        var encoded = order.Select(i => Encode(record.Prompt, record.Responses[i], tok, o, singleResponse: true)).ToArray();
        var (left, keep) = Budget(encoded[0].Prompt.Length, encoded.Max(e => e.Completion.Length), o.MaxLength, out truncated);
        return new ListExample(encoded[0].Prompt[left..], encoded.Select(e => Head(e.Completion, keep)).ToArray(),
                               order.Select(i => record.Scores[i]).ToArray());
    }

    /// <summary>Ranked lists from <paramref name="records"/>; <paramref name="truncated"/> counts those truncated.</summary>
    public static List<ListExample> RankedLists(IEnumerable<RankedListRecord> records, ITokenizer tok, TokenizeOptions? options, out int truncated) =>
        Many(records, r => (RankedList(r, tok, options, out var t), t), out truncated);

    /// <summary>
    /// The token ids a model continues from to answer <paramref name="prompt"/>: [bos?] + the text (standard form), or
    /// the rendered messages with the template's generation prompt (conversational form). Not truncated.
    /// </summary>
    public static int[] Prompt(TextOrMessages prompt, ITokenizer tok, TokenizeOptions? options)
    {
        var o = options ?? new TokenizeOptions();
        return prompt.IsConversational
            ? Template(o).Encode(tok, prompt.Messages!.Select(m => m.ToChat()).ToList(), addGenerationPrompt: true).Ids
            : [.. Bos(tok, o), .. tok.Encode(prompt.Text!)];
    }

    /// <summary>A prompt and one response as tokens, with the loss mask of each part.</summary>
    readonly record struct Encoded(int[] Prompt, bool[] PromptMask, int[] Completion, bool[] CompletionMask);

    /// <summary>
    /// Encodes <paramref name="prompt"/> then <paramref name="completion"/>. With <paramref name="singleResponse"/> (pairs,
    /// unpaired, lists) a conversational response must be one assistant message, and its tokens stop at the last
    /// assistant token (the template's separator after the end-of-turn token is not part of the response).
    /// </summary>
    static Encoded Encode(TextOrMessages prompt, TextOrMessages completion, ITokenizer tok, TokenizeOptions o, bool singleResponse)
    {
        if (!prompt.IsConversational)
        {
            if (completion.IsConversational)
                throw new ArgumentException("a plain-text prompt cannot take a conversational (message list) response");
            var p = Prompt(prompt, tok, o);
            int[] c = [.. tok.Encode(completion.Text!), .. Eos(tok, o)];
            return new Encoded(p, Enumerable.Repeat(true, p.Length).ToArray(), c, Enumerable.Repeat(true, c.Length).ToArray());
        }
        var responseMessages = completion.Messages ?? [new Message("assistant", completion.Text!)];
        if (singleResponse && (responseMessages.Count != 1 || responseMessages[0].Role != "assistant"))
            throw new ArgumentException($"a conversational response here must be one assistant message, not {responseMessages.Count} message(s) starting with role \"{responseMessages.FirstOrDefault()?.Role}\"");
        var promptIds = Prompt(prompt, tok, o);
        var full = Template(o).Encode(tok, prompt.Messages!.Concat(responseMessages).Select(m => m.ToChat()).ToList(), addGenerationPrompt: false);
        if (full.Ids.Length < promptIds.Length || !full.Ids.AsSpan(0, promptIds.Length).SequenceEqual(promptIds))
            throw new ArgumentException("the chat template's generation prompt is not a prefix of the rendered conversation, so the response cannot be separated from the prompt");
        var n = promptIds.Length;
        CheckAssistantMarked(responseMessages, full.AssistantMask.AsSpan(n));
        var end = full.Ids.Length;
        if (singleResponse)
            while (end > n && !full.AssistantMask[end - 1]) end--;
        if (singleResponse && full.AssistantMask.AsSpan(n, end - n).Contains(false))
            throw new ArgumentException("the chat template leaves tokens inside the assistant message out of the assistant mask");
        return new Encoded(promptIds, full.AssistantMask[..n], full.Ids[n..end], full.AssistantMask[n..end]);
    }

    /// <summary>docs/algorithms.md §1: if the chat template cannot mark assistant spans, error out.</summary>
    static void CheckAssistantMarked(IReadOnlyList<Message> messages, ReadOnlySpan<bool> mask)
    {
        if (messages.Any(m => m.Role == "assistant" && m.Content.Length > 0) && !mask.Contains(true))
            throw new ArgumentException("the chat template marks no assistant tokens although the conversation has assistant turns; it cannot give a loss mask");
    }

    /// <summary>
    /// Fits a prompt of <paramref name="promptLength"/> and responses of at most <paramref name="longest"/> tokens into
    /// <paramref name="maxLength"/>: the prompt tokens to drop from the left and the response tokens to keep.
    /// </summary>
    static (int Left, int Keep) Budget(int promptLength, int longest, int? maxLength, out bool truncated)
    {
        var max = maxLength ?? int.MaxValue;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max, nameof(TokenizeOptions.MaxLength));
        var excess = Math.Max(0, promptLength + longest - max);
        truncated = excess > 0;
        var left = Math.Min(promptLength, excess);
        return (left, max - (promptLength - left));
    }

    static T[] Head<T>(T[] items, int keep) => items.Length <= keep ? items : items[..keep];

    static IChatTemplate Template(TokenizeOptions o) => o.Template
        ?? throw new ArgumentException("conversational records (message lists) need a chat template: set TokenizeOptions.Template");

    static int[] Bos(ITokenizer tok, TokenizeOptions o) =>
        !o.AddBos ? [] : [tok.BosId ?? throw new ArgumentException("AddBos is set but the tokenizer has no beginning-of-sequence token")];

    static int[] Eos(ITokenizer tok, TokenizeOptions o) => o.AddEos && tok.EosId is { } eos ? [eos] : [];

    static List<T> Many<TRecord, T>(IEnumerable<TRecord> records, Func<TRecord, (T Example, bool Truncated)> one, out int truncated)
    {
        var result = new List<T>();
        truncated = 0;
        foreach (var r in records)
        {
            (T, bool) done;
            try
            {
                done = one(r);
            }
            catch (ArgumentException x) when (r is DataRecord d && JsonlReader.Origin(d) is { } origin)
            {
                // A character outside the tokenizer's alphabet, a conversation the template cannot render: name the record.
                var message = x.ParamName is { } p ? x.Message.Replace($" (Parameter '{p}')", "") : x.Message;
                throw new DataFormatException(null, message, origin.File, origin.Line);
            }
            var (e, t) = done;
            result.Add(e);
            if (t) truncated++;
        }
        return result;
    }
}
