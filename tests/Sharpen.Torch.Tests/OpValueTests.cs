using System.Text.RegularExpressions;

namespace Sharpen.Torch.Tests;

using Torch = Sharpen.Torch.Torch;

/// <summary>Op values against closed forms computed independently in C#, dtypes, creation, conversion and autograd bookkeeping.</summary>
public class OpValueTests
{
    static double[] RandomValues(int n, int seed, double scale = 1)
    {
        var r = new Random(seed);
        var x = new double[n];
        for (var i = 0; i < n; i++) x[i] = scale * (r.NextDouble() * 2 - 1);
        return x;
    }

    static void Close(double[] expected, double[] actual, double tol = 1e-12)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1, Math.Abs(expected[i])),
                $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    // ---- elementwise -------------------------------------------------------------------------

    static readonly Dictionary<string, (Func<Tensor, Tensor> Op, Func<double, double> Math)> Unary = new()
    {
        ["neg"] = (t => t.Neg(), x => -x),
        ["exp"] = (t => t.Exp(), Math.Exp),
        ["log"] = (t => t.Abs().Log(), x => Math.Log(Math.Abs(x))),
        ["log1p"] = (t => t.Abs().Log1p(), x => Math.Log(1 + Math.Abs(x))),
        ["sqrt"] = (t => t.Abs().Sqrt(), x => Math.Sqrt(Math.Abs(x))),
        ["rsqrt"] = (t => t.Abs().Rsqrt(), x => 1 / Math.Sqrt(Math.Abs(x))),
        ["abs"] = (t => t.Abs(), Math.Abs),
        ["sign"] = (t => t.Sign(), x => Math.Sign(x)),
        ["square"] = (t => t.Square(), x => x * x),
        ["reciprocal"] = (t => t.Reciprocal(), x => 1 / x),
        ["sin"] = (t => t.Sin(), Math.Sin),
        ["cos"] = (t => t.Cos(), Math.Cos),
        ["floor"] = (t => t.Floor(), Math.Floor),
        ["relu"] = (t => t.Relu(), x => Math.Max(0, x)),
        ["sigmoid"] = (t => t.Sigmoid(), x => 1 / (1 + Math.Exp(-x))),
        ["silu"] = (t => t.Silu(), x => x / (1 + Math.Exp(-x))),
        ["gelu tanh"] = (t => t.Gelu(tanhApproximation: true),
            x => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)))),
        ["logsigmoid"] = (t => t.LogSigmoid(), x => -Math.Log(1 + Math.Exp(-x))),
        ["tanh"] = (t => t.Tanh(), Math.Tanh),
        ["softplus"] = (t => t.Softplus(), x => Math.Log(1 + Math.Exp(x))),
        ["clamp"] = (t => t.Clamp(-1, 0.5), x => Math.Clamp(x, -1, 0.5)),
    };

    public static TheoryData<string> UnaryNames => new(Unary.Keys);

    [Theory]
    [MemberData(nameof(UnaryNames))]
    public void UnaryOpMatchesMath(string op)
    {
        using var scope = new TensorScope();
        var x = RandomValues(20, op.Length, 4).Select(v => Math.Abs(v) < 0.05 ? v + 0.1 : v).ToArray();
        var (f, math) = Unary[op];
        Close(x.Select(math).ToArray(), f(Tensor.From(x)).ToArray<double>(), 1e-14);
    }

    [Fact]
    public void ExactGeluLiesBetweenZeroAndReluAndNearItsTanhForm()
    {
        using var scope = new TensorScope();
        var x = Tensor.From(RandomValues(50, 9, 4));
        var exact = x.Gelu().ToArray<double>();
        var approx = x.Gelu(tanhApproximation: true).ToArray<double>();
        var xs = x.ToArray<double>();
        for (var i = 0; i < xs.Length; i++)
        {
            Assert.InRange(exact[i], Math.Min(0, xs[i]) - 0.17, Math.Max(0, xs[i]));  // min of x·Φ(x) is ≈ −0.17
            Assert.Equal(approx[i], exact[i], 1e-3);
        }
        Assert.Equal(0.8413447460685429, Tensor.Scalar(1, DType.Float64).Gelu().ToDouble(), 1e-15); // Φ(1)
    }

    [Fact]
    public void ComparisonsAndLogicalOpsGiveBools()
    {
        using var scope = new TensorScope();
        var a = Tensor.From(new float[] { 1, 2, 3, float.NaN });
        var b = Tensor.From(new float[] { 3, 2, 1, 0 });
        Assert.Equal(DType.Bool, (a < b).DType);
        Assert.Equal([true, false, false, false], (a < b).ToArray<bool>());
        Assert.Equal([true, true, false, false], (a <= b).ToArray<bool>());
        Assert.Equal([false, false, true, false], (a > b).ToArray<bool>());
        Assert.Equal([false, true, true, false], (a >= b).ToArray<bool>());
        Assert.Equal([false, true, false, false], a.Eq(b).ToArray<bool>());
        Assert.Equal([true, false, true, true], a.Ne(b).ToArray<bool>());
        Assert.Equal([false, true, false, false], a.Eq(2).ToArray<bool>());
        Assert.Equal([true, true, true, false], a.IsFinite().ToArray<bool>());
        Assert.Equal([false, false, true, true], (!(a < 2.5)).ToArray<bool>());
        Assert.Equal([false, true, false, false], ((a > 1) & (b > 1)).ToArray<bool>());
        Assert.Equal([1L, 2], (a > 1).Nonzero().View(-1).Narrow(0, 0, 2).ToArray<long>());
        Assert.True(b.AllClose(b * (1 + 1e-6)));          // within rtol·|other|
        Assert.False(b.AllClose(b + 1e-3));
    }

    [Fact]
    public void InPlaceOpsUpdateTheTensorItself()
    {
        using var scope = new TensorScope();
        var x = Tensor.From(new double[] { 1, 2, 3 });
        var t1 = Tensor.From(new double[] { 2, 2, 2 });
        var t2 = Tensor.From(new double[] { 1, 4, -1 });
        Assert.Same(x, x.Add_(t1, alpha: 0.5));
        Assert.Equal([2.0, 3, 4], x.ToArray<double>());
        x.Mul_(2).Add_(-1);
        Assert.Equal([3.0, 5, 7], x.ToArray<double>());
        x.Addcmul_(t1, t2, 0.5);                           // + 0.5·t1·t2
        Assert.Equal([4.0, 9, 6], x.ToArray<double>());
        x.Addcdiv_(t2, t1, 2);                             // + 2·t2/t1
        Assert.Equal([5.0, 13, 5], x.ToArray<double>());
        x.MaskedFill_(Tensor.From(new[] { false, true, false }), -1);
        Assert.Equal([5.0, -1, 5], x.ToArray<double>());
        x.Copy_(Tensor.From(new float[] { 7 }));           // broadcast and convert
        Assert.Equal([7.0, 7, 7], x.ToArray<double>());
        x.Fill_(0.25);
        Assert.Equal([0.25, 0.25, 0.25], x.ToArray<double>());
        x.Zero_();
        Assert.Equal(new double[3], x.ToArray<double>());
    }

    [Fact]
    public void DropoutZeroesAboutPAndScalesTheRest()
    {
        using var scope = new TensorScope();
        var x = Tensor.Ones([10000], DType.Float64);
        Assert.Equal(x.ToArray<double>(), F.Dropout(x, 0.5, training: false).ToArray<double>());
        var y = F.Dropout(x, 0.25, training: true).ToArray<double>();
        Assert.All(y, v => Assert.True(v == 0 || Math.Abs(v - 1 / 0.75) < 1e-12, $"dropout produced {v}"));
        Assert.InRange(y.Count(v => v == 0) / 10000.0, 0.22, 0.28);
    }

    [Fact]
    public void FromWithoutAShapeIsOneDimensionalEvenForOneElement()
    {
        using var scope = new TensorScope();
        Assert.Equal([1L], Tensor.From(new float[] { 5 }).Shape);
        Assert.Equal([3L], Tensor.From(new long[] { 1, 2, 3 }).Shape);
        Assert.Equal([1L], Tensor.From((ReadOnlySpan<double>)[2.0]).Shape);
        var scalar = Tensor.From(new float[] { 5 }, []);
        Assert.Equal(0, scalar.Dim);
        Assert.Equal(5f, scalar.ToSingle());
        Assert.Equal([2L, 1], Tensor.From(new float[] { 5, 6 }, 2, 1).Shape);
    }

    // ---- along a dimension ------------------------------------------------------------------

    [Fact]
    public void SoftmaxRowsAreExpOverSumAndSumToOne()
    {
        using var scope = new TensorScope();
        var x = RandomValues(12, 1, 3); // [3, 4]
        var p = Tensor.From(x, 3, 4).Softmax(-1).ToArray<double>();
        for (var row = 0; row < 3; row++)
        {
            var z = Enumerable.Range(0, 4).Sum(j => Math.Exp(x[row * 4 + j]));
            for (var j = 0; j < 4; j++) Assert.Equal(Math.Exp(x[row * 4 + j]) / z, p[row * 4 + j], 1e-14);
            Assert.Equal(1.0, p.Skip(row * 4).Take(4).Sum(), 1e-14);
        }
    }

    [Fact]
    public void LogSoftmaxIsLogOfSoftmaxAlongDimZero()
    {
        using var scope = new TensorScope();
        var x = RandomValues(6, 2, 3); // [3, 2], normalised down the columns
        var lp = Tensor.From(x, 3, 2).LogSoftmax(0).ToArray<double>();
        for (var col = 0; col < 2; col++)
        {
            var lse = Math.Log(Enumerable.Range(0, 3).Sum(i => Math.Exp(x[i * 2 + col])));
            for (var i = 0; i < 3; i++) Assert.Equal(x[i * 2 + col] - lse, lp[i * 2 + col], 1e-14);
        }
    }

    [Theory]
    [InlineData(1e4)]
    [InlineData(-1e4)]
    public void LogSumExpIsStableAtLargeMagnitudes(double offset)
    {
        using var scope = new TensorScope();
        float[] x = [(float)offset, (float)offset - 1, (float)offset - 3, (float)offset - 0.5f];
        var lse = Tensor.From(x, 2, 2).LogSumExp([0, 1]).ToDouble();
        var max = x.Max();
        var expected = max + Math.Log(x.Sum(v => Math.Exp(v - max)));
        Assert.True(double.IsFinite(lse), $"logsumexp is {lse}");
        Assert.Equal(expected, lse, 2e-3); // float32 spacing near 1e4 is 1e-3
    }

    [Fact]
    public void CumsumMatchesRunningSums()
    {
        using var scope = new TensorScope();
        var x = RandomValues(8, 3); // [2, 4]
        var rows = Tensor.From(x, 2, 4).Cumsum(1).ToArray<double>();
        var cols = Tensor.From(x, 2, 4).Cumsum(0).ToArray<double>();
        for (var i = 0; i < 2; i++)
        {
            var s = 0.0;
            for (var j = 0; j < 4; j++)
            {
                s += x[i * 4 + j];
                Assert.Equal(s, rows[i * 4 + j], 1e-14);
                Assert.Equal(x[j] + (i == 1 ? x[4 + j] : 0), cols[i * 4 + j], 1e-14);
            }
        }
    }

    // ---- matmul and broadcasting ------------------------------------------------------------

    [Fact]
    public void MatmulMatchesTripleLoop()
    {
        using var scope = new TensorScope();
        var a = RandomValues(7 * 5, 4);
        var b = RandomValues(5 * 3, 5);
        var c = Tensor.From(a, 7, 5).Matmul(Tensor.From(b, 5, 3)); // [7, 3]
        Assert.Equal([7L, 3], c.Shape);
        var expected = new double[7 * 3];
        for (var i = 0; i < 7; i++)
            for (var j = 0; j < 3; j++)
                for (var k = 0; k < 5; k++)
                    expected[i * 3 + j] += a[i * 5 + k] * b[k * 3 + j];
        Close(expected, c.ToArray<double>());
    }

    [Fact]
    public void ColumnPlusRowBroadcastsToAnOuterSum()
    {
        using var scope = new TensorScope();
        var s = Tensor.From(new float[] { 1, 2, 3 }, 3, 1) + Tensor.From(new float[] { 10, 20, 30, 40 }, 1, 4);
        Assert.Equal([3L, 4], s.Shape);
        Assert.Equal([11f, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43], s.ToArray<float>());
    }

    [Fact]
    public void TrailingVectorBroadcastsOverLeadingDims()
    {
        using var scope = new TensorScope();
        var a = RandomValues(24, 6); // [2, 3, 4]
        double[] b = [1, -2, 0.5, 3];
        var p = Tensor.From(a, 2, 3, 4) * Tensor.From(b);
        Assert.Equal([2L, 3, 4], p.Shape);
        Close(a.Select((v, i) => v * b[i % 4]).ToArray(), p.ToArray<double>());
    }

    [Fact]
    public void WholeScalarKeepsInt64AndFractionalScalarPromotesToFloat()
    {
        using var scope = new TensorScope();
        var t = Tensor.From(new long[] { 1, 2, 3 });
        var plus2 = t + 2;
        Assert.Equal(DType.Int64, plus2.DType);
        Assert.Equal([3L, 4, 5], plus2.ToArray<long>());
        Assert.Equal(DType.Int64, (t * 3).DType);
        Assert.Equal([1L, 0, -1], (2 - t).ToArray<long>());
        var plusHalf = t + 0.5;
        Assert.Equal(DType.Float32, plusHalf.DType);
        Assert.Equal([1.5f, 2.5f, 3.5f], plusHalf.ToArray<float>());
        var half = t / 2; // true division, as in PyTorch
        Assert.Equal(DType.Float32, half.DType);
        Assert.Equal([0.5f, 1, 1.5f], half.ToArray<float>());
        Assert.Equal([2f, 1, 2 / 3f], (2 / t).ToArray<float>());
    }

    [Fact]
    public void ScalarsBeyondInt64StayFloatingForIntegerTensors()
    {
        using var scope = new TensorScope();
        var t = Tensor.From(new long[] { 1, -1 });
        var big = t + 9223372036854775808.0; // 2^63: whole, but not an int64
        Assert.Equal(DType.Float32, big.DType);
        Assert.Equal([9.223372e18f, 9.223372e18f], big.ToArray<float>());
        Assert.Equal(DType.Float32, (t * double.PositiveInfinity).DType);
        Assert.Equal([true, true], (t < double.PositiveInfinity).ToArray<bool>());
        Assert.Equal([false, false], t.Eq(double.NaN).ToArray<bool>());
        Assert.Equal([1L, -1], (t + -9223372036854775808.0 - -9223372036854775808.0).ToArray<long>()); // −2^63 is an int64
    }

    [Fact]
    public void ScalarOperatorsComputeTheRightSide()
    {
        using var scope = new TensorScope();
        var x = Tensor.From(new double[] { 2, 4, -8 });
        Assert.Equal([3.0, 1, 13], (5 - x).ToArray<double>());
        Assert.Equal([-3.0, -1, -13], (x - 5).ToArray<double>());
        Assert.Equal([0.5, 0.25, -0.125], (1 / x).ToArray<double>());
        Assert.Equal([1.0, 2, -4], (x / 2).ToArray<double>());
        Assert.Equal([4.0, 16, 64], x.Pow(2).ToArray<double>());
        Assert.Equal([2.0, 1, -2], x.Fmod(3).ToArray<double>()); // sign of the dividend, as C's fmod
    }

    // ---- reductions -------------------------------------------------------------------------

    [Fact]
    public void VarAndStdUseBesselsCorrection()
    {
        using var scope = new TensorScope();
        var x = RandomValues(15, 7, 2); // [3, 5]
        var t = Tensor.From(x, 3, 5);
        var var1 = t.Var(1).ToArray<double>();
        var std1 = t.Std(1).ToArray<double>();
        var var0 = t.Var(1, correction: 0).ToArray<double>();
        for (var i = 0; i < 3; i++)
        {
            var row = x.Skip(i * 5).Take(5).ToArray();
            var mean = row.Average();
            var ss = row.Sum(v => (v - mean) * (v - mean));
            Assert.Equal(ss / 4, var1[i], 1e-14);
            Assert.Equal(Math.Sqrt(ss / 4), std1[i], 1e-14);
            Assert.Equal(ss / 5, var0[i], 1e-14);
        }
        var all = x.Average();
        Assert.Equal(x.Sum(v => (v - all) * (v - all)) / 14, t.Var([0, 1]).ToDouble(), 1e-14);
    }

    [Fact]
    public void SumMeanAmaxOverDimsMatchLoops()
    {
        using var scope = new TensorScope();
        var x = RandomValues(24, 8); // [2, 3, 4]
        var t = Tensor.From(x, 2, 3, 4);
        var sum02 = t.Sum([0, 2], keepdim: true);
        Assert.Equal([1L, 3, 1], sum02.Shape);
        var mean1 = t.Mean(1).ToArray<double>(); // [2, 4]
        var amax2 = t.Amax([2]).ToArray<double>(); // [2, 3]
        for (var j = 0; j < 3; j++)
        {
            var s = 0.0;
            for (var i = 0; i < 2; i++) for (var k = 0; k < 4; k++) s += x[i * 12 + j * 4 + k];
            Assert.Equal(s, sum02.ToArray<double>()[j], 1e-13);
        }
        for (var i = 0; i < 2; i++)
            for (var k = 0; k < 4; k++)
                Assert.Equal((x[i * 12 + k] + x[i * 12 + 4 + k] + x[i * 12 + 8 + k]) / 3, mean1[i * 4 + k], 1e-14);
        for (var i = 0; i < 2; i++)
            for (var j = 0; j < 3; j++)
                Assert.Equal(x.Skip(i * 12 + j * 4).Take(4).Max(), amax2[i * 3 + j]);
        Assert.Equal(x.Sum(), t.Sum().ToDouble(), 1e-13);
        Assert.Equal(x.Average(), t.Mean().ToDouble(), 1e-14);
    }

    [Fact]
    public void MaxAndMinAlongDimReturnValuesAndIndices()
    {
        using var scope = new TensorScope();
        var t = Tensor.From(new float[] { 3, 9, 1, 4, -2, 7 }, 2, 3);
        var (maxV, maxI) = t.Max(1);
        var (minV, minI) = t.Min(0);
        Assert.Equal([9f, 7], maxV.ToArray<float>());
        Assert.Equal([1L, 2], maxI.ToArray<long>());
        Assert.Equal([3f, -2, 1], minV.ToArray<float>());
        Assert.Equal([0L, 1, 0], minI.ToArray<long>());
        Assert.Equal([1L, 2], t.Argmax(1).ToArray<long>());
        Assert.Equal([2L, 1], t.Argmin(1).ToArray<long>());
    }

    [Fact]
    public void TopKAndSortAgreeWithASortedCopy()
    {
        using var scope = new TensorScope();
        float[] x = [0.3f, -1, 2.5f, 0.7f, 9, -4];
        var (v, i) = Tensor.From(x).TopK(3);
        Assert.Equal([9f, 2.5f, 0.7f], v.ToArray<float>());
        Assert.Equal([4L, 2, 3], i.ToArray<long>());
        var (sv, si) = Tensor.From(x).Sort();
        Assert.Equal(x.Order().ToArray(), sv.ToArray<float>());
        Assert.Equal([5L, 1, 0, 3, 2, 4], si.ToArray<long>());
        var (lv, _) = Tensor.From(x).TopK(2, largest: false);
        Assert.Equal([-4f, -1], lv.ToArray<float>());
    }

    [Fact]
    public void SortIsStableForTies()
    {
        using var scope = new TensorScope();
        var t = Tensor.From(new long[] { 3, 1, 2, 1, 3 });
        Assert.Equal([1L, 3, 2, 0, 4], t.Sort().Indices.ToArray<long>());
        Assert.Equal([0L, 4, 2, 1, 3], t.Sort(descending: true).Indices.ToArray<long>());
    }

    // ---- indexing -----------------------------------------------------------------------------

    [Fact]
    public void GatherPicksAlongDimOne()
    {
        using var scope = new TensorScope();
        var t = Tensor.From(new float[] { 10, 11, 12, 20, 21, 22 }, 2, 3);
        var g = t.Gather(1, Tensor.From(new long[] { 2, 0, 1, 1 }, 2, 2)); // out[i][j] = t[i][idx[i][j]]
        Assert.Equal([12f, 10, 21, 21], g.ToArray<float>());
    }

    [Fact]
    public void ScatterWritesAndScatterAddAccumulates()
    {
        using var scope = new TensorScope();
        var zeros = Tensor.Zeros([2, 4]);
        var index = Tensor.From(new long[] { 3, 0, 1, 1 }, 2, 2);
        var src = Tensor.From(new float[] { 5, 6, 7, 8 }, 2, 2);
        Assert.Equal([6f, 0, 0, 5, 0, 7, 8, 0], zeros.Scatter(1, Tensor.From(new long[] { 3, 0, 1, 2 }, 2, 2), src).ToArray<float>());
        Assert.Equal([6f, 0, 0, 5, 0, 15, 0, 0], zeros.ScatterAdd(1, index, src).ToArray<float>());
        Assert.Equal(new float[8], zeros.ToArray<float>()); // not modified in place
    }

    [Fact]
    public void IndexSelectPicksRowsInOrderWithRepeats()
    {
        using var scope = new TensorScope();
        var t = Tensor.From(new long[] { 1, 2, 3, 4, 5, 6 }, 3, 2);
        Assert.Equal([5L, 6, 1, 2, 5, 6], t.IndexSelect(0, Tensor.From(new long[] { 2, 0, 2 })).ToArray<long>());
    }

    [Fact]
    public void WhereAndMaskedFillSelectElementwise()
    {
        using var scope = new TensorScope();
        var a = Tensor.From(new float[] { 1, 2, 3, 4 });
        var b = Tensor.From(new float[] { -1, -2, -3, -4 });
        var mask = Tensor.From(new[] { true, false, false, true });
        Assert.Equal([1f, -2, -3, 4], Tensor.Where(mask, a, b).ToArray<float>());
        Assert.Equal([0f, 2, 3, 0], a.MaskedFill(mask, 0).ToArray<float>());
        Assert.Equal([1f, 2, 3, 4], a.ToArray<float>());
        Assert.Equal([float.NegativeInfinity, 2, 3, float.NegativeInfinity],
            a.MaskedFill(mask, double.NegativeInfinity).ToArray<float>());
        Assert.Equal([true, false, true, true], (a > 2 | mask).ToArray<bool>());
    }

    [Fact]
    public void CatAndStackJoinShapesAndValues()
    {
        using var scope = new TensorScope();
        var a = Tensor.From(new float[] { 1, 2, 3, 4 }, 2, 2);
        var b = Tensor.From(new float[] { 5, 6 }, 2, 1);
        var cat = Tensor.Cat([a, b], 1);
        Assert.Equal([2L, 3], cat.Shape);
        Assert.Equal([1f, 2, 5, 3, 4, 6], cat.ToArray<float>());
        var stack = Tensor.Stack([a, a * 10], 1);
        Assert.Equal([2L, 2, 2], stack.Shape);
        Assert.Equal([1f, 2, 10, 20, 3, 4, 30, 40], stack.ToArray<float>());
        Assert.Equal([4L, 2], Tensor.Cat([a, a]).Shape);
    }

    [Fact]
    public void TrilAndTriuKeepTheirTriangles()
    {
        using var scope = new TensorScope();
        var t = Tensor.Ones([3, 3]);
        Assert.Equal([1f, 0, 0, 1, 1, 0, 1, 1, 1], t.Tril().ToArray<float>());
        Assert.Equal([0f, 1, 1, 0, 0, 1, 0, 0, 0], t.Triu(1).ToArray<float>());
    }

    [Fact]
    public void RangeAndIntegerIndexersSliceDimensionZero()
    {
        using var scope = new TensorScope();
        var t = Tensor.Arange(12).View(4, 3);
        var mid = t[1..3];
        Assert.Equal([2L, 3], mid.Shape);
        Assert.Equal([3L, 4, 5, 6, 7, 8], mid.ToArray<long>());
        Assert.Equal([6L, 7, 8], t[2].ToArray<long>());
        Assert.Equal([9L, 10, 11], t[^1..].ToArray<long>());
        Assert.Equal([9L, 10, 11], t[-1].ToArray<long>());
        Assert.Equal([1L, 4, 7, 10], t.Select(1, 1).ToArray<long>());
        Assert.Equal([0L, 2, 3, 5], t[..2].Slice(1, 0, 3, 2).ToArray<long>());
    }

    [Fact]
    public void ShapeOpsRearrangeElements()
    {
        using var scope = new TensorScope();
        var t = Tensor.Arange(6).View(2, 3);
        Assert.Equal([0L, 3, 1, 4, 2, 5], t.T.Contiguous().ToArray<long>());
        Assert.False(t.T.IsContiguous);
        Assert.Equal([0L, 3, 1, 4, 2, 5], t.T.Reshape(6).ToArray<long>());
        Assert.Equal([3L, 1, 2], t.Permute(1, 0).Unsqueeze(1).Shape);
        Assert.Equal([0L, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5], t.Repeat(1, 2).ToArray<long>());
        Assert.Equal([2L, 2, 3], t.Unsqueeze(0).Expand(2, -1, -1).Shape);
        Assert.Equal([6L], t.Flatten().Shape);
        Assert.Equal([3L], t[..1].Squeeze().Shape);
    }

    // ---- layers and losses ---------------------------------------------------------------------

    [Fact]
    public void LinearAndEmbeddingMatchLoops()
    {
        using var scope = new TensorScope();
        var x = RandomValues(6, 10);  // [2, 3]
        var w = RandomValues(12, 11); // [4, 3]
        var b = RandomValues(4, 12);
        var y = F.Linear(Tensor.From(x, 2, 3), Tensor.From(w, 4, 3), Tensor.From(b)).ToArray<double>(); // [2, 4]
        for (var i = 0; i < 2; i++)
            for (var o = 0; o < 4; o++)
                Assert.Equal(b[o] + Enumerable.Range(0, 3).Sum(k => x[i * 3 + k] * w[o * 3 + k]), y[i * 4 + o], 1e-14);
        var e = F.Embedding(Tensor.From(w, 4, 3), Tensor.From(new long[] { 3, 0, 3 }, 3, 1));
        Assert.Equal([3L, 1, 3], e.Shape);
        Assert.Equal(w[9..12].Concat(w[0..3]).Concat(w[9..12]).ToArray(), e.ToArray<double>());
    }

    [Fact]
    public void LayerNormAndRmsNormMatchTheirFormulas()
    {
        using var scope = new TensorScope();
        var x = RandomValues(8, 13, 3); // [2, 4]
        double[] w = [0.5, 1, 2, -1], b = [0, 0.1, -0.2, 0.3];
        var ln = F.LayerNorm(Tensor.From(x, 2, 4), Tensor.From(w), Tensor.From(b), eps: 1e-5).ToArray<double>();
        var rms = F.RmsNorm(Tensor.From(x, 2, 4), Tensor.From(w), eps: 1e-6).ToArray<double>();
        for (var i = 0; i < 2; i++)
        {
            var row = x[(i * 4)..(i * 4 + 4)];
            var mean = row.Average();
            var var = row.Sum(v => (v - mean) * (v - mean)) / 4; // biased, as layer norm
            var ms = row.Sum(v => v * v) / 4;
            for (var j = 0; j < 4; j++)
            {
                Assert.Equal((row[j] - mean) / Math.Sqrt(var + 1e-5) * w[j] + b[j], ln[i * 4 + j], 1e-12);
                Assert.Equal(row[j] / Math.Sqrt(ms + 1e-6) * w[j], rms[i * 4 + j], 1e-12);
            }
        }
    }

    [Fact]
    public void RmsNormKeepsLowPrecisionDTypes()
    {
        using var scope = new TensorScope();
        var x = Tensor.From(new float[] { 1, 2, 3, 4 }, 1, 4);
        var y = F.RmsNorm(x.To(DType.BFloat16), Tensor.Ones([4], DType.BFloat16));
        Assert.Equal(DType.BFloat16, y.DType);
        var expected = F.RmsNorm(x, null).ToArray<float>();
        var got = y.To(DType.Float32).ToArray<float>();
        for (var j = 0; j < 4; j++) Assert.Equal(expected[j], got[j], 1e-2); // bfloat16 keeps 8 bits of mantissa
    }

    [Fact]
    public void CrossEntropyAndTokenLogProbsAreNegativeLogSoftmaxAtTheTarget()
    {
        using var scope = new TensorScope();
        var logits = RandomValues(12, 14, 2); // [3, 4]
        long[] targets = [2, -100, 0];
        double LogP(int row, long c) =>
            logits[row * 4 + (int)c] - Math.Log(Enumerable.Range(0, 4).Sum(j => Math.Exp(logits[row * 4 + j])));
        var l = Tensor.From(logits, 3, 4);
        var t = Tensor.From(targets);
        Assert.Equal(-(LogP(0, 2) + LogP(2, 0)) / 2, F.CrossEntropy(l, t).ToDouble(), 1e-14);
        Assert.Equal(-(LogP(0, 2) + LogP(2, 0)), F.CrossEntropy(l, t, reduction: Reduction.Sum).ToDouble(), 1e-14);
        Close([-LogP(0, 2), 0, -LogP(2, 0)], F.CrossEntropy(l, t, reduction: Reduction.None).ToArray<double>(), 1e-14);
        Assert.Equal(-(LogP(1, 3) + LogP(2, 1)),
            F.CrossEntropy(l, Tensor.From(new long[] { 0, 3, 1 }), ignoreIndex: 0, reduction: Reduction.Sum).ToDouble(), 1e-14);

        var tok = F.TokenLogProbs(l.View(1, 3, 4), Tensor.From(new long[] { 2, 1, 0 }, 1, 3)); // [1, 3]
        Assert.Equal([1L, 3], tok.Shape);
        Close([LogP(0, 2), LogP(1, 1), LogP(2, 0)], tok.ToArray<double>(), 1e-14);
        var half = F.TokenLogProbs(l.To(DType.Float16).View(1, 3, 4), Tensor.From(new long[] { 2, 1, 0 }, 1, 3));
        Assert.Equal(DType.Float32, half.DType); // computed in float32, not float16
    }

    // ---- creation ----------------------------------------------------------------------------

    [Fact]
    public void ArangeCountsFromStartByStep()
    {
        using var scope = new TensorScope();
        var a = Tensor.Arange(5);
        Assert.Equal(DType.Int64, a.DType);
        Assert.Equal([0L, 1, 2, 3, 4], a.ToArray<long>());
        Assert.Equal([0f, 0.25f, 0.5f, 0.75f], Tensor.Arange(0, 1, 0.25, DType.Float32).ToArray<float>());
        Assert.Equal([5L, 3, 1], Tensor.Arange(5, 0, -2).ToArray<long>());
    }

    [Fact]
    public void FullZerosOnesHaveRequestedDTypeAndValue()
    {
        using var scope = new TensorScope();
        var full = Tensor.Full([2, 2], 7, DType.Int64);
        Assert.Equal(DType.Int64, full.DType);
        Assert.Equal([7L, 7, 7, 7], full.ToArray<long>());
        Assert.Equal(DType.Float32, Tensor.Zeros([3]).DType);
        Assert.Equal(new float[3], Tensor.Zeros([3]).ToArray<float>());
        Assert.Equal([1.0, 1], Tensor.Ones([2], DType.Float64).ToArray<double>());
        Assert.Equal([true, true], Tensor.Ones([2], DType.Bool).ToArray<bool>());
        Assert.Equal(DType.BFloat16, Tensor.Zeros([1], DType.BFloat16).DType);
        var s = Tensor.Scalar(2.5, DType.Float64);
        Assert.Equal(0, s.Dim);
        Assert.Equal(2.5, s.ToDouble());
    }

    [Fact]
    public void GeneratorSeedRepeatsRegardlessOfGlobalDraws()
    {
        using var scope = new TensorScope();
        using var g1 = new Generator(7);
        var a = Tensor.Randn([16], DType.Float64, generator: g1).ToArray<double>();
        Tensor.Randn([100]); // a global draw in between
        using var g2 = new Generator(7);
        Assert.Equal(a, Tensor.Randn([16], DType.Float64, generator: g2).ToArray<double>());
        g1.SetSeed(7);
        Assert.Equal(a, Tensor.Randn([16], DType.Float64, generator: g1).ToArray<double>());
        using var g3 = new Generator(8);
        Assert.NotEqual(a, Tensor.Randn([16], DType.Float64, generator: g3).ToArray<double>());
    }

    [Fact]
    public void GeneratorStateRestoresTheStream()
    {
        using var scope = new TensorScope();
        using var g = new Generator(11);
        Tensor.Rand([5], generator: g);
        var state = g.GetState();
        var next = Tensor.Rand([8], DType.Float64, generator: g).ToArray<double>();
        g.SetState(state);
        Assert.Equal(next, Tensor.Rand([8], DType.Float64, generator: g).ToArray<double>());
    }

    [Fact]
    public void RandnHasStandardNormalMoments()
    {
        using var scope = new TensorScope();
        using var g = new Generator(3);
        var x = Tensor.Randn([20000], DType.Float64, generator: g).ToArray<double>();
        var mean = x.Average();
        var var = x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1);
        Assert.InRange(mean, -0.03, 0.03);     // σ/√n ≈ 0.007
        Assert.InRange(var, 0.96, 1.04);       // √(2/n) ≈ 0.01
        var u = Tensor.Rand([20000], DType.Float64, generator: g).ToArray<double>();
        Assert.True(u.All(v => v is >= 0 and < 1));
        Assert.InRange(u.Average(), 0.49, 0.51);
    }

    [Fact]
    public void MultinomialIsRepeatableAndSkipsZeroProbabilities()
    {
        using var scope = new TensorScope();
        var probs = Tensor.From(new float[] { 0.5f, 0, 0.3f, 0, 0.2f });
        using var g1 = new Generator(5);
        using var g2 = new Generator(5);
        var a = probs.Multinomial(4000, replacement: true, generator: g1).ToArray<long>();
        var b = probs.Multinomial(4000, replacement: true, generator: g2).ToArray<long>();
        Assert.Equal(a, b);
        Assert.DoesNotContain(a, i => i == 1 || i == 3);
        Assert.InRange(a.Count(i => i == 0) / 4000.0, 0.46, 0.54);
        Assert.InRange(a.Count(i => i == 4) / 4000.0, 0.17, 0.23);
        var once = Tensor.From(new float[] { 0, 1, 0, 2, 0, 0, 3, 1, 0, 0 }, 2, 5).Multinomial(2, generator: g1).ToArray<long>();
        Assert.Equal([1L, 3], once.Take(2).Order());
        Assert.Equal([1L, 2], once.Skip(2).Order());
    }

    // ---- conversion ---------------------------------------------------------------------------

    [Fact]
    public void FromAndToArrayRoundTripEveryHostType()
    {
        using var scope = new TensorScope();
        float[] f = [1.5f, -2, 3e-8f];
        double[] d = [Math.PI, -1e300, 0];
        long[] l = [long.MaxValue, -1, 0];
        int[] i = [int.MinValue, 7];
        bool[] b = [true, false, true];
        Half[] h = [(Half)0.5f, (Half)(-65504f), Half.Epsilon];
        Assert.Equal(f, Tensor.From(f).ToArray<float>());
        Assert.Equal(d, Tensor.From(d).ToArray<double>());
        Assert.Equal(l, Tensor.From(l).ToArray<long>());
        Assert.Equal(i, Tensor.From(i).ToArray<int>());
        Assert.Equal(b, Tensor.From(b).ToArray<bool>());
        Assert.Equal(h, Tensor.From(h).ToArray<Half>());
        Assert.Equal(DType.Int32, Tensor.From(i).DType);
        Assert.Equal(DType.Float16, Tensor.From(h).DType);
        var m = Tensor.From(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Assert.Equal([2L, 3], m.Shape);
        Assert.Equal(6f, m[1][2].ToSingle());
        Assert.Equal([2L, 3], Tensor.From(d.Concat(d).ToArray(), 2, 3).Shape);
    }

    [Fact]
    public void HalfPrecisionConversionsKeepRepresentableValues()
    {
        using var scope = new TensorScope();
        float[] exact = [1, -2.5f, 0.15625f, 256, -0.0078125f, 3072];
        var x = Tensor.From(exact);
        Assert.Equal(exact, x.To(DType.Float16).To(DType.Float32).ToArray<float>());
        Assert.Equal(exact.Select(v => (Half)v).ToArray(), x.To(DType.Float16).ToArray<Half>());
        var bf = x.To(DType.BFloat16);
        Assert.Equal(DType.BFloat16, bf.DType);
        Assert.Equal(exact, bf.To(DType.Float32).ToArray<float>());
        // bfloat16 is the upper half of the float32 bit pattern.
        var bytes = bf.ToBytes();
        for (var k = 0; k < exact.Length; k++)
            Assert.Equal((ushort)(BitConverter.SingleToUInt32Bits(exact[k]) >> 16), BitConverter.ToUInt16(bytes, 2 * k));
        Assert.Equal([1.0, -2.5, 0.15625, 256, -0.0078125, 3072], bf.To(DType.Float64).ToArray<double>());
        Assert.Equal([1L, -2, 0, 256, 0, 3072], x.To(DType.Int64).ToArray<long>()); // truncation toward zero
    }

    [Fact]
    public void ToTheSameDTypeSharesStorageUnlessACopyIsAsked()
    {
        using var scope = new TensorScope();
        var x = Tensor.From(new float[] { 1, 2 });
        var same = x.To(DType.Float32);
        var copy = x.To(DType.Float32, x.Device, copy: true);
        x.Add_(1);
        Assert.Equal([2f, 3], same.ToArray<float>());
        Assert.Equal([1f, 2], copy.ToArray<float>());
        Assert.Equal(DeviceType.CPU, x.Device.Type);
    }

    // ---- autograd bookkeeping ----------------------------------------------------------------

    [Fact]
    public void NoGradDisablesRecordingAndRestoresWhenNested()
    {
        using var scope = new TensorScope();
        var x = Tensor.From(new double[] { 1, 2 }).RequiresGrad_();
        Assert.True(Torch.IsGradEnabled);
        using (Torch.NoGrad())
        {
            Assert.False((x * 2).RequiresGrad);
            using (Torch.NoGrad()) Assert.False(Torch.IsGradEnabled);
            Assert.False(Torch.IsGradEnabled);
            using (Torch.EnableGrad()) Assert.True((x * 2).RequiresGrad);
            Assert.False((x * 2).RequiresGrad);
        }
        Assert.True(Torch.IsGradEnabled);
        var y = x * 2;
        Assert.True(y.RequiresGrad);
        Assert.False(y.IsLeaf);
        Assert.True(x.IsLeaf);
    }

    [Fact]
    public void BackwardWithExplicitGradientWeightsTheOutputs()
    {
        using var scope = new TensorScope();
        var x = Tensor.From(new double[] { 1, -2, 3 }).RequiresGrad_();
        var y = x * x;                                     // dy/dx = 2x
        y.Backward(Tensor.From(new double[] { 1, 0.5, -2 }));
        Assert.Equal([2.0, -2, -12], x.Grad!.ToArray<double>());
    }

    [Fact]
    public void GradIsNullBeforeBackwardAccumulatesAndZeroGradClearsIt()
    {
        using var scope = new TensorScope();
        var x = Tensor.From(new double[] { 1, 2 }).RequiresGrad_();
        Assert.Null(x.Grad);
        var loss = (x * x).Sum();
        loss.Backward(retainGraph: true);
        Assert.Equal([2.0, 4], x.Grad!.ToArray<double>());
        loss.Backward();
        Assert.Equal([4.0, 8], x.Grad!.ToArray<double>());
        x.ZeroGrad();
        Assert.Null(x.Grad);
        x.Grad = Tensor.From(new double[] { 7, 8 });
        Assert.Equal([7.0, 8], x.Grad!.ToArray<double>());
    }

    [Fact]
    public void DetachCutsTheGraphButSharesStorage()
    {
        using var scope = new TensorScope();
        var x = Tensor.From(new double[] { 1, 2 }).RequiresGrad_();
        var d = x.Detach();
        Assert.False(d.RequiresGrad);
        Assert.False((d * 3).RequiresGrad);
        d.Add_(10);
        Assert.Equal([11.0, 12], x.ToArray<double>());
        (x * d).Sum().Backward(); // d is a constant: the gradient is d, not 2x
        Assert.Equal([11.0, 12], x.Grad!.ToArray<double>());
    }

    [Fact]
    public void TorchInfoReportsVersionAndThreads()
    {
        var info = Torch.Info;
        Assert.Matches(new Regex(@"^\d+\.\d+\.\d+$"), info.Version);
        Assert.True(int.Parse(info.Version.Split('.')[0]) >= 1);
        Assert.True(info.Threads >= 1);
        Assert.Equal(Torch.Threads, info.Threads);
        Assert.Contains("PyTorch built with", info.BuildConfig);
        Assert.True(info.CudaDevices >= 0);
    }
}

