using Sharpen.Torch.NN;
using Sharpen.Torch.Optim;

namespace Sharpen.Torch.Tests;

public class OptimTests
{
    // The toy problem: loss = Σᵢ cᵢ·Σ pᵢ², so ∂loss/∂x = 2·cᵢ·x for each element x of pᵢ.
    static readonly double[][] Start = [[0.5, -1.5], [2.0], [-0.3, 0.7, 1.1]];
    static readonly double[] C = [1.0, 0.5, 3.0];

    static Tensor[] MakeParams() => Start.Select(s => Tensor.From(s).RequiresGrad_()).ToArray();

    static void Backward(Tensor[] ps)
    {
        using var scope = new TensorScope();
        var loss = Tensor.Scalar(0, DType.Float64);
        for (var i = 0; i < ps.Length; i++) loss = loss + ps[i].Square().Sum() * C[i];
        loss.Backward();
    }

    static void Run(Optimizer opt, Tensor[] ps, int steps)
    {
        for (var t = 0; t < steps; t++)
        {
            opt.ZeroGrad();
            Backward(ps);
            opt.Step();
        }
    }

    // AdamW by hand, element by element (the update is elementwise), PyTorch's formula.
    static double[] HandAdamW(double[] x0, double c, double lr, double wd, int steps,
                              double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8)
    {
        var x = (double[])x0.Clone();
        for (var j = 0; j < x.Length; j++)
        {
            double m = 0, v = 0;
            for (var t = 1; t <= steps; t++)
            {
                var g = 2 * c * x[j];
                x[j] *= 1 - lr * wd;
                m = beta1 * m + (1 - beta1) * g;
                v = beta2 * v + (1 - beta2) * g * g;
                var mHat = m / (1 - Math.Pow(beta1, t));
                var denom = Math.Sqrt(v) / Math.Sqrt(1 - Math.Pow(beta2, t)) + eps;
                x[j] -= lr * mHat / denom;
            }
        }
        return x;
    }

    // torch.optim.SGD by hand.
    static double[] HandSgd(double[] x0, double c, double lr, double momentum, double dampening, double wd, bool nesterov, int steps)
    {
        var x = (double[])x0.Clone();
        for (var j = 0; j < x.Length; j++)
        {
            double buf = 0;
            for (var t = 1; t <= steps; t++)
            {
                var d = 2 * c * x[j] + wd * x[j];
                if (momentum != 0)
                {
                    buf = t == 1 ? d : momentum * buf + (1 - dampening) * d;
                    d = nesterov ? d + momentum * buf : buf;
                }
                x[j] -= lr * d;
            }
        }
        return x;
    }

