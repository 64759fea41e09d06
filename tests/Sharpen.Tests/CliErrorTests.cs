namespace Sharpen.Tests;

using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Sharpen.Cli;

/// <summary>
/// End-to-end: every user mistake ends `sharpen` with exactly one line on stderr —
/// <c>sharpen &lt;command&gt;: &lt;file&gt;[:line][: field]: what is wrong</c> — and exit 1 (2 for the command line);
/// an internal error says it is a bug, names the log holding the stack trace, and exits 70.
/// </summary>
public sealed class CliErrorTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("sharpen-cli-errors-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Sharpen.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    // Runs the command and returns its one stderr line, after checking the exit code and that there is exactly one line.
    static string OneLine(int code, params string[] args)
    {
        var r = Run(args);
        var lines = r.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one stderr line, got {lines.Length}:\n{r.Err}");
        Assert.Equal(code, r.Code);
        return lines[0].TrimEnd('\r');
    }

    // A tiny model (Hugging Face layout) written by the CLI itself.
    string Model(string name)
    {
        var path = Path.Combine(dir, name);
        var r = Run("new-model", "--out", path, "--layers", "1", "--hidden", "16", "--heads", "2", "--kv-heads", "1");
        Assert.True(r.Code == 0, r.Err);
        return path;
    }

    [Fact]
    public void CorruptSafetensorsFiles_AreOneLineNamingFileAndTensor()
    {
        var model = Model("m");
        var weights = Path.Combine(model, "model.safetensors");
        var good = File.ReadAllBytes(weights);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(good);
        string Generate(byte[] bytes)
        {
            File.WriteAllBytes(weights, bytes);
            return OneLine(1, "generate", "--model", model, "--prompt", "1+1=");
        }

        Assert.Equal($"sharpen generate: {weights}: the file is 0 bytes long, shorter than the 8-byte header length", Generate([]));
        Assert.Equal($"sharpen generate: {weights}: the header length says {good.Length} bytes but only {good.Length - 8} bytes follow it (truncated or corrupt file)",
            Generate([.. BitConverter.GetBytes((ulong)good.Length), .. good[8..]]));
        Assert.StartsWith($"sharpen generate: {weights}: the header is not valid JSON (", Generate([.. good[..8], .. "{\"x\" "u8, .. good[13..]]));
        Assert.Matches($"^sharpen generate: {System.Text.RegularExpressions.Regex.Escape(weights)}: tensor '[^']+': data_offsets \\[\\d+, \\d+\\] reach past the data section",
            Generate(good[..^3]));
        var header = Encoding.UTF8.GetString(good, 8, n);
        Assert.Contains("tensor 'model.norm.weight': unknown dtype 'F33'",
            Generate([.. good[..8], .. Encoding.UTF8.GetBytes(Swap(header, "model.norm.weight", "\"F32\"", "\"F33\"")), .. good[(8 + n)..]]));
    }

    // Replaces the first <paramref name="from"/> after <paramref name="tensor"/>'s name in a header, keeping its length.
    static string Swap(string header, string tensor, string from, string to)
    {
        var at = header.IndexOf(from, header.IndexOf($"\"{tensor}\"", StringComparison.Ordinal), StringComparison.Ordinal);
        return header[..at] + to + header[(at + from.Length)..];
    }

    [Fact]
    public void NonFiniteWeights_AreRefusedNamingTensorAndFile()
    {
        var model = Model("nan");
        var weights = Path.Combine(model, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        var n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        BitConverter.GetBytes(float.NaN).CopyTo(bytes, 8 + n);   // the first element of the first tensor by offset
        File.WriteAllBytes(weights, bytes);
        using var file = Sharpen.Torch.SafetensorsFile.Open(weights);
        var first = file.Names[0];
        Assert.Equal($"sharpen generate: {weights}: tensor '{first}': 1 of its {file[first].Shape.Aggregate(1L, (a, b) => a * b)} values are NaN or infinite",
            OneLine(1, "generate", "--model", model, "--prompt", "1"));
    }

    [Fact]
    public void TruncatedTokenizerJsonAndUnsupportedPreTokenizer_NameTheFile()
    {
        var model = Model("tok");
        var file = Path.Combine(model, "tokenizer.json");
        var text = File.ReadAllText(file);
        File.WriteAllText(file, text[..(text.Length / 2)]);
        Assert.Matches($"^sharpen tokenizer: {System.Text.RegularExpressions.Regex.Escape(file)}:\\d+: invalid JSON",
            OneLine(1, "tokenizer", "encode", "--tokenizer", model, "--text", "12"));

        var bpe = Path.Combine(dir, "bpe");
        var corpus = Path.Combine(dir, "corpus.txt");
        File.WriteAllText(corpus, "hello world\n");
        Assert.Equal(0, Run("tokenizer", "train", "--input", corpus, "--out", bpe, "--vocab-size", "270").Code);
        var json = Path.Combine(bpe, "tokenizer.json");
        var node = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(json))!;
        node["pre_tokenizer"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "Whitespace" };
        File.WriteAllText(json, node.ToJsonString());
        Assert.Equal($"sharpen tokenizer: {json}: pre-tokenizer \"Whitespace\" is not supported (ByteLevel, Split, Sequence)",
            OneLine(1, "tokenizer", "encode", "--tokenizer", bpe, "--text", "hi"));

        File.WriteAllBytes(corpus, [.. "caf"u8, 0xE9, .. "\n"u8]);   // Latin-1, not UTF-8
        Assert.Equal($"sharpen tokenizer: {corpus}:1: not valid UTF-8 (byte 0xE9 at byte 4 of the line); save the file as UTF-8",
            OneLine(1, "tokenizer", "train", "--input", corpus, "--out", bpe, "--vocab-size", "270"));
    }

    [Fact]
    public void RecipeAndDataMistakes_AreOneLineNamingKeyFileAndLine()
    {
        var recipe = Path.Combine(dir, "sft.yaml");
        File.WriteAllText(recipe, $"""
            name: t
            runs_dir: {dir}/runs
            model:
              layers: 1
              hidden: 16
              heads: 2
              kv_heads: 1
            data:
              builtin_size: 50
            train:
              max_steps: 2
              micro_batch_size: 0
            """);
        Assert.Equal($"sharpen train: {recipe}:12: train.micro_batch_size = 0: must be ≥ 1", OneLine(1, "train", recipe));
        string Train(params string[] sets) => OneLine(1, ["train", recipe, "--set", "train.micro_batch_size=2", .. sets.SelectMany(s => new[] { "--set", s })]);

        Assert.Equal("sharpen train: --set train.warmup_steps=5: must not exceed train.max_steps = 2 (the cosine schedule decays after the warm-up)", Train("train.warmup_steps=5"));
        Assert.Equal("sharpen train: --set model.max_length=1: all 45 training examples of builtin:arithmetic are truncated to nothing " +
                     "(no completion token left to train on or score); raise model.max_length", Train("model.max_length=1"));
        Assert.False(Directory.Exists(Path.Combine(dir, "runs", "t", "checkpoints")));

        var model = Model("init");
        var data = Path.Combine(dir, "data.jsonl");
        File.WriteAllLines(data, ["""{"prompt": "1+2=", "completion": "3"}""", """{"prompt": "2+2=", "completion": "4", "weight": -1}"""]);
        Assert.Equal($"sharpen train: --set data.train={dir}: is a directory, not a JSONL file", Train($"model.init={model}", $"data.train={dir}"));
        Assert.Equal($"sharpen train: --set data.train={data}: model.init = new needs built-in data (builtin:…) to pick a tokenizer; " +
                     "point model.init at a checkpoint with a tokenizer.json instead", Train($"data.train={data}"));
        Assert.Equal($"sharpen train: {data}:2: field \"weight\": must be ≥ 0, not -1", Train($"model.init={model}", $"data.train={data}"));
        File.WriteAllBytes(data, [.. "{\"prompt\": \"1+2=\", \"completion\": \"3"u8, 0xFF, .. "\"}\n"u8]);
        Assert.Equal($"sharpen train: {data}:1: not valid UTF-8 (byte 0xFF at byte 36 of the line); save the file as UTF-8",
            Train($"model.init={model}", $"data.train={data}"));
    }

    [Fact]
    public void CommandLineMistakes_ExitTwo_AndHelpIsAlwaysASwitch()
    {
        Assert.Equal("sharpen new-model: unknown option --untied", OneLine(2, "new-model", "--out", Path.Combine(dir, "x"), "--untied"));
        Assert.Equal("sharpen new-model: option --out is required", OneLine(2, "new-model"));
        Assert.Equal("sharpen new-model: option --hidden expects an integer, got 'big'", OneLine(2, "new-model", "--out", "x", "--hidden", "big"));
        Assert.Equal("sharpen tokenizer: option --text needs a value", OneLine(2, "tokenizer", "encode", "--tokenizer", "x", "--text"));
        Assert.Equal("sharpen generate: option --top-p must be in (0, 1], got 2", OneLine(2, "generate", "--model", "x", "--prompt", "p", "--top-p", "2"));
        Assert.Equal("sharpen train: give one recipe file (see sharpen train --help)", OneLine(2, "train"));
        Assert.Equal("sharpen: unknown command 'trian'. Commands: info, quickstart, train, new-model, tokenizer, generate", OneLine(2, "trian"));

        var help = Run("tokenizer", "encode", "--help");
        Assert.Equal((0, ""), (help.Code, help.Err));
        Assert.Contains("usage: sharpen tokenizer encode", help.Out);
        var missing = Path.Combine(dir, "none");
        Assert.Equal($"sharpen generate: {missing}: no such model directory (config.json, model.safetensors, tokenizer.json)",
            OneLine(1, "generate", "--model", missing, "--prompt", "p"));
    }

    [Fact]
    public void InternalError_SaysItIsABugAndWritesTheStackTraceToALog()
    {
        static void Deep() => throw new NullReferenceException("Object reference not set to an instance of an object.");
        Exception thrown;
        try
        {
            Deep();
            return;
        }
        catch (Exception e)
        {
            thrown = e;
        }
        var err = new StringWriter();
        Assert.Equal(70, Errors.Report("train", new AggregateException(thrown), err, dir));
        var log = Path.Combine(dir, $"sharpen-crash-{Environment.ProcessId}.log");
        Assert.Equal($"sharpen train: internal error (a bug in Sharpen, please report it): NullReferenceException: " +
                     $"Object reference not set to an instance of an object. (stack trace in {log})", err.ToString().TrimEnd());
        Assert.Contains(nameof(Deep), File.ReadAllText(log));

        // The classification: user mistakes exit 1 (2 for usage), guards of internal calls are bugs.
        Assert.Equal(1, Errors.Classify(new InputException("f.jsonl", 3, "field \"x\"", "bad")));
        Assert.Equal(1, Errors.Classify(new FileNotFoundException("gone", "f")));
        Assert.Equal(1, Errors.Classify(new IOException("No space left on device")));
        Assert.Equal(1, Errors.Classify(new Sharpen.Torch.TorchException("CUDA out of memory. Tried to allocate 2 GiB")));
        Assert.Equal(2, Errors.Classify(new UsageException("unknown option --x")));
        Assert.Equal(70, Errors.Classify(new ArgumentOutOfRangeException("batchSize")));
        Assert.Equal(70, Errors.Classify(new KeyNotFoundException()));
        Assert.Equal(70, Errors.Classify(new InvalidOperationException()));
        Assert.Equal(70, Errors.Classify(new Sharpen.Torch.TorchException("The size of tensor a (3) must match the size of tensor b (5)")));
    }
}
