namespace Sharpen.Models.Tests;

using Sharpen.Torch;

public class TransformerTests
{
    static double MaxAbsDiff(Tensor a, Tensor b)
    {
        using var s = new TensorScope();
        return (a - b).Abs().Max().ToDouble();
    }

    [Theory]
    [InlineData("llama", 2)]
    [InlineData("qwen2", 1)]
    [InlineData("qwen3", 4)]
    public void KvCachedDecodingMatchesFullForward(string type, int kvHeads)
    {
        using var scope = new TensorScope();
        using var model = TinyModels.Model(TinyModels.Config(type, kvHeads));
        using var _ = Torch.NoGrad();
        var ids = TinyModels.Ids(new long[,] { { 3, 7, 1, 9, 4, 4, 2, 8 }, { 5, 6, 7, 8, 9, 10, 11, 12 } });
        var full = model.Forward(ids);                                        // [2, 8, V]
        using var cache = model.NewCache(2, 8);
        var prefill = model.Forward(ids.Narrow(1, 0, 5), cache: cache);      // first 5 at once
        var steps = new List<Tensor> { prefill };
        for (var t = 5; t < 8; t++) steps.Add(model.Forward(ids.Narrow(1, t, 1), cache: cache));
        var cached = Tensor.Cat(steps, 1);
        Assert.Equal(full.Shape, cached.Shape);
        Assert.True(MaxAbsDiff(full, cached) < 1e-4, $"max diff {MaxAbsDiff(full, cached)}");
    }

    [Fact]
    public void LeftPaddedRaggedBatchMatchesUnpaddedRowsWithAndWithoutCache()
    {
        using var scope = new TensorScope();
        using var model = TinyModels.Model(TinyModels.Config());
        using var _ = Torch.NoGrad();
        long[] a = [3, 7, 1, 9, 4, 2], b = [5, 6, 7];
        // Row b is left-padded by 3 (pad id 0).
        var ids = TinyModels.Ids(new long[,] { { 3, 7, 1, 9, 4, 2 }, { 0, 0, 0, 5, 6, 7 } });
        var mask = Tensor.From(new bool[,] { { true, true, true, true, true, true }, { false, false, false, true, true, true } });
        var batched = model.Forward(ids, mask);                                 // [2, 6, V]
        var aloneB = model.Forward(Tensor.From(b, 1, 3));                       // [1, 3, V]
        Assert.True(MaxAbsDiff(batched[1].Narrow(0, 3, 3), aloneB[0]) < 1e-4);
        var aloneA = model.Forward(Tensor.From(a, 1, 6));
        Assert.True(MaxAbsDiff(batched[0], aloneA[0]) < 1e-4);

        // Cached: prefill the padded prompts, then decode two tokens.
        using var cache = model.NewCache(2, 8);
        model.Forward(ids, mask, cache: cache);
        var next = TinyModels.Ids(new long[,] { { 11 }, { 12 } });
        var mask2 = Tensor.Cat([mask, Tensor.Ones([2, 1], DType.Bool)], 1);
        var step = model.Forward(next, mask2, cache: cache);                   // [2, 1, V]
        var fullB = model.Forward(Tensor.From(new long[] { 5, 6, 7, 12 }, 1, 4));
        Assert.True(MaxAbsDiff(step[1][0], fullB[0][3]) < 1e-4);
        var fullA = model.Forward(Tensor.From(new long[] { 3, 7, 1, 9, 4, 2, 11 }, 1, 7));
        Assert.True(MaxAbsDiff(step[0][0], fullA[0][6]) < 1e-4);
    }

    [Fact]
    public void RightPaddingGivesTheSameLogitsOnRealTokens()
    {
        using var scope = new TensorScope();
        using var model = TinyModels.Model(TinyModels.Config());
        using var _ = Torch.NoGrad();
        var ids = TinyModels.Ids(new long[,] { { 5, 6, 7, 0, 0 } });
        var mask = Tensor.From(new bool[,] { { true, true, true, false, false } });
        var padded = model.Forward(ids, mask);
        var alone = model.Forward(Tensor.From(new long[] { 5, 6, 7 }, 1, 3));
        Assert.True(MaxAbsDiff(padded[0].Narrow(0, 0, 3), alone[0]) < 1e-5);
    }

    [Fact]
    public void RepeatKvEqualsExplicitRepeatOfHeads()
    {
        using var scope = new TensorScope();
        var kv = Tensor.Randn([2, 3, 5, 4]);                                   // [B, Hkv, T, Dh]
        var rep = Attention.RepeatKv(kv, 2);                                    // [B, 6, T, Dh]
        Assert.Equal(new long[] { 2, 6, 5, 4 }, rep.Shape);
        var src = kv.ToArray<float>();
        var got = rep.ToArray<float>();
        for (var b = 0; b < 2; b++)
        for (var h = 0; h < 6; h++)
        for (var i = 0; i < 20; i++)
            Assert.Equal(src[(b * 3 + h / 2) * 20 + i], got[(b * 6 + h) * 20 + i]);
    }

