namespace Sharpen.Models;

/// <summary>One turn of a conversation: <paramref name="Role"/> is "system", "user", "assistant" (or another role the template accepts).</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// A conversation as token ids. <paramref name="AssistantMask"/>[i] is true exactly on the tokens the assistant
/// produced — its content and its end-of-turn token — and false on system/user text, role headers and the
/// generation prompt; it is the loss mask for supervised fine-tuning.
/// </summary>
public sealed record EncodedChat(int[] Ids, bool[] AssistantMask);

/// <summary>
/// Turns a conversation into tokens. Every segment (header, content, end marker) is encoded on its own and the
/// ids are concatenated, so no token ever spans a turn boundary and the assistant mask is exact. Special markers
/// are looked up by name and must exist in the tokenizer.
/// </summary>
public interface IChatTemplate
{
    /// <summary>
    /// Encodes <paramref name="messages"/>; with <paramref name="addGenerationPrompt"/> the header of a new assistant
    /// turn is appended so that generation continues with the assistant's reply.
    /// </summary>
    EncodedChat Encode(ITokenizer tok, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt);
}

/// <summary>Chat templates by name.</summary>
public static class ChatTemplates
{
    static readonly Dictionary<string, IChatTemplate> byName = new(StringComparer.OrdinalIgnoreCase)
    {
        ["chatml"] = new ChatMl(), ["llama3"] = new Llama3Chat(), ["plain"] = new PlainChat(),
    };

    /// <summary>The registered names.</summary>
    public static IReadOnlyCollection<string> Names => byName.Keys;

    /// <summary>The template called <paramref name="name"/> ("chatml", "llama3" or "plain").</summary>
    /// <exception cref="ArgumentException">The name is unknown; the message lists the known names.</exception>
    public static IChatTemplate Get(string name) => byName.TryGetValue(name, out var t) ? t
        : throw new ArgumentException($"unknown chat template \"{name}\"; known templates: {string.Join(", ", byName.Keys)}", nameof(name));
}

/// <summary>Accumulates ids and the assistant mask segment by segment.</summary>
internal sealed class ChatBuilder(ITokenizer tok, string template)
{
    readonly List<int> ids = [];
    readonly List<bool> mask = [];

    /// <summary>The role whose tokens are masked in.</summary>
    public const string Assistant = "assistant";

    /// <summary>Appends the tokens of <paramref name="text"/>, encoded on its own.</summary>
    public void Text(string text, bool assistant = false)
    {
        var e = tok.Encode(text);
        ids.AddRange(e);
        mask.AddRange(Enumerable.Repeat(assistant, e.Length));
    }

    /// <summary>Appends the special token <paramref name="token"/>, which the tokenizer must have.</summary>
    public void Special(string token, bool assistant = false) =>
        Id(tok.TokenToId(token) ?? throw new ArgumentException($"chat template {template} needs the token {token}, which the tokenizer lacks"), assistant);

    /// <summary>Appends token id <paramref name="id"/>.</summary>
    public void Id(int id, bool assistant = false)
    {
        ids.Add(id);
        mask.Add(assistant);
    }

    /// <summary>The ids and mask so far.</summary>
    public EncodedChat Build() => new(ids.ToArray(), mask.ToArray());
}

/// <summary>
/// ChatML as Qwen uses it: <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c> per message; the generation
/// prompt is <c>&lt;|im_start|&gt;assistant\n</c>. The assistant's content and its &lt;|im_end|&gt; are masked in.
/// </summary>
public sealed class ChatMl : IChatTemplate
{
    /// <inheritdoc/>
    public EncodedChat Encode(ITokenizer tok, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var b = new ChatBuilder(tok, "chatml");
        foreach (var m in messages)
        {
            var a = m.Role == ChatBuilder.Assistant;
            b.Special("<|im_start|>");
            b.Text(m.Role + "\n");
            b.Text(m.Content, a);
            b.Special("<|im_end|>", a);
            b.Text("\n");
        }
        if (addGenerationPrompt)
        {
            b.Special("<|im_start|>");
            b.Text(ChatBuilder.Assistant + "\n");
        }
        return b.Build();
    }
}

/// <summary>
/// Llama-3's format: <c>&lt;|begin_of_text|&gt;</c>, then per message
/// <c>&lt;|start_header_id|&gt;{role}&lt;|end_header_id|&gt;\n\n{content}&lt;|eot_id|&gt;</c>; the generation prompt is an
/// assistant header. The assistant's content and its &lt;|eot_id|&gt; are masked in.
/// </summary>
public sealed class Llama3Chat : IChatTemplate
{
    /// <inheritdoc/>
    public EncodedChat Encode(ITokenizer tok, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var b = new ChatBuilder(tok, "llama3");
        b.Special("<|begin_of_text|>");
        foreach (var m in messages)
        {
            var a = m.Role == ChatBuilder.Assistant;
            Header(b, m.Role);
            b.Text(m.Content, a);
            b.Special("<|eot_id|>", a);
        }
        if (addGenerationPrompt) Header(b, ChatBuilder.Assistant);
        return b.Build();
    }

    static void Header(ChatBuilder b, string role)
    {
        b.Special("<|start_header_id|>");
        b.Text(role);
        b.Special("<|end_header_id|>");
        b.Text("\n\n");
    }
}

/// <summary>
/// Plain text for small models without chat tokens: <c>{Role}: {content}\n</c> per message with the role
/// capitalised ("User: …"); an assistant turn is <c>Assistant: {content}{eos}\n</c>, its content and the
/// tokenizer's end-of-sequence token masked in. The generation prompt is <c>Assistant: </c>.
/// </summary>
public sealed class PlainChat : IChatTemplate
{
    /// <inheritdoc/>
    public EncodedChat Encode(ITokenizer tok, IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        var eos = tok.EosId ?? throw new ArgumentException("chat template plain needs an end-of-sequence token, which the tokenizer lacks");
        var b = new ChatBuilder(tok, "plain");
        foreach (var m in messages)
        {
            var a = m.Role == ChatBuilder.Assistant;
            b.Text(Header(m.Role));
            b.Text(m.Content, a);
            if (a) b.Id(eos, assistant: true);
            b.Text("\n");
        }
        if (addGenerationPrompt) b.Text(Header(ChatBuilder.Assistant));
        return b.Build();
    }

    static string Header(string role) => role.Length == 0 ? ": " : char.ToUpperInvariant(role[0]) + role[1..] + ": ";
}
