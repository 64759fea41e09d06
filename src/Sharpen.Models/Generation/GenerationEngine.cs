namespace Sharpen.Models;

using Sharpen.Torch;

/// <summary>
/// Batched, KV-cached generation, token-in token-out: ragged prompts (token ids) are left-padded into
/// one batch, each prompt is sampled <see cref="SamplingOptions.N"/> times, and rows that finish are
/// dropped from the batch (and the cache) so they stop costing compute.
/// </summary>
public sealed class GenerationEngine
{
    readonly CausalLM model;
    readonly ITokenizer? tokenizer;
    readonly int padId;

    /// <summary>An engine over <paramref name="model"/>; a tokenizer is needed only for stop strings.</summary>
    public GenerationEngine(CausalLM model, ITokenizer? tokenizer = null)
    {
        this.model = model;
        this.tokenizer = tokenizer;
        padId = tokenizer?.PadId ?? model.Config.PadTokenId ?? 0;
    }

    /// <summary>
    /// Generates completions for each prompt; the result lists prompt 0's N samples first, then prompt 1's, ….
    /// Runs without autograd; the model is put in eval mode for the call and restored afterwards.
    /// </summary>
    public List<Completion> Generate(IReadOnlyList<int[]> prompts, SamplingOptions options)
    {
        options.Validate();
        if (prompts.Count == 0) return [];
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("every prompt needs at least one token");
        if (options.StopStrings.Count > 0 && tokenizer is null)
            throw new ArgumentException("stop strings need a tokenizer: pass one to the GenerationEngine");
        var vocab = model.Config.VocabSize;
        foreach (var id in prompts.SelectMany(p => p))
            if (id < 0 || id >= vocab) throw new ArgumentException($"prompt token id {id} is outside the vocabulary [0, {vocab})");

        var wasTraining = model.Training;
        model.Eval();
        using var rng = options.Seed is { } seed ? new Generator(seed) : null;
        using var noGrad = Torch.NoGrad();
        try
        {
            return Run(prompts, options, rng);
        }
        finally
        {
            model.Train(wasTraining);
        }
    }

    List<Completion> Run(IReadOnlyList<int[]> prompts, SamplingOptions o, Generator? rng)
    {
        var device = model.LmHeadWeight.Device;
        int rows = prompts.Count * o.N, promptLen = prompts.Max(p => p.Length);
        var ids = new long[rows * promptLen];
        var valid = new bool[rows * promptLen];
        for (var r = 0; r < rows; r++)
        {
            var p = prompts[r / o.N];
            var pad = promptLen - p.Length;                                  // left padding
            for (var j = 0; j < promptLen; j++)
            {
                ids[r * promptLen + j] = j < pad ? padId : p[j - pad];
                valid[r * promptLen + j] = j >= pad;
            }
        }
        var tokens = Enumerable.Range(0, rows).Select(_ => new List<int>()).ToArray();
        var sampleLp = Enumerable.Range(0, rows).Select(_ => new List<float>()).ToArray();
        var modelLp = Enumerable.Range(0, rows).Select(_ => new List<float>()).ToArray();
        var finish = new FinishReason?[rows];
        var active = Enumerable.Range(0, rows).ToList();                     // batch row → output row
        var stops = new HashSet<int>(o.StopTokenIds);

        using var cache = model.NewCache(rows, promptLen + o.MaxNewTokens);
        using var outer = new TensorScope();
        var mask = outer.Keep(Tensor.From(valid, rows, promptLen).To(device));                    // [R, Tk]
        var input = Tensor.From(ids, rows, promptLen).To(device);                                 // [R, T]
        for (var step = 0; step < o.MaxNewTokens && active.Count > 0; step++)
        {
            int[] picked;
            using (var scope = new TensorScope())
            {
                var logits = model.Forward(input, mask, cache: cache);                             // [R, T, V]
                var last = logits.Select(1, logits.Size(1) - 1);                                    // [R, V]
                var (tok, slp, mlp) = Sampler.Pick(last, o, rng);
                picked = tok.To(DType.Int32).ToArray<int>();
                var s = slp.ToArray<float>();
                var m = mlp.ToArray<float>();
                for (var i = 0; i < active.Count; i++)
                {
                    var r = active[i];
                    tokens[r].Add(picked[i]);
                    sampleLp[r].Add(s[i]);
                    modelLp[r].Add(m[i]);
                    if (stops.Contains(picked[i]) || HitsStopString(tokens[r], o)) finish[r] = FinishReason.Stop;
                    else if (tokens[r].Count >= o.MaxNewTokens) finish[r] = FinishReason.Length;
                }
                var next = tok.Unsqueeze(1);                                                         // [R, 1]
                var grown = Tensor.Cat([mask, Tensor.Ones([active.Count, 1], DType.Bool, device)], 1);
                var keep = Enumerable.Range(0, active.Count).Where(i => finish[active[i]] is null).ToArray();
                if (keep.Length < active.Count && keep.Length > 0)
                {
                    var rowsKept = Tensor.From(keep.Select(i => (long)i).ToArray()).To(device);
                    cache.SelectRows(rowsKept);
                    next = next.IndexSelect(0, rowsKept);
                    grown = grown.IndexSelect(0, rowsKept);
                }
                active = keep.Select(i => active[i]).ToList();
                mask.ReplaceWith(scope.Keep(grown));
                input = scope.Keep(next);
            }
        }
        return Enumerable.Range(0, rows).Select(r => new Completion(
            r / o.N, r % o.N, tokens[r].ToArray(), sampleLp[r].ToArray(), modelLp[r].ToArray(), finish[r] ?? FinishReason.Length)).ToList();
    }

    bool HitsStopString(List<int> generated, SamplingOptions o)
    {
        if (o.StopStrings.Count == 0) return false;
        var text = tokenizer!.Decode(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(generated));
        return o.StopStrings.Any(s => text.Contains(s, StringComparison.Ordinal));
    }
}