    [Fact]
    public void GroupedQueryAttentionEqualsFullAttentionWithRepeatedKvWeights()
    {
        // A GQA model equals an MHA model whose k/v projections repeat each kv head's rows.
        using var scope = new TensorScope();
        using var gqa = TinyModels.Model(TinyModels.Config(kvHeads: 2));
        using var mha = new CausalLM(TinyModels.Config(kvHeads: 4));
        var src = gqa.StateDict();
        var dst = new Dictionary<string, Tensor>();
        foreach (var (name, t) in src)
            dst[name] = name.Contains("k_proj") || name.Contains("v_proj")
                ? t.View(2, 1, 8, 32).Expand(2, 2, 8, 32).Reshape(4 * 8, 32)   // each kv head's 8 rows twice
                : t;
        mha.LoadStateDict(dst);
        using var _ = Torch.NoGrad();
        var ids = TinyModels.Ids(new long[,] { { 1, 2, 3, 4, 5 } });
        Assert.True(MaxAbsDiff(gqa.Forward(ids), mha.Forward(ids)) < 1e-5);
    }

    [Fact]
    public void RopeEqualsItsClosedFormOnASmallCase()
    {
        using var scope = new TensorScope();
        var c = new ModelConfig { HiddenSize = 8, NumAttentionHeads = 2, RopeTheta = 100 }; // Dh = 4
        var rope = new Rope(c);
        var x = Tensor.Randn([1, 1, 3, 4], DType.Float64);                     // [B, H, T, Dh]
        var (cos, sin) = rope.Tables(Tensor.From(new long[] { 0, 1, 5 }, 1, 3), DType.Float64);
        var y = Rope.Apply(x, cos, sin).ToArray<double>();
        var xs = x.ToArray<double>();
        long[] pos = [0, 1, 5];
        for (var t = 0; t < 3; t++)
        for (var i = 0; i < 2; i++)
        {
            // Pair (i, i+2) rotated by angle pos·θ_i, θ_i = 100^(−2i/4).
            var angle = pos[t] * (float)(1.0 / Math.Pow(100, 2.0 * i / 4));
            double a = xs[t * 4 + i], b = xs[t * 4 + i + 2];
            Assert.Equal(a * Math.Cos(angle) - b * Math.Sin(angle), y[t * 4 + i], 5);
            Assert.Equal(b * Math.Cos(angle) + a * Math.Sin(angle), y[t * 4 + i + 2], 5);
        }
    }

    [Fact]
    public void Llama3RopeScalingKeepsHighFrequenciesAndDividesLowOnes()
    {
        var c = new ModelConfig
        {
            HiddenSize = 64, NumAttentionHeads = 1, RopeTheta = 500000,
            RopeScaling = new RopeScaling { RopeType = "llama3", Factor = 8, LowFreqFactor = 1, HighFreqFactor = 4, OriginalMaxPositionEmbeddings = 8192 },
        };
        var plain = new Rope(new ModelConfig { HiddenSize = 64, NumAttentionHeads = 1, RopeTheta = 500000 }).InverseFrequencies;
        var scaled = new Rope(c).InverseFrequencies;
        for (var i = 0; i < plain.Count; i++)
        {
            var wavelen = 2 * Math.PI / plain[i];
            if (wavelen < 8192 / 4.0) Assert.Equal(plain[i], scaled[i]);
            else if (wavelen > 8192) Assert.Equal(plain[i] / 8, scaled[i], 6);
            else Assert.InRange(scaled[i], plain[i] / 8 * 0.999, plain[i] * 1.001);
        }
        var linear = new Rope(new ModelConfig { HiddenSize = 64, NumAttentionHeads = 1, RopeTheta = 500000, RopeScaling = new RopeScaling { RopeType = "linear", Factor = 4 } }).InverseFrequencies;
        for (var i = 0; i < plain.Count; i++) Assert.Equal(plain[i] / 4, linear[i], 6);
    }

    [Fact]
    public void RewardHeadReadsTheLastRealTokenForLeftAndRightPadding()
    {
        using var scope = new TensorScope();
        var mask = Tensor.From(new bool[,] { { true, true, false, false }, { false, true, true, true }, { true, true, true, true } });
        var idx = ScalarHeadModel.LastTokenIndex(mask, 3, 4, Device.CPU).ToArray<long>();
        Assert.Equal(new long[] { 1, 3, 3 }, idx);
        using var rm = new ScalarHeadModel(TinyModels.Config());
        using var _ = Torch.NoGrad();
        var ids = TinyModels.Ids(new long[,] { { 4, 5, 0, 0 } });
        var scores = rm.SequenceScores(ids, Tensor.From(new bool[,] { { true, true, false, false } }));
        var values = rm.Values(TinyModels.Ids(new long[,] { { 4, 5 } }));
        Assert.Equal(values[0][1].ToDouble(), scores[0].ToDouble(), 5);
    }
}
