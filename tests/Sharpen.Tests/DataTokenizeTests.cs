using Sharpen.Data;
using Sharpen.Data.Tasks;
using Sharpen.Models;

namespace Sharpen.Tests;

/// <summary>Records to token ids: standard and conversational forms, loss masks and truncation.</summary>
public class DataTokenizeTests
{
    // Arithmetic.Tokenizer(): <pad> 0, <bos> 1, <eos> 2, '0'..'9' → 3..12, '+' 13, '-' 14, '*' 15, '=' 16, ' ' 17.
    static readonly CharTokenizer Digits = Arithmetic.Tokenizer();

    // Letters for role headers plus the ChatML markers: <|im_start|> 3, <|im_end|> 4.
    static readonly CharTokenizer Chat = new("abcdefghijklmnopqrstuvwxyz\n ", ["<|im_start|>", "<|im_end|>"]);

    static readonly TokenizeOptions ChatMl = new() { Template = ChatTemplates.Get("chatml") };

    static int[] Chars(CharTokenizer tok, string s) => tok.Encode(s);

    [Fact]
    public void PlainPromptCompletion_MasksOnlyTheCompletionAndItsEos()
    {
        var e = Tokenize.Sft(new PromptCompletionRecord("12+3=", "15"), Digits, null, out var truncated);
        Assert.Equal([4, 5, 13, 6, 16, 4, 8, 2], e.Ids);
        Assert.Equal([false, false, false, false, false, true, true, true], e.LossMask);
        Assert.False(truncated);

        var all = Tokenize.Sft(new PromptCompletionRecord("12+3=", "15"), Digits, new() { CompletionOnly = false, AddBos = true, AddEos = false }, out _);
        Assert.Equal([1, 4, 5, 13, 6, 16, 4, 8], all.Ids);
        Assert.All(all.LossMask, Assert.True);
    }

    [Fact]
    public void MaxLength_CutsThePromptFromTheLeftFirstThenTheCompletionsTail()
    {
        var records = new DataRecord[] { new PromptCompletionRecord("12+3=", "15"), new PromptCompletionRecord("1=", "1") };
        var fit = Tokenize.Sft(records, Digits, new() { MaxLength = 5 }, out var truncated);
        Assert.Equal(1, truncated);                                 // 8 tokens → 5; the second has 4
        Assert.Equal([6, 16, 4, 8, 2], fit[0].Ids);                 // "3=" + "15" + eos
        Assert.Equal([false, false, true, true, true], fit[0].LossMask);
        Assert.Equal([4, 16, 4, 2], fit[1].Ids);

        var tiny = Tokenize.Sft(new PromptCompletionRecord("12+3=", "15"), Digits, new() { MaxLength = 2 }, out var cut);
        Assert.True(cut);
        Assert.Equal([4, 8], tiny.Ids);                             // prompt emptied, completion's first 2 tokens

        var text = Tokenize.Sft(new TextRecord("1234"), Digits, new() { MaxLength = 3 }, out var textCut);
        Assert.Equal([4, 5, 6], text.Ids);
        Assert.Equal([true, true, true], text.LossMask);
        Assert.True(textCut);
    }

    [Fact]
    public void Conversation_LossMaskIsTheAssistantContentAndEndMarker()
    {
        var record = new ConversationRecord([new Message("user", "hi"), new Message("assistant", "yo")]);
        var e = Tokenize.Sft(record, Chat, ChatMl, out _);
        // <|im_start|> "user\n" "hi" <|im_end|> "\n" | <|im_start|> "assistant\n" "yo" <|im_end|> "\n"
        int[] expected = [3, .. Chars(Chat, "user\nhi"), 4, .. Chars(Chat, "\n"), 3, .. Chars(Chat, "assistant\nyo"), 4, .. Chars(Chat, "\n")];
        Assert.Equal(expected, e.Ids);
        Assert.Equal(25, e.Ids.Length);
        Assert.Equal([21, 22, 23], Enumerable.Range(0, 25).Where(i => e.LossMask[i]));
        Assert.Equal("yo<|im_end|>", Chat.Decode(e.Ids.Where((_, i) => e.LossMask[i]).ToArray()));
    }

