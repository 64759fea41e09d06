namespace Sharpen.Cli;

using Sharpen.Models;
using Sharpen.Torch;
using Torch = Sharpen.Torch.Torch;

/// <summary>`sharpen generate --model DIR --prompt TEXT [sampling options]`: completions from a saved model.</summary>
static class GenerateCommand
{
    public const string Usage = """
        usage: sharpen generate --model DIR --prompt TEXT [--prompt TEXT ...] [options]
          --max-new-tokens N   most tokens per completion (64)
          --temperature T      softmax temperature (1.0)
          --top-k K            keep the K most likely tokens (0: off)
          --top-p P            nucleus mass (1.0: off)
          --min-p P            drop tokens below P × the top probability (0: off)
          --greedy             always take the most likely token
          --n N                samples per prompt (1)
          --stop TEXT          stop string (repeatable); the tokenizer's EOS always stops
          --seed S             seed for repeatable sampling
          --device D           cpu, cuda or cuda:N (cpu)
          --chat TEMPLATE      wrap each prompt as a user turn with a chat template (chatml, llama3, plain)
          --bos                put the tokenizer's beginning-of-sequence token before a plain prompt; off by
                               default, as the trainers encode plain-text prompts without it
        """;

    public static int Run(string[] argv)
    {
        var a = new Args(argv, "greedy", "bos");
        if (a.Help) { Console.WriteLine(Usage); return 0; }
        var dir = a.Required("model");
        var prompts = a.All("prompt");
        if (prompts.Count == 0) throw new UsageException("give at least one --prompt");
        var device = Device.TryParse(a.Get("device") ?? "cpu") ?? throw new UsageException($"option --device expects cpu, cuda or cuda:N, got '{a.Get("device")}'");
        var chat = a.Get("chat");
        var seed = a.Get("seed");
        var bos = a.Flag("bos");
        var options = new SamplingOptions
        {
            MaxNewTokens = a.Int("max-new-tokens", 64),
            Temperature = a.Double("temperature", 1.0),
            TopK = a.Int("top-k", 0),
            TopP = a.Double("top-p", 1.0),
            MinP = a.Double("min-p", 0.0),
            Greedy = a.Flag("greedy"),
            N = a.Int("n", 1),
            StopStrings = a.All("stop").ToList(),
            Seed = seed is null ? null : ulong.TryParse(seed, out var s) ? s : throw new UsageException($"option --seed expects a non-negative integer, got '{seed}'"),
        };
        a.EnsureAllUsed();
        try
        {
            options.Validate();
        }
        catch (ArgumentException bad)   // "top_k must be ≥ 0, got -1": name the option as typed
        {
            var name = bad.Message[..bad.Message.IndexOf(' ')];
            throw new UsageException($"option --{name.Replace('_', '-')}{bad.Message[name.Length..]}");
        }

        if (!Directory.Exists(dir)) throw new InputException(dir, 0, null, "no such model directory (config.json, model.safetensors, tokenizer.json)");
        Torch.Init();
        if (device.Type == DeviceType.CUDA && Math.Max(device.Index, 0) >= Torch.Info.CudaDevices)
            throw new InputException($"option --device {device}: {(Torch.Info.CudaDevices == 0 ? "no CUDA device is visible to this libtorch" : $"only {Torch.Info.CudaDevices} CUDA device(s) are visible")}");
        var tokenizer = TokenizerLoader.Load(dir);
        using var model = HfCheckpoint.LoadCausalLM(dir, device);
        var eos = model.Config.EosTokenIds.Concat(tokenizer.EosId is { } e ? [e] : []).Distinct().ToList();
        options = options with { StopTokenIds = eos };
        var template = chat is null ? null
            : ChatTemplates.Names.Contains(chat) ? ChatTemplates.Get(chat)
            : throw new UsageException($"option --chat expects one of {string.Join(", ", ChatTemplates.Names)}, got '{chat}'");
        var ids = prompts.Select(p => template is null
            ? tokenizer.Encode(p, addSpecialTokens: bos)
            : template.Encode(tokenizer, [new ChatMessage("user", p)], addGenerationPrompt: true).Ids).ToList();

        var sw = System.Diagnostics.Stopwatch.StartNew();
        var completions = new GenerationEngine(model, tokenizer).Generate(ids, options);
        sw.Stop();
        foreach (var c in completions)
        {
            var text = tokenizer.Decode(c.Tokens, skipSpecialTokens: true);
            var tag = options.N > 1 ? $"[{c.PromptIndex}.{c.SampleIndex}]" : $"[{c.PromptIndex}]";
            Console.WriteLine($"{tag} {prompts[c.PromptIndex]}{text}");
            Console.WriteLine($"     ({c.Tokens.Length} tokens, finish: {c.Finish.ToString().ToLowerInvariant()}, mean logp {(c.ModelLogProbs.Length > 0 ? c.ModelLogProbs.Average() : 0):F3})");
        }
        var total = completions.Sum(c => c.Tokens.Length);
        Console.Error.WriteLine($"{total} tokens in {sw.Elapsed.TotalSeconds:F2} s ({total / sw.Elapsed.TotalSeconds:F0} tokens/s)");
        return 0;
    }
}
