namespace Sharpen.Torch.Tests;

using static GradCheck;

/// <summary>
/// Autograd gradients of every differentiable op exposed by <see cref="Tensor"/> and <see cref="F"/>
/// against central finite differences in float64 (see <see cref="GradCheck"/>).
/// </summary>
public class GradientTests
{
    /// <summary>A gradient case: builds its inputs (leaves to check require grad) and the function of them.</summary>
    sealed record Case(Func<Random, Tensor[]> Inputs, Func<Tensor[], Tensor> F);

    static Case Unary(Func<Tensor, Tensor> f, Func<Random, Tensor>? input = null) =>
        new(r => [input?.Invoke(r) ?? Uniform(r, [3, 4])], x => f(x[0]));

    static Case Binary(Func<Tensor, Tensor, Tensor> f, Func<Random, Tensor> a, Func<Random, Tensor> b) =>
        new(r => [a(r), b(r)], x => f(x[0], x[1]));

    static Tensor Longs(long[] values, params long[] shape) => Tensor.From(values, shape);

    static Tensor Bools(bool[] values, params long[] shape) => Tensor.From(values, shape);

    static Tensor Positive(Random r) => Uniform(r, [3, 4], 0.3, 2);

    static Tensor Nonzero(Random r) => AwayFromZero(r, [3, 4]);

    // b = a + d with |d| ≥ 0.1 everywhere, so maximum/minimum never tie.
    static Tensor[] Separated(Random r)
    {
        var a = Uniform(r, [3, 4]);
        var d = AwayFromZero(r, [3, 4], 0.1, 1).Detach();
        return [a, (a.Detach() + d).RequiresGrad_()];
    }

