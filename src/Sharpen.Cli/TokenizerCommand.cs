namespace Sharpen.Cli;

using Sharpen.Models;

/// <summary>`sharpen tokenizer train|encode`: train a byte-level BPE on text files, or inspect a tokenizer.</summary>
static class TokenizerCommand
{
    public const string Usage = """
        usage: sharpen tokenizer train --input FILE [--input FILE ...] --out DIR [options]
          --vocab-size N     vocabulary size including 256 byte tokens and the special tokens (4096)
          --special TOKEN    special token (repeatable; default <|endoftext|> <|im_start|> <|im_end|>)
          --pattern REGEX    pre-tokenizer split pattern (default: Llama-3's)
        usage: sharpen tokenizer encode --tokenizer PATH --text TEXT
        """;

    public static int Run(string[] argv)
    {
        if (argv.Length == 0 || argv[0] is "--help" or "-h") { Console.WriteLine(Usage); return argv.Length == 0 ? 1 : 0; }
        return argv[0] switch
        {
            "train" => Train(new Args(argv[1..])),
            "encode" => Encode(new Args(argv[1..])),
            _ => throw new ArgumentException($"tokenizer: unknown sub-command '{argv[0]}' (train, encode)"),
        };
    }

    static int Train(Args a)
    {
        var inputs = a.All("input");
        if (inputs.Count == 0) throw new ArgumentException("tokenizer train: give at least one --input file");
        var dir = a.Required("out");
        var vocab = a.Int("vocab-size", 4096);
        var specials = a.All("special") is { Count: > 0 } s ? s : ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
        var pattern = a.Get("pattern");
        a.EnsureAllUsed();
        foreach (var f in inputs)
            if (!File.Exists(f)) throw new FileNotFoundException($"tokenizer train: input file not found: {f}");
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var tok = BpeTrainer.Train(inputs.SelectMany(File.ReadLines).Select(l => l + "\n"), vocab, specials, pattern);
        Directory.CreateDirectory(dir);
        tok.Save(dir);
        Console.WriteLine($"trained a {tok.VocabSize}-token byte-level BPE in {sw.Elapsed.TotalSeconds:F1} s → {Path.Combine(dir, "tokenizer.json")}");
        return 0;
    }

    static int Encode(Args a)
    {
        var tok = TokenizerLoader.Load(a.Required("tokenizer"));
        var text = a.Required("text");
        a.EnsureAllUsed();
        var ids = tok.Encode(text);
        Console.WriteLine(string.Join(" ", ids));
        Console.WriteLine(string.Join(" | ", ids.Select(i => tok.Decode([i]))));
        return 0;
    }
}
