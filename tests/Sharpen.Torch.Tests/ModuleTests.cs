using Sharpen.Torch.NN;
using Sharpen.Torch.Optim;

namespace Sharpen.Torch.Tests;

public class ModuleTests
{
    sealed class Block : Module
    {
        public readonly Linear Proj;
        public readonly RMSNorm Norm;

        public Block(long dim)
        {
            Proj = RegisterModule("proj", new Linear(dim, dim));
            Norm = RegisterModule("norm", new RMSNorm(dim));
        }

        public Tensor Forward(Tensor x) => Norm.Forward(Proj.Forward(x)) + x;
    }

    sealed class Net : Module
    {
        public readonly Embedding Embed;
        public readonly ModuleList<Block> Layers;
        public readonly Linear Head;
        public readonly Tensor Positions;
        public readonly Tensor Table;

        public Net(long vocab = 10, long dim = 4, int layers = 2)
        {
            Embed = RegisterModule("embed", new Embedding(vocab, dim));
            Layers = RegisterModule("layers", new ModuleList<Block>(Enumerable.Range(0, layers).Select(_ => new Block(dim))));
            Head = RegisterModule("head", new Linear(dim, vocab, bias: false));
            Positions = RegisterBuffer("positions", Tensor.Arange(5));
            Table = RegisterBuffer("table", Tensor.Ones([3]), persistent: false);
        }

        public Tensor Forward(Tensor ids)
        {
            var h = Embed.Forward(ids);                 // [B, T, D]
            foreach (var block in Layers) h = block.Forward(h);
            return Head.Forward(h);                     // [B, T, V]
        }
    }

    [Fact]
    public void NamedParametersAreDottedAndInRegistrationOrder()
    {
        using var net = new Net();
        Assert.Equal(
            ["embed.weight", "layers.0.proj.weight", "layers.0.proj.bias", "layers.0.norm.weight",
             "layers.1.proj.weight", "layers.1.proj.bias", "layers.1.norm.weight", "head.weight"],
            net.NamedParameters().Select(e => e.Name));
        Assert.Equal(["positions", "table"], net.NamedBuffers().Select(e => e.Name));
        Assert.Equal(["embed", "layers", "head"], net.NamedChildren().Select(e => e.Name));
        Assert.Same(net.Layers[1].Proj.Bias, net.NamedParameters().Single(e => e.Name == "layers.1.proj.bias").Value);
        Assert.Equal(10 * 4 + 2 * (4 * 4 + 4 + 4) + 4 * 10, net.ParameterCount());
        Assert.All(net.Parameters(), p => Assert.True(p.RequiresGrad));
        Assert.False(net.Positions.RequiresGrad);
    }

