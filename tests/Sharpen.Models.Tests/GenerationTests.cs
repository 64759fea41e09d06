namespace Sharpen.Models.Tests;

using Sharpen.Torch;

public class GenerationTests
{
    static readonly int[][] Prompts = [[3, 7, 1, 9], [5, 6], [2, 2, 2, 2, 2, 8]];

    [Fact]
    public void GreedyDecodingIsDeterministicAndMatchesArgmaxOfFullForward()
    {
        using var model = TinyModels.Model(TinyModels.Config());
        var engine = new GenerationEngine(model);
        var o = new SamplingOptions { Greedy = true, MaxNewTokens = 6 };
        var a = engine.Generate(Prompts, o);
        var b = engine.Generate(Prompts, o);
        Assert.Equal(a.Select(c => c.Tokens), b.Select(c => c.Tokens));
        // Recompute greedily without a cache, one full forward per token.
        using var scope = new TensorScope();
        using var _ = Torch.NoGrad();
        for (var p = 0; p < Prompts.Length; p++)
        {
            var seq = Prompts[p].Select(x => (long)x).ToList();
            for (var t = 0; t < 6; t++)
            {
                var logits = model.Forward(Tensor.From(seq.ToArray(), 1, seq.Count));
                seq.Add(logits[0][seq.Count - 1].Argmax(0).ToInt64());
            }
            Assert.Equal(seq.Skip(Prompts[p].Length).Select(x => (int)x), a[p].Tokens);
            Assert.All(a[p].LogProbs, lp => Assert.Equal(0f, lp));
        }
    }

    [Fact]
    public void SamplingWithTheSameSeedRepeatsAndADifferentSeedDiffers()
    {
        using var model = TinyModels.Model(TinyModels.Config());
        var engine = new GenerationEngine(model);
        var o = new SamplingOptions { Temperature = 1.5, MaxNewTokens = 12, N = 3, Seed = 42 };
        var a = engine.Generate(Prompts, o);
        var b = engine.Generate(Prompts, o);
        var c = engine.Generate(Prompts, o with { Seed = 43 });
        Assert.Equal(9, a.Count);
        Assert.Equal(a.Select(x => x.Tokens), b.Select(x => x.Tokens));
        Assert.NotEqual(a.SelectMany(x => x.Tokens), c.SelectMany(x => x.Tokens));
        Assert.Equal(a.Select(x => x.LogProbs), b.Select(x => x.LogProbs));
    }

    [Fact]
    public void GenerationLogProbsEqualThoseOfATrainingForward()
    {
        using var model = TinyModels.Model(TinyModels.Config());
        var engine = new GenerationEngine(model);
        var completions = engine.Generate(Prompts, new SamplingOptions { Temperature = 1.0, MaxNewTokens = 10, N = 2, Seed = 7 });
        using var scope = new TensorScope();
        foreach (var c in completions)
        {
            var prompt = Prompts[c.PromptIndex];
            var seq = prompt.Concat(c.Tokens).Select(x => (long)x).ToArray();
            var ids = Tensor.From(seq, 1, seq.Length);
            var logits = model.Forward(ids);                                          // with grad, as in training
            var lp = F.TokenLogProbs(logits.Narrow(1, 0, seq.Length - 1), ids.Narrow(1, 1, seq.Length - 1));
            var recomputed = lp[0].Narrow(0, prompt.Length - 1, c.Tokens.Length).ToArray<float>();
            for (var i = 0; i < c.Tokens.Length; i++)
            {
                Assert.Equal(recomputed[i], c.ModelLogProbs[i], 4);
                Assert.Equal(recomputed[i], c.LogProbs[i], 4);                        // temperature 1, no filter
            }
        }
    }

    [Fact]
    public void TopPNeverSamplesOutsideTheNucleus()
    {
        using var scope = new TensorScope();
        Torch.Seed(3);
        var logits = Tensor.Randn([4, 30]) * 3;
        const double p = 0.6;
        var probs = logits.Softmax(-1).ToArray<float>();
        using var rng = new Generator(11);
        var o = new SamplingOptions { TopP = p };
        for (var trial = 0; trial < 200; trial++)
        {
            var (tok, slp, _) = Sampler.Pick(logits, o, rng);
            var t = tok.ToArray<long>();
            for (var r = 0; r < 4; r++)
            {
                // The nucleus: tokens whose strictly-higher-probability mass is below p.
                var row = probs.Skip(r * 30).Take(30).ToArray();
                var massBefore = row.Where(q => q > row[t[r]]).Sum();
                Assert.True(massBefore < p, $"token {t[r]} of row {r} lies outside the top-p={p} nucleus");
            }
        }
    }

    [Fact]
    public void TopKAndMinPKeepExactlyTheExpectedTokens()
    {
        using var scope = new TensorScope();
        var logits = Tensor.From(new float[] { 0f, 1f, 2f, 3f, (float)Math.Log(0.5) + 3f }, 1, 5);
        var k = Sampler.TopK(logits, 2).ToArray<float>();
        Assert.Equal(new[] { false, false, false, true, true }, k.Select(float.IsFinite).ToArray());
        // min_p = 0.4: keep tokens with p ≥ 0.4·p_max, i.e. logit ≥ 3 + ln 0.4.
        var m = Sampler.MinP(logits, 0.4).ToArray<float>();
        Assert.Equal(new[] { false, false, false, true, true }, m.Select(float.IsFinite).ToArray());
        var m2 = Sampler.MinP(logits, 0.3).ToArray<float>();
        Assert.Equal(new[] { false, false, true, true, true }, m2.Select(float.IsFinite).ToArray()); // e^-1 ≈ 0.37 ≥ 0.3
    }

    [Fact]
    public void StopTokensEndCompletionsAndFinishedRowsAreReportedAsStop()
    {
        using var model = TinyModels.Model(TinyModels.Config());
        var engine = new GenerationEngine(model);
        var free = engine.Generate(Prompts, new SamplingOptions { Greedy = true, MaxNewTokens = 8 });
        // Use the third greedy token of prompt 0 as a stop token: prompt 0 then stops there.
        var stop = free[0].Tokens[2];
        var stopped = engine.Generate(Prompts, new SamplingOptions { Greedy = true, MaxNewTokens = 8, StopTokenIds = [stop] });
        for (var p = 0; p < Prompts.Length; p++)
        {
            var idx = Array.IndexOf(free[p].Tokens, stop);
            if (idx < 0)
            {
                Assert.Equal(free[p].Tokens, stopped[p].Tokens);
                Assert.Equal(FinishReason.Length, stopped[p].Finish);
            }
            else
            {
                Assert.Equal(free[p].Tokens.Take(idx + 1), stopped[p].Tokens);      // same tokens although rows left the batch
                Assert.Equal(FinishReason.Stop, stopped[p].Finish);
            }
        }
        Assert.True(stopped[0].Tokens.Length <= 3);
    }
}