/// <summary>Tests that seed the process-wide generator; they run alone so no other test draws from it meanwhile.</summary>
[CollectionDefinition(nameof(GlobalSeedTests), DisableParallelization = true)]
public class GlobalSeedCollection;

/// <summary>Torch.Seed and the global generator state make the global stream repeatable.</summary>
[Collection(nameof(GlobalSeedTests))]
public class GlobalSeedTests
{
    [Fact]
    public void SameGlobalSeedRepeatsRandn()
    {
        using var scope = new TensorScope();
        Torch.Seed(42);
        var a = Tensor.Randn([3, 4]).ToArray<float>();
        var b = Tensor.Randn([3, 4]).ToArray<float>();
        Torch.Seed(42);
        Assert.Equal(a, Tensor.Randn([3, 4]).ToArray<float>());
        Assert.Equal(b, Tensor.Randn([3, 4]).ToArray<float>());
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void GlobalStateRestoresTheStream()
    {
        using var scope = new TensorScope();
        Torch.Seed(9);
        var state = Generator.GetGlobalState();
        var a = Tensor.Rand([6], DType.Float64).ToArray<double>();
        Generator.SetGlobalState(state);
        Assert.Equal(a, Tensor.Rand([6], DType.Float64).ToArray<double>());
    }
}