    [Fact]
    public void StateDictHoldsParametersAndPersistentBuffersAndRoundTrips()
    {
        using var scope = new TensorScope();
        Torch.Seed(1);
        using var a = new Net();
        Torch.Seed(2);
        using var b = new Net();
        var ids = Tensor.From(new long[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        Assert.False(a.Forward(ids).AllClose(b.Forward(ids)));

        var state = a.StateDict();
        Assert.Equal(9, state.Count);                   // 8 parameters + "positions"; "table" is not persistent
        Assert.Contains("positions", state.Keys);
        Assert.DoesNotContain("table", state.Keys);
        Assert.False(state["head.weight"].RequiresGrad);
        b.LoadStateDict(state);

        foreach (var ((name, pa), (_, pb)) in a.NamedParameters().Zip(b.NamedParameters()))
            Assert.True(pa.ToArray<float>().SequenceEqual(pb.ToArray<float>()), name);
        Assert.Equal(a.Forward(ids).ToArray<float>(), b.Forward(ids).ToArray<float>());
        Assert.True(b.Parameters().All(p => p.RequiresGrad && p.IsLeaf));
    }

    [Fact]
    public void LoadStateDictNamesMissingUnexpectedAndMisshapenKeys()
    {
        using var scope = new TensorScope();
        using var net = new Net();
        var before = net.Head.Weight.ToArray<float>();

        var missing = net.StateDict();
        missing.Remove("layers.1.norm.weight");
        var e = Assert.Throws<ArgumentException>(() => net.LoadStateDict(missing));
        Assert.Contains("missing keys: layers.1.norm.weight", e.Message);
        net.LoadStateDict(missing, strict: false);      // non-strict: loads what is there

        var wrong = net.StateDict();
        wrong["head.weight"] = Tensor.Zeros([4, 10]);
        wrong["lm_head.weight"] = Tensor.Zeros([10, 4]);
        e = Assert.Throws<ArgumentException>(() => net.LoadStateDict(wrong));
        Assert.Contains("shape mismatch for head.weight", e.Message);
        Assert.Contains("[4, 10]", e.Message);
        Assert.Contains("[10, 4]", e.Message);
        Assert.Contains("unexpected keys: lm_head.weight", e.Message);
        Assert.Equal(before, net.Head.Weight.ToArray<float>());   // nothing was copied
    }

    [Fact]
    public void ToFloat64KeepsTheSameObjectsAndConvertsFloatingTensorsOnly()
    {
        using var scope = new TensorScope();
        using var net = new Net();
        var weight = net.Layers[0].Proj.Weight;
        var values = weight.ToArray<float>();
        var parameters = net.Parameters().ToList();

        net.To(DType.Float64);

        Assert.Same(weight, net.Layers[0].Proj.Weight);
        Assert.Equal(parameters, net.Parameters());
        Assert.All(parameters, p => Assert.Equal(DType.Float64, p.DType));
        Assert.All(parameters, p => Assert.True(p.RequiresGrad && p.IsLeaf));
        Assert.Equal(values.Select(v => (double)v), weight.ToArray<double>());
        Assert.Equal(DType.Int64, net.Positions.DType);
        Assert.Equal(DType.Float64, net.Table.DType);
        Assert.Equal(DType.Float64, net.Forward(Tensor.From(new long[] { 1, 2 }, 1, 2)).DType);
        Assert.Same(net, net.To(Device.CPU));
        Assert.Equal(DType.Float64, weight.DType);
    }

    [Fact]
    public void DropoutIsIdentityInEvalAndZeroesAboutPOfElementsInTraining()
    {
        using var scope = new TensorScope();
        using var dropout = new Dropout(0.3);
        Torch.Seed(3);
        var x = Tensor.Ones([200_000]);

        var train = dropout.Forward(x).ToArray<float>();
        var zeroFraction = train.Count(v => v == 0) / (double)train.Length;
        Assert.InRange(zeroFraction, 0.29, 0.31);        // σ ≈ 0.001
        Assert.All(train.Where(v => v != 0), v => Assert.Equal(1 / 0.7f, v, 1e-6f));

        dropout.Eval();
        Assert.False(dropout.Training);
        Assert.Equal(x.ToArray<float>(), dropout.Forward(x).ToArray<float>());
    }

    [Fact]
    public void TrainAndEvalReachEveryDescendant()
    {
        using var net = new Net();
        net.Eval();
        Assert.False(net.Layers[1].Norm.Training);
        net.Train();
        Assert.True(net.Layers[1].Norm.Training);
    }

    [Fact]
    public void LinearInitIsUniformWithinOneOverSqrtFanIn()
    {
        Torch.Seed(4);
        using var linear = new Linear(256, 64);
        var bound = 1 / Math.Sqrt(256);
        var w = linear.Weight.ToArray<float>();
        var b = linear.Bias!.ToArray<float>();
        Assert.Equal([64L, 256L], linear.Weight.Shape);
        Assert.All(w.Concat(b), v => Assert.InRange(Math.Abs(v), 0, bound));
        Assert.True(w.Max() > 0.99 * bound && w.Min() < -0.99 * bound);   // spans the interval
        Assert.InRange(w.Average(v => (double)v), -0.01 * bound, 0.01 * bound);
        Assert.InRange(w.Average(v => (double)v * v), bound * bound / 3 * 0.97, bound * bound / 3 * 1.03);   // Var U(−a, a) = a²/3
    }

    [Fact]
    public void NormsAndEmbeddingStartAtTheirPyTorchDefaults()
    {
        using var scope = new TensorScope();
        Torch.Seed(5);
        using var ln = new LayerNorm(6);
        using var emb = new Embedding(1000, 8);
        Assert.Equal(Enumerable.Repeat(1f, 6), ln.Weight.ToArray<float>());
        Assert.Equal(Enumerable.Repeat(0f, 6), ln.Bias!.ToArray<float>());
        var e = emb.Weight.ToArray<float>();
        Assert.InRange(e.Average(v => (double)v), -0.05, 0.05);
        Assert.InRange(e.Average(v => (double)v * v), 0.95, 1.05);
        var y = ln.Forward(Tensor.From(new float[] { 1, 2, 3, 4, 5, 6 }, 1, 6)).ToArray<float>();
        Assert.Equal(0.0, y.Average(v => (double)v), 6);
        Assert.Equal(1.0, y.Average(v => (double)v * v), 4);          // unit variance (eps 1e-5)
    }

    [Fact]
    public void ParametersMadeInsideAScopeOutliveItAndDieWithTheModule()
    {
        Linear linear;
        using (new TensorScope()) linear = new Linear(3, 2);
        Assert.False(linear.Weight.IsDisposed);
        Assert.Equal(6, linear.Weight.ToArray<float>().Length);
        linear.Dispose();
        Assert.True(linear.Weight.IsDisposed && linear.Bias!.IsDisposed);
    }

    [Fact]
    public void LinearRegressionTrainedWithAdamWReachesLowLoss()
    {
        Torch.Seed(6);
        using var gen = new Generator(6);
        using var model = new Linear(4, 1);
        using var opt = new AdamW(model.Parameters(), lr: 0.05, weightDecay: 0.0);
        using var wTrue = Tensor.From(new float[] { 1.5f, -2f, 0.5f, 3f }, 4, 1);
        double loss = 0;
        for (var step = 0; step < 300; step++)
        {
            using var scope = new TensorScope();
            var x = Tensor.Randn([32, 4], generator: gen);
            var y = x.Matmul(wTrue) + 0.7;
            var l = (model.Forward(x) - y).Square().Mean();
            opt.ZeroGrad();
            l.Backward();
            opt.Step();
            loss = l.ToDouble();
        }
        Assert.True(loss < 1e-3, $"loss {loss}");
        Assert.Equal(0.7, model.Bias!.ToDouble(), 1);
    }

    [Fact]
    public void RegisteringTwoEntriesUnderOneNameOrADottedNameFails()
    {
        Assert.Throws<ArgumentException>(() => new Clash());
        Assert.Throws<ArgumentException>(() => new Dotted());
    }

    sealed class Clash : Module
    {
        public Clash()
        {
            RegisterModule("m", new Dropout(0.1));
            RegisterModule("m", new Dropout(0.2));
        }
    }

    sealed class Dotted : Module
    {
        public Dotted() => RegisterModule("a.m", new Dropout(0.1));
    }
}