    static readonly Dictionary<string, Case> Cases = new()
    {
        // ---- unary ----
        ["neg"] = Unary(x => x.Neg()),
        ["unary minus"] = Unary(x => -x),
        ["exp"] = Unary(x => x.Exp()),
        ["log"] = Unary(x => x.Log(), Positive),
        ["log1p"] = Unary(x => x.Log1p(), r => Uniform(r, [3, 4], -0.5, 2)),
        ["sqrt"] = Unary(x => x.Sqrt(), Positive),
        ["rsqrt"] = Unary(x => x.Rsqrt(), Positive),
        ["abs"] = Unary(x => x.Abs(), Nonzero),
        ["square"] = Unary(x => x.Square()),
        ["reciprocal"] = Unary(x => x.Reciprocal(), Nonzero),
        ["sin"] = Unary(x => x.Sin()),
        ["cos"] = Unary(x => x.Cos()),
        ["relu"] = Unary(x => x.Relu(), Nonzero),
        ["silu"] = Unary(x => x.Silu(), r => Uniform(r, [3, 4], -3, 3)),
        ["gelu erf"] = Unary(x => x.Gelu(), r => Uniform(r, [3, 4], -3, 3)),
        ["gelu tanh"] = Unary(x => x.Gelu(tanhApproximation: true), r => Uniform(r, [3, 4], -3, 3)),
        ["sigmoid"] = Unary(x => x.Sigmoid(), r => Uniform(r, [3, 4], -3, 3)),
        ["logsigmoid"] = Unary(x => x.LogSigmoid(), r => Uniform(r, [3, 4], -3, 3)),
        ["tanh"] = Unary(x => x.Tanh()),
        ["softplus"] = Unary(x => x.Softplus(), r => Uniform(r, [3, 4], -3, 3)),
        // Values at least 0.05 from the bounds ±0.5; some inside, some clipped on each side.
        ["clamp both"] = Unary(x => x.Clamp(-0.5, 0.5),
            _ => Tensor.From(new[] { -1.2, -0.8, -0.55, -0.4, -0.1, 0.05, 0.2, 0.45, 0.6, 0.9, 1.3, -0.3 }, 3, 4).RequiresGrad_()),
        ["clamp min"] = Unary(x => x.Clamp(min: 0.1),
            _ => Tensor.From(new[] { -1.2, -0.8, 0.15, 0.4, -0.1, 0.05, 0.2, 0.45, 0.6, 0.9, 1.3, -0.3 }, 3, 4).RequiresGrad_()),
        ["clone"] = Unary(x => x.Clone()),
        ["contiguous of transpose"] = Unary(x => x.Transpose(0, 1).Contiguous()),

        // ---- binary, with broadcasting ----
        ["add [3,4]+[4]"] = Binary((a, b) => a + b, r => Uniform(r, [3, 4]), r => Uniform(r, [4])),
        ["sub [3,1]-[1,4]"] = Binary((a, b) => a - b, r => Uniform(r, [3, 1]), r => Uniform(r, [1, 4])),
        ["mul [2,3,4]*[4]"] = Binary((a, b) => a * b, r => Uniform(r, [2, 3, 4]), r => Uniform(r, [4])),
        ["div [3,4]/[3,1]"] = Binary((a, b) => a / b, r => Uniform(r, [3, 4]), r => AwayFromZero(r, [3, 1], 0.5)),
        ["pow tensor [3,4]^[4]"] = Binary((a, b) => a.Pow(b), Positive, r => Uniform(r, [4], -2, 2)),
        ["maximum"] = new(Separated, x => x[0].Maximum(x[1])),
        ["minimum"] = new(Separated, x => x[0].Minimum(x[1])),
        ["matmul [3,4]x[4,2]"] = Binary((a, b) => a.Matmul(b), r => Uniform(r, [3, 4]), r => Uniform(r, [4, 2])),
        ["matmul batched [2,3,4]x[4,5]"] = Binary((a, b) => a.Matmul(b), r => Uniform(r, [2, 3, 4]), r => Uniform(r, [4, 5])),
        ["matmul vector [3,4]x[4]"] = Binary((a, b) => a.Matmul(b), r => Uniform(r, [3, 4]), r => Uniform(r, [4])),
        ["bmm [2,3,4]x[2,4,2]"] = Binary((a, b) => a.Bmm(b), r => Uniform(r, [2, 3, 4]), r => Uniform(r, [2, 4, 2])),

        // ---- with a scalar ----
        ["x + 2"] = Unary(x => x + 2),
        ["2 + x"] = Unary(x => 2 + x),
        ["x - 2"] = Unary(x => x - 2),
        ["2 - x"] = Unary(x => 2 - x),
        ["x * 3"] = Unary(x => x * 3),
        ["3 * x"] = Unary(x => 3 * x),
        ["x / 3"] = Unary(x => x / 3),
        ["3 / x"] = Unary(x => 3 / x, Nonzero),
        ["x ^ 2.5"] = Unary(x => x.Pow(2.5), Positive),
        ["x ^ 3"] = Unary(x => x.Pow(3)),

        // ---- along one dimension ----
        ["softmax last"] = Unary(x => x.Softmax(-1)),
        ["softmax 0"] = Unary(x => x.Softmax(0)),
        ["log_softmax last"] = Unary(x => x.LogSoftmax(-1)),
        ["log_softmax 0"] = Unary(x => x.LogSoftmax(0)),
        ["cumsum 1"] = Unary(x => x.Cumsum(1)),
        ["cumsum 0"] = Unary(x => x.Cumsum(0)),

        // ---- reductions ----
        ["sum all"] = Unary(x => x.Sum()),
        ["sum dim 1"] = Unary(x => x.Sum(1)),
        ["sum dims 0,2 keepdim"] = Unary(x => x.Sum([0, 2], keepdim: true), r => Uniform(r, [2, 3, 4])),
        ["sum dtype float64"] = Unary(x => x.Sum([1], false, DType.Float64)),
        ["mean all"] = Unary(x => x.Mean()),
        ["mean dim 1"] = Unary(x => x.Mean(1)),
        ["mean dims 0,1"] = Unary(x => x.Mean([0, 1]), r => Uniform(r, [2, 3, 4])),
        ["logsumexp dim 1"] = Unary(x => x.LogSumExp(1)),
        ["logsumexp dims 0,1 keepdim"] = Unary(x => x.LogSumExp([0, 1], keepdim: true)),
        ["amax dim 1"] = Unary(x => x.Amax([1]), r => Distinct(r, [3, 4])),
        ["amin dim 0"] = Unary(x => x.Amin([0]), r => Distinct(r, [3, 4])),
        ["max all"] = Unary(x => x.Max(), r => Distinct(r, [3, 4])),
        ["min all"] = Unary(x => x.Min(), r => Distinct(r, [3, 4])),
        ["max dim values"] = Unary(x => x.Max(1).Values, r => Distinct(r, [3, 4])),
        ["min dim values keepdim"] = Unary(x => x.Min(0, keepdim: true).Values, r => Distinct(r, [3, 4])),
        ["var dim 1"] = Unary(x => x.Var(1)),
        ["var dims 0,1 biased"] = Unary(x => x.Var([0, 1], correction: 0)),
        ["std dim 1"] = Unary(x => x.Std(1)),
        ["std dim 0 keepdim"] = Unary(x => x.Std(0, keepdim: true)),
        ["topk values"] = Unary(x => x.TopK(2).Values, r => Distinct(r, [3, 4])),
        ["topk smallest dim 0"] = Unary(x => x.TopK(2, dim: 0, largest: false).Values, r => Distinct(r, [3, 4])),
        ["sort values"] = Unary(x => x.Sort().Values, r => Distinct(r, [3, 4])),
        ["sort values descending dim 0"] = Unary(x => x.Sort(0, descending: true).Values, r => Distinct(r, [3, 4])),

        // ---- indexing ----
        ["gather dim 1"] = new(r => [Uniform(r, [3, 4]), Longs([3, 0, 0, 1, 2, 2, 3, 3, 1], 3, 3)], x => x[0].Gather(1, x[1])),
        ["index_select repeated"] = new(r => [Uniform(r, [3, 4]), Longs([2, 0, 2, 2], 4)], x => x[0].IndexSelect(0, x[1])),
        ["scatter wrt self and src"] = new(r => [Uniform(r, [3, 4]), Longs([1, 3, 0, 2], 2, 2), Uniform(r, [2, 2])],
            x => x[0].Scatter(1, x[1], x[2])),
        ["scatter_add wrt self and src"] = new(r => [Uniform(r, [3, 4]), Longs([1, 1, 0, 2, 2, 2], 2, 3), Uniform(r, [2, 3])],
            x => x[0].ScatterAdd(1, x[1], x[2])),
        ["masked_fill"] = new(r => [Uniform(r, [3, 4]), Bools([true, false, false, true, false, true, true, false, false, false, true, false], 3, 4)],
            x => x[0].MaskedFill(x[1], -2)),
        ["where"] = new(r => [Bools([true, false, true, true], 4), Uniform(r, [3, 4]), Uniform(r, [3, 1])],
            x => Tensor.Where(x[0], x[1], x[2])),
        ["cat dim 1"] = Binary((a, b) => Tensor.Cat([a, b], 1), r => Uniform(r, [3, 2]), r => Uniform(r, [3, 4])),
        ["cat dim 0"] = Binary((a, b) => Tensor.Cat([a, b]), r => Uniform(r, [1, 4]), r => Uniform(r, [3, 4])),
        ["stack dim 0"] = Binary((a, b) => Tensor.Stack([a, b]), r => Uniform(r, [3, 4]), r => Uniform(r, [3, 4])),
        ["stack dim -1"] = Binary((a, b) => Tensor.Stack([a, b], -1), r => Uniform(r, [3, 4]), r => Uniform(r, [3, 4])),
        ["narrow"] = Unary(x => x.Narrow(1, 1, 2)),
        ["slice step 2"] = Unary(x => x.Slice(1, 0, 4, 2)),
        ["slice negative bounds"] = Unary(x => x.Slice(0, -2, 3)),
        ["select"] = Unary(x => x.Select(1, 2)),
        ["indexer [i]"] = Unary(x => x[1]),
        ["indexer [1..3]"] = Unary(x => x[1..3]),
        ["indexer [^2..]"] = Unary(x => x[^2..]),

        // ---- shapes ----
        ["view"] = Unary(x => x.View(2, 6)),
        ["view -1"] = Unary(x => x.View(-1)),
        ["reshape of transpose"] = Unary(x => x.T.Reshape(4, 3)),
        ["permute"] = Unary(x => x.Permute(2, 0, 1), r => Uniform(r, [2, 3, 4])),
        ["transpose"] = Unary(x => x.Transpose(0, 2), r => Uniform(r, [2, 3, 4])),
        ["T"] = Unary(x => x.T),
        ["expand"] = Unary(x => x.Expand(2, 3, 4), r => Uniform(r, [3, 1])),
        ["repeat"] = Unary(x => x.Repeat(2, 1, 3)),
        ["unsqueeze"] = Unary(x => x.Unsqueeze(1)),
        ["squeeze dim"] = Unary(x => x.Squeeze(1), r => Uniform(r, [3, 1, 4])),
        ["squeeze all"] = Unary(x => x.Squeeze(), r => Uniform(r, [1, 3, 1, 4])),
        ["flatten"] = Unary(x => x.Flatten(1), r => Uniform(r, [2, 3, 2])),
        ["tril"] = Unary(x => x.Tril()),
        ["triu 1"] = Unary(x => x.Triu(1)),
        ["tril -1"] = Unary(x => x.Tril(-1), r => Uniform(r, [4, 4])),

        // ---- functional ----
        ["F.Linear with bias"] = new(r => [Uniform(r, [2, 3, 4]), Uniform(r, [5, 4]), Uniform(r, [5])],
            x => F.Linear(x[0], x[1], x[2])),
        ["F.Linear without bias"] = Binary((x, w) => F.Linear(x, w), r => Uniform(r, [3, 4]), r => Uniform(r, [2, 4])),
        ["F.Embedding wrt weight"] = new(r => [Uniform(r, [5, 3]), Longs([4, 0, 4, 2, 1, 4], 2, 3)], x => F.Embedding(x[0], x[1])),
        ["F.LayerNorm"] = new(r => [Uniform(r, [2, 3, 4], -2, 2), Uniform(r, [4]), Uniform(r, [4])],
            x => F.LayerNorm(x[0], x[1], x[2])),
        ["F.LayerNorm two dims, no affine"] = Unary(x => F.LayerNorm(x, null, null, normalizedDims: 2), r => Uniform(r, [2, 3, 4], -2, 2)),
        ["F.RmsNorm"] = new(r => [Uniform(r, [2, 3, 4], -2, 2), Uniform(r, [4])], x => F.RmsNorm(x[0], x[1])),
        ["F.RmsNorm no weight"] = Unary(x => F.RmsNorm(x, null), r => Uniform(r, [3, 4], -2, 2)),
        ["F.CrossEntropy mean, ignore_index"] = new(r => [Uniform(r, [4, 5], -2, 2), Longs([1, -100, 4, 0], 4)],
            x => F.CrossEntropy(x[0], x[1])),
        ["F.CrossEntropy none"] = new(r => [Uniform(r, [4, 5], -2, 2), Longs([1, 3, 4, 0], 4)],
            x => F.CrossEntropy(x[0], x[1], reduction: Reduction.None)),
        ["F.CrossEntropy sum"] = new(r => [Uniform(r, [4, 5], -2, 2), Longs([1, 3, 4, 0], 4)],
            x => F.CrossEntropy(x[0], x[1], reduction: Reduction.Sum)),
        ["F.TokenLogProbs"] = new(r => [Uniform(r, [2, 3, 5], -2, 2), Longs([4, 0, 2, 1, 1, 3], 2, 3)],
            x => F.TokenLogProbs(x[0], x[1])),
        ["F.ScaledDotProductAttention masked"] = new(
            r => [Uniform(r, [1, 2, 3, 4]), Uniform(r, [1, 2, 5, 4]), Uniform(r, [1, 2, 5, 4]),
                  Bools([true, false, true, true, false, false, true, true, true, true, true, true, false, false, true], 1, 1, 3, 5)],
            x => F.ScaledDotProductAttention(x[0], x[1], x[2], x[3])),
        ["F.ScaledDotProductAttention scaled"] = new(r => [Uniform(r, [2, 1, 3, 2]), Uniform(r, [2, 1, 2, 2]), Uniform(r, [2, 1, 2, 2])],
            x => F.ScaledDotProductAttention(x[0], x[1], x[2], scale: 0.7)),
        ["composition (softmax of linear, times log)"] = new(r => [Uniform(r, [3, 4]), Uniform(r, [2, 4]), Positive(r)],
            x => F.Linear(x[0], x[1]).Softmax(-1).Sum(1, keepdim: true) * x[2].Log()),
    };

    public static TheoryData<string> Names => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Names))]
    public void AutogradMatchesFiniteDifferences(string op)
    {
        using var scope = new TensorScope();
        var c = Cases[op];
        GradCheck.Check(c.F, c.Inputs(new Random(op.Length * 7919 + op[0])));
    }

    [Fact]
    public void GradCheckRejectsAWrongGradient()
    {
        // x·detach(x) has true derivative 2x but autograd sees only x: the checker must notice.
        using var scope = new TensorScope();
        var x = Uniform(new Random(1), [3], 0.5, 1);
        var e = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => GradCheck.Check(a => a[0] * a[0].Detach(), [x]));
        Assert.Contains("finite difference", e.Message);
    }
}
