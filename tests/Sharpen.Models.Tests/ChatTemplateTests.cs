namespace Sharpen.Models.Tests;

/// <summary>
/// Chat templates render the expected text, and the assistant mask covers exactly the assistant's content and
/// end-of-turn token — checked on a character tokenizer and on a trained BPE, whose merges would otherwise
/// happily cross segment boundaries.
/// </summary>
public class ChatTemplateTests
{
    static readonly string[] chatTokens =
        ["<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"];

    static readonly CharTokenizer chars = new(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:?!+=\n", chatTokens);

    static readonly Lazy<BpeTokenizer> bpe = new(() =>
        BpeTrainer.Train(TokenizerTests.Corpus(3000, seed: 1).Append("system user assistant\n\nBe brief. What is 2+2? And 3+3?"),
                         400, chatTokens.Prepend("<|endoftext|>")));

    static readonly ChatMessage[] conversation =
    [
        new("system", "Be brief."),
        new("user", "What is 2+2?"),
        new("assistant", "4"),
        new("user", "And 3+3?"),
        new("assistant", "6 it is."),
    ];

    public static TheoryData<string, string, string[]> Expected => new()
    {
        {
            "chatml",
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is 2+2?<|im_end|>\n" +
            "<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n6 it is.<|im_end|>\n",
            ["4<|im_end|>", "6 it is.<|im_end|>"]
        },
        {
            "llama3",
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n4<|eot_id|>" +
            "<|start_header_id|>user<|end_header_id|>\n\nAnd 3+3?<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n6 it is.<|eot_id|>",
            ["4<|eot_id|>", "6 it is.<|eot_id|>"]
        },
        {
            "plain",
            "System: Be brief.\nUser: What is 2+2?\nAssistant: 4<EOS>\nUser: And 3+3?\nAssistant: 6 it is.<EOS>\n",
            ["4<EOS>", "6 it is.<EOS>"]
        },
    };

    static ITokenizer[] Tokenizers => [chars, bpe.Value];

    /// <summary>The decoded runs of consecutive masked tokens.</summary>
    static List<string> MaskedRuns(ITokenizer tok, EncodedChat chat)
    {
        var runs = new List<string>();
        for (var i = 0; i < chat.Ids.Length; i++)
        {
            if (!chat.AssistantMask[i] || (i > 0 && chat.AssistantMask[i - 1])) continue;
            var end = i;
            while (end < chat.Ids.Length && chat.AssistantMask[end]) end++;
            runs.Add(tok.Decode(chat.Ids.AsSpan(i, end - i)));
        }
        return runs;
    }

    static string Eos(ITokenizer tok) => tok.IdToToken(tok.EosId!.Value)!;

    [Theory]
    [MemberData(nameof(Expected))]
    public void RenderedTextAndAssistantMaskAreExact(string name, string text, string[] assistantRuns)
    {
        foreach (var tok in Tokenizers)
        {
            var chat = ChatTemplates.Get(name).Encode(tok, conversation, addGenerationPrompt: false);
            Assert.Equal(chat.Ids.Length, chat.AssistantMask.Length);
            Assert.Equal(text.Replace("<EOS>", Eos(tok)), tok.Decode(chat.Ids));
            Assert.Equal(assistantRuns.Select(r => r.Replace("<EOS>", Eos(tok))), MaskedRuns(tok, chat));
            // the masked tokens are exactly the separately encoded contents plus one end token per assistant turn
            var expectedMasked = conversation.Where(m => m.Role == "assistant").Sum(m => tok.Encode(m.Content).Length + 1);
            Assert.Equal(expectedMasked, chat.AssistantMask.Count(m => m));
        }
    }

    [Theory]
    [InlineData("chatml", "<|im_start|>assistant\n")]
    [InlineData("llama3", "<|start_header_id|>assistant<|end_header_id|>\n\n")]
    [InlineData("plain", "Assistant: ")]
    public void GenerationPromptIsAppendedUnmaskedOnlyWhenAsked(string name, string prompt)
    {
        ChatMessage[] question = [new("user", "What is 2+2?")];
        foreach (var tok in Tokenizers)
        {
            var template = ChatTemplates.Get(name);
            var without = template.Encode(tok, question, addGenerationPrompt: false);
            var with = template.Encode(tok, question, addGenerationPrompt: true);
            Assert.Equal(without.Ids, with.Ids[..without.Ids.Length]);
            Assert.Equal(tok.Decode(without.Ids) + prompt, tok.Decode(with.Ids));
            Assert.DoesNotContain(true, with.AssistantMask);
        }
    }

    [Fact]
    public void TemplateNeedingATokenTheTokenizerLacksNamesIt()
    {
        var plain = new CharTokenizer("abc");
        var e = Assert.Throws<ArgumentException>(() => ChatTemplates.Get("chatml").Encode(plain, [new("user", "abc")], false));
        Assert.Contains("<|im_start|>", e.Message);
    }

    [Fact]
    public void UnknownTemplateNameListsTheKnownNames()
    {
        Assert.IsType<ChatMl>(ChatTemplates.Get("chatml"));
        Assert.IsType<Llama3Chat>(ChatTemplates.Get("llama3"));
        Assert.IsType<PlainChat>(ChatTemplates.Get("plain"));
        var e = Assert.Throws<ArgumentException>(() => ChatTemplates.Get("vicuna"));
        Assert.Contains("vicuna", e.Message);
        foreach (var name in new[] { "chatml", "llama3", "plain" }) Assert.Contains(name, e.Message);
    }
}
