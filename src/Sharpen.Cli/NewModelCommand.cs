namespace Sharpen.Cli;

using Sharpen.Models;
using Torch = Sharpen.Torch.Torch;

/// <summary>`sharpen new-model --out DIR`: a randomly initialised model in Hugging Face layout, with a tokenizer.</summary>
static class NewModelCommand
{
    public const string Usage = """
        usage: sharpen new-model --out DIR [options]
          --type T          llama, qwen2, qwen3 or mistral (llama)
          --layers N        transformer blocks (4)
          --hidden N        hidden size (256)
          --heads N         attention heads (4)
          --kv-heads N      key/value heads (2)
          --intermediate N  MLP width (4 × hidden / 1.5, rounded to 64)
          --tokenizer PATH  tokenizer.json to use (default: a character tokenizer for the built-in tasks)
          --seed S          initialisation seed (0)
        """;

    /// <summary>Characters of the built-in tasks (digits, arithmetic, a little text).</summary>
    public const string TaskAlphabet = "0123456789+-*/=()<>[],.:;?! abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ\n";

    public static int Run(string[] argv)
    {
        var a = new Args(argv);
        if (a.Help) { Console.WriteLine(Usage); return 0; }
        var dir = a.Required("out");
        var hidden = a.Int("hidden", 256);
        var tokPath = a.Get("tokenizer");
        var config = new ModelConfig
        {
            ModelType = a.Get("type") ?? "llama",
            HiddenSize = hidden,
            NumHiddenLayers = a.Int("layers", 4),
            NumAttentionHeads = a.Int("heads", 4),
            NumKeyValueHeads = a.Int("kv-heads", 2),
            IntermediateSize = a.Int("intermediate", (int)Math.Round(hidden * 4 / 1.5 / 64) * 64),
            MaxPositionEmbeddings = 2048,
            TieWordEmbeddings = true,
        };
        var seed = (ulong)a.Int("seed", 0);
        a.EnsureAllUsed();
        var tokenizer = tokPath is null ? new CharTokenizer(TaskAlphabet) : TokenizerLoader.Load(tokPath);
        (config.VocabSize, config.BosTokenId, config.PadTokenId) = (tokenizer.VocabSize, tokenizer.BosId, tokenizer.PadId);
        if (tokenizer.EosId is { } eos) config.SetEosTokenIds(eos);
        config.Validate();
        Torch.Seed(seed);
        using var model = new CausalLM(config);
        HfCheckpoint.Save(model, config, dir, tokenizer);
        Console.WriteLine($"wrote {dir}: {config.ModelType}, {model.ParameterCount():N0} parameters, vocab {config.VocabSize}");
        return 0;
    }
}