    [Fact]
    public void ConversationalPromptCompletion_CompletionOnlyDropsEarlierAssistantTurns()
    {
        var record = new PromptCompletionRecord(
            new TextOrMessages([new Message("user", "a"), new Message("assistant", "b"), new Message("user", "c")]),
            new TextOrMessages([new Message("assistant", "d")]));
        var only = Tokenize.Sft(record, Chat, ChatMl, out _);
        Assert.Equal("d<|im_end|>", Chat.Decode(only.Ids.Where((_, i) => only.LossMask[i]).ToArray()));
        var every = Tokenize.Sft(record, Chat, ChatMl with { CompletionOnly = false }, out _);
        Assert.Equal(only.Ids, every.Ids);
        Assert.Equal("b<|im_end|>d<|im_end|>", Chat.Decode(every.Ids.Where((_, i) => every.LossMask[i]).ToArray()));
    }

    [Fact]
    public void ConversationalPair_PromptEndsWithTheGenerationPromptAndResponsesStopAtTheEndMarker()
    {
        var record = new PreferencePairRecord(new TextOrMessages([new Message("user", "hi")]),
            new TextOrMessages([new Message("assistant", "yo")]), "no") { Margin = 0.5 };
        var p = Tokenize.Pair(record, Chat, ChatMl, out _);
        Assert.Equal([3, .. Chars(Chat, "user\nhi"), 4, .. Chars(Chat, "\n"), 3, .. Chars(Chat, "assistant\n")], p.Prompt);
        Assert.Equal([.. Chars(Chat, "yo"), 4], p.Chosen);
        Assert.Equal([.. Chars(Chat, "no"), 4], p.Rejected);
        Assert.Equal(0.5, p.Margin);
        Assert.Equal(p.Prompt, Tokenize.Prompt(record.Prompt, Chat, ChatMl));
    }

    [Fact]
    public void Pair_SharesOnePromptTruncationSizedByTheLongerResponse()
    {
        var p = Tokenize.Pair(new PreferencePairRecord("12+34=", "46", "1000"), Digits, new() { MaxLength = 7 }, out var truncated);
        // prompt 6 + longest 5 ("1000" + eos) = 11 → drop 4 prompt tokens
        Assert.True(truncated);
        Assert.Equal(Chars(Digits, "4="), p.Prompt);
        Assert.Equal([.. Chars(Digits, "46"), 2], p.Chosen);
        Assert.Equal([.. Chars(Digits, "1000"), 2], p.Rejected);
    }

    [Fact]
    public void RankedList_IsSortedByDescendingScore()
    {
        var l = Tokenize.RankedList(new RankedListRecord("1+1=", ["3", "2", "4"], [0.1, 0.9, 0.5]), Digits, null, out _);
        Assert.Equal([0.9, 0.5, 0.1], l.Scores);
        Assert.Equal(["2", "4", "3"], l.Responses.Select(r => Digits.Decode(r, skipSpecialTokens: true)));
        var u = Tokenize.Unpaired(new UnpairedPreferenceRecord("1+1=", "2", false), Digits, null, out _);
        Assert.Equal(Chars(Digits, "1+1="), u.Prompt);
        Assert.Equal([5, 2], u.Completion);
        Assert.False(u.Desirable);
    }

    sealed class NoMaskTemplate : IChatTemplate
    {
        public EncodedChat Encode(ITokenizer tok, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
        {
            var ids = messages.SelectMany(m => tok.Encode(m.Content)).ToArray();
            return new EncodedChat(ids, new bool[ids.Length]);
        }
    }

    [Fact]
    public void Conversation_WithoutATemplateOrWithOneThatMarksNoAssistantTokens_IsAnError()
    {
        var record = new ConversationRecord([new Message("user", "hi"), new Message("assistant", "yo")]);
        var e = Assert.Throws<ArgumentException>(() => Tokenize.Sft(record, Chat, new() { Template = new NoMaskTemplate() }, out _));
        Assert.Contains("marks no assistant tokens", e.Message);
        Assert.Contains("chat template", Assert.Throws<ArgumentException>(() => Tokenize.Sft(record, Chat, null, out _)).Message);
    }
}
