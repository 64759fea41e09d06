namespace Sharpen.Cli;

using Sharpen.Data;
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
        var a = new Args(argv[1..]);
        if (a.Help) { Console.WriteLine(Usage); return 0; }
        return argv[0] switch
        {
            "train" => Train(a),
            "encode" => Encode(a),
            _ => throw new UsageException($"unknown sub-command '{argv[0]}' (train, encode)"),
        };
    }

    static int Train(Args a)
    {
        var inputs = a.All("input");
        if (inputs.Count == 0) throw new UsageException("give at least one --input file");
        var dir = a.Required("out");
        var vocab = a.Int("vocab-size", 4096);
        var specials = a.All("special") is { Count: > 0 } s ? s : ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];
        var pattern = a.Get("pattern");
        a.EnsureAllUsed();
        if (vocab < 256 + specials.Count)
            throw new UsageException($"option --vocab-size {vocab} is below the 256 byte tokens + {specials.Count} special tokens");
        foreach (var f in inputs) Utf8Lines.CheckReadable(f);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        // Strict UTF-8: a byte that is not text is an error naming the file and line, not a U+FFFD learned as a token.
        var tok = BpeTrainer.Train(inputs.SelectMany(f => Utf8Lines.Read(f).Select(l => l.Text + "\n")), vocab, specials, pattern);
        Directory.CreateDirectory(dir);
        tok.Save(dir);
        Console.WriteLine($"trained a {tok.VocabSize}-token byte-level BPE in {sw.Elapsed.TotalSeconds:F1} s → {Path.Combine(dir, "tokenizer.json")}");
        return 0;
    }

    static int Encode(Args a)
    {
        var path = a.Required("tokenizer");
        var text = a.Required("text");
        a.EnsureAllUsed();
        var tok = TokenizerLoader.Load(path);
        var ids = tok.Encode(text);
        Console.WriteLine(string.Join(" ", ids));
        Console.WriteLine(string.Join(" | ", ids.Select(i => tok.Decode([i]))));
        return 0;
    }
}
