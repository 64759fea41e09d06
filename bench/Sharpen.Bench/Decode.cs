using Sharpen.Models;

namespace Sharpen.Bench;

using Torch = Sharpen.Torch.Torch;

/// <summary>
/// KV-cached greedy decoding with <see cref="GenerationEngine"/>: batch 16, prompts of 16 tokens
/// ((3·b + 7·j) mod V, as bench/python/decode.py), 128 new tokens, no stop token. The model is a
/// saved checkpoint (bench/run.sh makes a 4-layer, 256-wide one with `sharpen new-model`). Prints
/// tokens/s of the second of two runs and writes the tokens for the cross-check against Python.
/// Environment: SHARPEN_BENCH_MODEL (the checkpoint), SHARPEN_BENCH_TOKENS_OUT (where to write the tokens).
/// </summary>
static class Decode
{
    public const int Batch = 16, PromptLen = 16, NewTokens = 128;

    public static int Run(int threads)
    {
        var modelDir = Environment.GetEnvironmentVariable("SHARPEN_BENCH_MODEL")
                       ?? throw new InvalidOperationException("SHARPEN_BENCH_MODEL must name the model directory");
        var tokensOut = Environment.GetEnvironmentVariable("SHARPEN_BENCH_TOKENS_OUT");
        Torch.Threads = threads;
        using var model = HfCheckpoint.LoadCausalLM(modelDir);
        var v = model.Config.VocabSize;
        var prompts = Enumerable.Range(0, Batch)
            .Select(b => Enumerable.Range(0, PromptLen).Select(j => (3 * b + 7 * j) % v).ToArray()).ToList();
        var engine = new GenerationEngine(model);
        var options = new SamplingOptions { Greedy = true, MaxNewTokens = NewTokens };
        List<Completion> result = [];
        double seconds = 0;
        for (var rep = 0; rep < 2; rep++)   // the first run warms up
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            result = engine.Generate(prompts, options);
            seconds = Report.Seconds(start);
        }
        Report.Result("tokens_per_s", Batch * NewTokens / seconds);
        if (tokensOut is not null)
            File.WriteAllText(tokensOut, System.Text.Json.JsonSerializer.Serialize(result.Select(c => c.Tokens)));
        return 0;
    }
}
