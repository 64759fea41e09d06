using Sharpen.Algorithms;
using Sharpen.Torch;

namespace Sharpen.Tests;

using static RlTestData;

/// <summary>Loss aggregation modes against hand values, data-parallel invariance and the Dr. GRPO identity.</summary>
public class AggregationTests
{
    static readonly string[] Modes = { "token_mean", "token_sum", "seq_mean_token_mean", "seq_mean_token_sum", "seq_mean_token_sum_norm" };

    [Fact]
    public void EachMode_MatchesItsFormula()
    {
        using var scope = new TensorScope();
        var loss = new double[,] { { 1.0, 2.0, 9.0, 9.0 }, { -1.0, 0.5, 3.0, 1.5 }, { 9.0, 9.0, 9.0, 9.0 } };
        var mask = new double[,] { { 1, 1, 0, 0 }, { 1, 1, 1, 1 }, { 0, 0, 0, 0 } };   // |y| = 2, 4, 0
        var options = new AggregationOptions(MaxLength: 8);
        double sum0 = 3.0, sum1 = 4.0;
        var expected = new Dictionary<string, double>
        {
            ["token_mean"] = (sum0 + sum1) / 6,
            ["token_sum"] = sum0 + sum1,
            ["seq_mean_token_mean"] = (sum0 / 2 + sum1 / 4) / 2,       // the empty sequence does not count
            ["seq_mean_token_sum"] = (sum0 + sum1) / 2,
            ["seq_mean_token_sum_norm"] = (sum0 + sum1) / 8 / 2,
        };
        foreach (var mode in Modes)
            Close(expected[mode], LossAggregations.Registry.Get(mode)(Matrix(loss), Matrix(mask), options), 1e-14);
    }

    [Theory]
    [InlineData("token_mean")]
    [InlineData("token_sum")]
    [InlineData("seq_mean_token_mean")]
    [InlineData("seq_mean_token_sum")]
    [InlineData("seq_mean_token_sum_norm")]
    public void TwoDataParallelRanksWithGlobalNormalisers_GiveTheSingleRankValueAndGradient(string mode)
    {
        using var scope = new TensorScope();
        // L[b,t] = X[b,t]·θ_t for a shared parameter θ [T]. Lengths 1, 4 on rank 0 and 0, 3 on rank 1, so the
        // ranks' local token counts (5, 3) and non-empty sequence counts (2, 1) differ.
        var x = Random(4, 4, seed: 31);
        var mask = new double[,] { { 1, 0, 0, 0 }, { 1, 1, 1, 1 }, { 0, 0, 0, 0 }, { 1, 1, 1, 0 } };
        var aggregate = LossAggregations.Registry.Get(mode);
        var (value, grad) = Run(aggregate, x, mask, 0, 4, new(MaxLength: 6));

        var global = new AggregationOptions(TokenCount: 8, SequenceCount: 3, WorldSize: 2, MaxLength: 6);
        var (value0, grad0) = Run(aggregate, x, mask, 0, 2, global);
        var (value1, grad1) = Run(aggregate, x, mask, 2, 2, global);
        Close(value, (value0 + value1) / 2, 1e-13);
        Close(grad, grad0.Zip(grad1, (a, b) => (a + b) / 2).ToArray(), 1e-13);

        if (mode != "token_sum")
        {
            var (local0, _) = Run(aggregate, x, mask, 0, 2, new(MaxLength: 6));
            var (local1, _) = Run(aggregate, x, mask, 2, 2, new(MaxLength: 6));
            Assert.True(Math.Abs(value - (local0 + local1) / 2) > 1e-3, "local normalisers should not match here");
        }
    }

    // Aggregated value and ∂/∂θ of rows [start, start + rows) of L = X·θ.
    static (double Value, double[] Grad) Run(LossAggregation aggregate, double[,] x, double[,] mask, int start, int rows, AggregationOptions options)
    {
        using var scope = new TensorScope();
        var theta = Tensor.From(new[] { 0.7, -1.1, 0.4, 2.0 }).RequiresGrad_();
        var loss = Matrix(x)[start..(start + rows)] * theta;                    // [rows, T]
        var value = aggregate(loss, Matrix(mask)[start..(start + rows)], options);
        value.Backward();
        return (value.ToDouble(), theta.Grad!.ToArray<double>());
    }

    [Fact]
    public void WithEqualLengths_SeqMeanTokenSumNorm_IsLengthOverMaxLengthTimesSeqMeanTokenMean()
    {
        using var scope = new TensorScope();
        var loss = Matrix(Random(3, 5, seed: 32));
        var mask = Matrix(new double[,] { { 1, 1, 1, 0, 0 }, { 0, 1, 1, 1, 0 }, { 1, 1, 0, 1, 0 } });   // |y| = 3 each
        var norm = LossAggregations.SeqMeanTokenSumNorm(loss, mask, new(MaxLength: 7)).ToDouble();
        var mean = LossAggregations.SeqMeanTokenMean(loss, mask, new()).ToDouble();
        Close(3.0 / 7 * mean, norm, 1e-14);
    }

    [Fact]
    public void SeqMeanTokenSumNorm_WithoutMaxLength_IsAnError()
    {
        using var scope = new TensorScope();
        var e = Assert.Throws<ArgumentException>(() => LossAggregations.SeqMeanTokenSumNorm(Matrix(new double[,] { { 1 } }), Matrix(new double[,] { { 1 } }), new()));
        Assert.Contains("MaxLength", e.Message);
    }

    [Fact]
    public void Registry_UnknownName_ListsTheKnownModes()
    {
        var e = Assert.Throws<ArgumentException>(() => LossAggregations.Registry.Get("seq_sum"));
        Assert.Contains("unknown loss aggregation 'seq_sum'", e.Message);
        foreach (var mode in Modes) Assert.Contains(mode, e.Message);
    }
}