    static void AssertClose(double[] expected, double[] actual, double tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    [Fact]
    public void AdamWThreeStepsMatchHandComputedDecoupledUpdate()
    {
        var ps = MakeParams();
        using var opt = new AdamW(ps, lr: 0.1, weightDecay: 0.05);
        Run(opt, ps, 3);
        for (var i = 0; i < ps.Length; i++)
            AssertClose(HandAdamW(Start[i], C[i], 0.1, 0.05, 3), ps[i].ToArray<double>(), 1e-12);
        Assert.Equal(3, opt.StepCount);
        foreach (var p in ps) p.Dispose();
    }

    [Fact]
    public void AdamWParamGroupsUseTheirOwnLrAndDecayOrTheDefaults()
    {
        var ps = MakeParams();
        using var opt = new AdamW([new ParamGroup([ps[0], ps[1]], lr: 0.1, weightDecay: 0.0), new ParamGroup([ps[2]], weightDecay: 0.5)],
                                  lr: 0.02, weightDecay: 0.01);
        Assert.Equal(0.02, opt.Groups[1].Lr);
        Assert.Equal(0.02, opt.Groups[1].BaseLr);
        Run(opt, ps, 3);
        AssertClose(HandAdamW(Start[0], C[0], 0.1, 0.0, 3), ps[0].ToArray<double>(), 1e-12);
        AssertClose(HandAdamW(Start[1], C[1], 0.1, 0.0, 3), ps[1].ToArray<double>(), 1e-12);
        AssertClose(HandAdamW(Start[2], C[2], 0.02, 0.5, 3), ps[2].ToArray<double>(), 1e-12);
        // The second group's settings matter: with the first group's they would land elsewhere.
        Assert.True(Math.Abs(HandAdamW(Start[2], C[2], 0.1, 0.0, 3)[0] - ps[2].ToArray<double>()[0]) > 1e-3);
        foreach (var p in ps) p.Dispose();
    }

    [Fact]
    public void AdamWLeavesParametersWithoutGradientUntouchedAndStateless()
    {
        var ps = MakeParams();
        var idle = Tensor.From(new[] { 1.0, 2.0 }).RequiresGrad_();
        using var opt = new AdamW([.. ps, idle], lr: 0.1, weightDecay: 0.5);
        Run(opt, ps, 2);
        Assert.Equal(new[] { 1.0, 2.0 }, idle.ToArray<double>());
        using var scope = new TensorScope();
        var state = opt.StateDict();
        Assert.Contains("state.2.exp_avg_sq", state.Keys);
        Assert.DoesNotContain("state.3.exp_avg", state.Keys);
        foreach (var p in ps) p.Dispose();
        idle.Dispose();
    }

    [Fact]
    public void AdamWRejectsAParameterListedTwice()
    {
        using var p = Tensor.Zeros([2]).RequiresGrad_();
        var e = Assert.Throws<ArgumentException>(() => new AdamW([p, p]));
        Assert.Contains("more than once", e.Message);
    }

    [Theory]
    [InlineData(0.0, 0.0, 0.0, false)]
    [InlineData(0.9, 0.1, 0.01, false)]
    [InlineData(0.9, 0.0, 0.01, true)]
    public void SgdThreeStepsMatchHandComputedTorchSemantics(double momentum, double dampening, double wd, bool nesterov)
    {
        var ps = MakeParams();
        using var opt = new SGD(ps, lr: 0.05, momentum: momentum, dampening: dampening, weightDecay: wd, nesterov: nesterov);
        Run(opt, ps, 3);
        for (var i = 0; i < ps.Length; i++)
            AssertClose(HandSgd(Start[i], C[i], 0.05, momentum, dampening, wd, nesterov, 3), ps[i].ToArray<double>(), 1e-12);
        foreach (var p in ps) p.Dispose();
    }

    [Fact]
    public void SgdMomentumBufferStartsFromTheGradientOfAParameterThatJoinsLate()
    {
        // p2 gets no gradient at step 1; its buffer must start from its first gradient (step 2).
        var ps = MakeParams();
        using var opt = new SGD(ps, lr: 0.05, momentum: 0.9, dampening: 0.5);
        opt.ZeroGrad();
        Backward(ps);
        ps[2].ZeroGrad();
        opt.Step();
        Run(opt, ps, 2);
        AssertClose(HandSgd(Start[0], C[0], 0.05, 0.9, 0.5, 0, false, 3), ps[0].ToArray<double>(), 1e-12);
        AssertClose(HandSgd(Start[2], C[2], 0.05, 0.9, 0.5, 0, false, 2), ps[2].ToArray<double>(), 1e-12);
        foreach (var p in ps) p.Dispose();
    }

    [Fact]
    public void SchedulesMatchClosedFormsAtKeySteps()
    {
        // warm-up 10, total 110: mid-warm-up 5, end of warm-up 10, half way 60, end 110.
        var cosine = LrSchedules.Cosine(10, 110, minRatio: 0.1);
        Assert.Equal(0.0, cosine.Multiplier(0));
        Assert.Equal(0.5, cosine.Multiplier(5), 15);
        Assert.Equal(1.0, cosine.Multiplier(10), 15);
        Assert.Equal(0.1 + 0.9 * 0.5 * (1 + Math.Cos(Math.PI * 0.25)), cosine.Multiplier(35), 15);
        Assert.Equal(0.55, cosine.Multiplier(60), 15);
        Assert.Equal(0.1, cosine.Multiplier(110), 15);
        Assert.Equal(0.1, cosine.Multiplier(500), 15);

        var linear = LrSchedules.Linear(10, 110);
        Assert.Equal(0.0, linear.Multiplier(0));
        Assert.Equal(0.5, linear.Multiplier(5), 15);
        Assert.Equal(1.0, linear.Multiplier(10), 15);
        Assert.Equal(0.75, linear.Multiplier(35), 15);
        Assert.Equal(0.5, linear.Multiplier(60), 15);
        Assert.Equal(0.0, linear.Multiplier(110), 15);
        Assert.Equal(0.0, linear.Multiplier(200), 15);

        var constant = LrSchedules.Constant(10);
        Assert.Equal(0.3, constant.Multiplier(3), 15);
        Assert.Equal(1.0, constant.Multiplier(10));
        Assert.Equal(1.0, LrSchedules.Constant().Multiplier(0));
        Assert.Equal(1.0, LrSchedules.Cosine(0, 100).Multiplier(0));
        Assert.Equal(0.0, LrSchedules.Cosine(0, 100).Multiplier(100), 15);
    }

    [Fact]
    public void ScheduleRegistryCreatesByNameAndListsKnownNamesForAnUnknownOne()
    {
        Assert.Equal(0.55, LrSchedules.Create("cosine", 10, 110, 0.1).Multiplier(60), 15);
        Assert.Equal(0.5, LrSchedules.Create("linear", 10, 110).Multiplier(60), 15);
        Assert.Equal(0.5, LrSchedules.Create("constant", 10, 110).Multiplier(5), 15);
        var e = Assert.Throws<ArgumentException>(() => LrSchedules.Create("cosine_restarts", 0, 10));
        Assert.Contains("cosine_restarts", e.Message);
        Assert.Contains("constant, linear, cosine", e.Message);
    }

    [Fact]
    public void LrSchedulerSetsEachGroupLrToBaseLrTimesMultiplier()
    {
        using var a = Tensor.Zeros([1]).RequiresGrad_();
        using var b = Tensor.Zeros([1]).RequiresGrad_();
        using var opt = new AdamW([new ParamGroup([a], lr: 0.1), new ParamGroup([b], lr: 0.01)]);
        var sched = new LrScheduler(opt, LrSchedules.Linear(2, 10));
        Assert.Equal(0.0, opt.Groups[0].Lr);                       // step 0 of the warm-up
        sched.Step();
        Assert.Equal(0.05, opt.Groups[0].Lr, 15);
        Assert.Equal(0.005, opt.Groups[1].Lr, 15);
        sched.Step();
        Assert.Equal(2, sched.StepCount);
        Assert.Equal(1.0, sched.CurrentMultiplier);
        Assert.Equal(0.1, opt.Groups[0].Lr, 15);
        sched.StepCount = 6;                                        // resume: (10 − 6)/(10 − 2)
        Assert.Equal(0.05, opt.Groups[0].Lr, 15);
        Assert.Equal(0.1, opt.Groups[0].BaseLr);
    }

    [Fact]
    public void ClipGradNormReturnsTheTotalNormAndRescalesToMaxNorm()
    {
        using var scope = new TensorScope();
        var g0 = new[] { 3.0, -4.0, 1.5 };
        var g1 = new[] { 12.0, 0.25 };
        var p0 = Tensor.Zeros([3], DType.Float64).RequiresGrad_();
        var p1 = Tensor.Zeros([2], DType.Float64).RequiresGrad_();
        var idle = Tensor.Zeros([2], DType.Float64).RequiresGrad_();   // no gradient: ignored
        p0.Grad = Tensor.From(g0);
        p1.Grad = Tensor.From(g1);
        var total = Math.Sqrt(g0.Concat(g1).Sum(x => x * x));

        // Below the threshold: norm reported, gradients untouched.
        Assert.Equal(total, GradClip.ClipGradNorm([p0, p1, idle], 100.0), 12);
        Assert.Equal(g0, p0.Grad!.ToArray<double>());

        var norm = GradClip.ClipGradNorm([p0, p1, idle], 2.0);
        Assert.Equal(total, norm, 12);
        var coef = 2.0 / (total + 1e-6);
        AssertClose(g0.Select(x => x * coef).ToArray(), p0.Grad!.ToArray<double>(), 1e-12);
        AssertClose(g1.Select(x => x * coef).ToArray(), p1.Grad!.ToArray<double>(), 1e-12);
        var after = Math.Sqrt(p0.Grad!.ToArray<double>().Concat(p1.Grad!.ToArray<double>()).Sum(x => x * x));
        Assert.Equal(2.0, after, 6);
        Assert.Null(idle.Grad);
    }

    sealed class Mlp : Module
    {
        readonly Linear l1, l2;

        public Mlp()
        {
            l1 = RegisterModule("l1", new Linear(4, 8));
            l2 = RegisterModule("l2", new Linear(8, 1));
        }

        public Tensor Forward(Tensor x) => l2.Forward(l1.Forward(x).Relu());
    }

    static void TrainSteps(Mlp model, AdamW opt, LrScheduler sched, IEnumerable<(Tensor X, Tensor Y)> batches)
    {
        foreach (var (x, y) in batches)
        {
            using var scope = new TensorScope();
            opt.ZeroGrad();
            (model.Forward(x) - y).Square().Mean().Backward();
            opt.Step();
            sched.Step();
        }
    }

    [Fact]
    public void ResumingFromSavedModelAndOptimizerStateContinuesBitForBit()
    {
        using var data = new TensorScope();
        using var gen = new Generator(7);
        var batches = Enumerable.Range(0, 7)
            .Select(_ => (Tensor.Randn([16, 4], generator: gen), Tensor.Randn([16, 1], generator: gen))).ToList();

        Torch.Seed(1);
        using var a = new Mlp();
        using var optA = new AdamW(a.Parameters(), lr: 0.05, weightDecay: 0.1);
        var schedA = new LrScheduler(optA, LrSchedules.Cosine(2, 7));
        TrainSteps(a, optA, schedA, batches.Take(3));
        // The checkpoint: snapshots (clones), as writing them to disk would.
        var weights = a.StateDict().ToDictionary(e => e.Key, e => e.Value.Clone());
        var optState = optA.StateDict().ToDictionary(e => e.Key, e => e.Value.Clone());
        var schedStep = schedA.StepCount;
        TrainSteps(a, optA, schedA, batches.Skip(3));

        Torch.Seed(2);                                  // a different initialisation, overwritten by the load
        using var b = new Mlp();
        b.LoadStateDict(weights);
        using var optB = new AdamW(b.Parameters(), lr: 0.05, weightDecay: 0.1);
        optB.LoadStateDict(optState);
        var schedB = new LrScheduler(optB, LrSchedules.Cosine(2, 7)) { StepCount = schedStep };
        Assert.Equal(3, optB.StepCount);
        TrainSteps(b, optB, schedB, batches.Skip(3));

        foreach (var ((name, pa), (_, pb)) in a.NamedParameters().Zip(b.NamedParameters()))
            Assert.True(pa.ToArray<float>().SequenceEqual(pb.ToArray<float>()), $"{name} differs after resuming");
    }

    [Fact]
    public void OptimizerLoadStateDictNamesBadKeysAndShapes()
    {
        using var scope = new TensorScope();
        var p = Tensor.Zeros([2, 3]).RequiresGrad_();
        using var opt = new AdamW([p]);
        var good = new Dictionary<string, Tensor>
        {
            ["step"] = Tensor.Scalar(4, DType.Int64),
            ["group.0.lr"] = Tensor.Scalar(0.5, DType.Float64),
            ["state.0.exp_avg"] = Tensor.Ones([2, 3]),
            ["state.0.exp_avg_sq"] = Tensor.Ones([2, 3]),
        };
        opt.LoadStateDict(good);
        Assert.Equal(4, opt.StepCount);
        Assert.Equal(0.5, opt.Groups[0].Lr);
        Assert.Equal(6.0, opt.StateDict()["state.0.exp_avg_sq"].Sum().ToDouble());

        var wrongShape = new Dictionary<string, Tensor>(good) { ["state.0.exp_avg"] = Tensor.Ones([3, 2]) };
        var e = Assert.Throws<ArgumentException>(() => opt.LoadStateDict(wrongShape));
        Assert.Contains("state.0.exp_avg", e.Message);
        Assert.Contains("[3, 2]", e.Message);
        Assert.Contains("[2, 3]", e.Message);

        var extra = new Dictionary<string, Tensor>(good) { ["state.1.exp_avg"] = Tensor.Ones([2, 3]), ["state.0.momentum"] = Tensor.Ones([2, 3]) };
        e = Assert.Throws<ArgumentException>(() => opt.LoadStateDict(extra));
        Assert.Contains("unexpected key state.1.exp_avg", e.Message);
        Assert.Contains("unexpected key state.0.momentum", e.Message);

        var partial = new Dictionary<string, Tensor>(good);
        partial.Remove("state.0.exp_avg_sq");
        partial.Remove("step");
        e = Assert.Throws<ArgumentException>(() => opt.LoadStateDict(partial));
        Assert.Contains("missing key state.0.exp_avg_sq", e.Message);
        Assert.Contains("missing key step", e.Message);
        Assert.Equal(4, opt.StepCount);                  // a failed load changes nothing
    }
}
