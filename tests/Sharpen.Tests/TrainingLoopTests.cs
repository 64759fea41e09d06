namespace Sharpen.Tests;

using System.Text.Json;
using Sharpen.Torch;
using Sharpen.Torch.NN;
using Sharpen.Training;

/// <summary>Global-RNG users run alone so another test's draws cannot interleave with theirs.</summary>
[CollectionDefinition("GlobalRng", DisableParallelization = true)]
public sealed class GlobalRngCollection;

[Collection("GlobalRng")]
public class TrainingLoopTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "sharpen-loop-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    /// <summary>y = x·w* + noise regression; data drawn from the global generator, a cursor as trainer state.</summary>
    sealed class Regression(Linear model, Func<long, bool>? nanAt = null, long? crashAt = null) : ITrainStep
    {
        public long Cursor;
        static readonly float[] WStar = [1.5f, -2f, 0.5f, 3f];

        public MicroResult Micro(long step, int micro)
        {
            if (crashAt == step) throw new IOException("simulated crash");
            Cursor++;
            var x = Tensor.Randn([16, 4]);                                             // [B, 4]
            var y = x.Matmul(Tensor.From(WStar, 4, 1)) + Tensor.Randn([16, 1]) * 0.01;
            var loss = (model.Forward(x) - y).Square().Mean();
            if (nanAt?.Invoke(step) == true) loss = loss * double.NaN;
            return new MicroResult(loss, new Dictionary<string, double> { ["cursor"] = Cursor }, 16);
        }

        public IReadOnlyDictionary<string, double> Evaluate(long step) => new Dictionary<string, double> { ["w0"] = model.Weight.Select(0, 0)[0].ToDouble() };
        public string SaveState() => JsonSerializer.Serialize(Cursor);
        public void LoadState(string state) => Cursor = JsonSerializer.Deserialize<long>(state);
    }

    static TrainOptions Options(long steps) => new() { MaxSteps = steps, Lr = 0.2, Schedule = "cosine", WarmupSteps = 2, GradAccumSteps = 2, SaveEvery = 5, WeightDecay = 0.01 };

    static float[] Weights(Linear m) => m.Weight.ToArray<float>().Concat(m.Bias!.ToArray<float>()).ToArray();

    [Fact]
    public void LossFallsEveryParameterChangesAndMetricsAreWritten()
    {
        Torch.Seed(1);
        using var model = new Linear(4, 1);
        var before = Weights(model);
        using var log = new MetricsWriter(dir);
        var result = new TrainingLoop(Options(60), model, new Regression(model), dir, log).Run();
        var after = Weights(model);
        Assert.All(before.Zip(after), p => Assert.NotEqual(p.First, p.Second));
        var records = MetricsReader.Read(Path.Combine(dir, MetricsWriter.FileName)).Where(r => r.Split == "train").ToList();
        Assert.Equal(60, records.Count);
        Assert.True(records[^1].Values["loss"] < 0.05 * records[0].Values["loss"], $"loss {records[0].Values["loss"]} → {records[^1].Values["loss"]}");
        // The lr each step used: warm-up 0/2, 1/2, then cosine from the peak: ½(1 + cos(π·(s−2)/(60−2))).
        Assert.Equal(0.0, records[0].Values["lr"], 12);
        Assert.Equal(0.1, records[1].Values["lr"], 12);
        Assert.Equal(0.2, records[2].Values["lr"], 12);
        Assert.Equal(0.2 * 0.5 * (1 + Math.Cos(Math.PI * 30 / 58)), records[32].Values["lr"], 12);
        Assert.Equal(119.5, records[^1].Values["cursor"]);                               // mean of micro-batches 119 and 120
        Assert.Single(Checkpoint.List(dir), d => d.EndsWith("step-60"));
        Assert.Equal(60, result.Steps);
    }

    [Fact]
    public void EvalAtStartScoresTheStartingModelAtStepZero()
    {
        Torch.Seed(4);
        using var model = new Linear(4, 1);
        var w0 = model.Weight.Select(0, 0)[0].ToDouble();
        var o = Options(3);
        o.EvalAtStart = true;
        using var log = new MetricsWriter(dir);
        var r = new TrainingLoop(o, model, new Regression(model), dir, log).Run();
        Assert.Equal(w0, r.StartEval["w0"]);
        Assert.NotEqual(w0, r.LastEval["w0"]);
        var evals = MetricsReader.Read(Path.Combine(dir, MetricsWriter.FileName)).Where(m => m.Split == "eval").Select(m => m.Step).ToList();
        Assert.Equal(new long[] { 0, 3 }, evals);
    }

    [Fact]
    public void ResumeAfterACrashEndsWithTheSameWeightsBitForBit()
    {
        Torch.Seed(2);
        using var straight = new Linear(4, 1);
        using (var log = new MetricsWriter(Path.Combine(dir, "a"))) new TrainingLoop(Options(12), straight, new Regression(straight), Path.Combine(dir, "a"), log).Run();

        Torch.Seed(2);
        using var crashed = new Linear(4, 1);
        var b = Path.Combine(dir, "b");
        using (var log = new MetricsWriter(b))
            Assert.Throws<IOException>(() => new TrainingLoop(Options(12), crashed, new Regression(crashed, crashAt: 7), b, log).Run());
        Assert.EndsWith("step-5", Checkpoint.Latest(b));

        Torch.Seed(99);                                                                  // a different process state: resume must restore it
        using var resumed = new Linear(4, 1);
        var trainer = new Regression(resumed);
        using (var log = new MetricsWriter(b, resumeStep: 5))
        {
            var r = new TrainingLoop(Options(12), resumed, trainer, b, log).Run();
            Assert.Equal(5, r.ResumedFrom);
        }
        Assert.Equal(Weights(straight), Weights(resumed));
        Assert.Equal(24, trainer.Cursor);
        var steps = MetricsReader.Read(Path.Combine(b, MetricsWriter.FileName)).Where(r => r.Split == "train").Select(r => r.Step).ToList();
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), steps);             // no duplicated or missing steps
    }

    [Fact]
    public void NonFiniteStepsAreSkippedCountedAndStopTheRunAfterThePatience()
    {
        Torch.Seed(3);
        using var model = new Linear(4, 1);
        var o = Options(30);
        o.NanPatience = 3;
        using var log = new MetricsWriter(dir);
        // Steps 3 and 4 (0-based) are NaN: skipped, the run continues.
        new TrainingLoop(o, model, new Regression(model, nanAt: s => s is 3 or 4), dir, log).Run(resume: false);
        var last = MetricsReader.Read(Path.Combine(dir, MetricsWriter.FileName)).Last(r => r.Split == "train");
        Assert.Equal(2, last.Values["skipped_steps"]);
        Assert.All(Weights(model), w => Assert.True(float.IsFinite(w)));

        // From step 10 on every step is NaN: after 3 in a row the run stops with a checkpoint.
        var dir2 = Path.Combine(dir, "diverge");
        using var model2 = new Linear(4, 1);
        using var log2 = new MetricsWriter(dir2);
        var e = Assert.Throws<TrainingDivergedException>(() => new TrainingLoop(o, model2, new Regression(model2, nanAt: s => s >= 10), dir2, log2).Run());
        Assert.Contains("stopped at step 13", e.Message);
        Assert.Contains("nan_patience", e.Message);
        Assert.EndsWith("step-13", Checkpoint.Latest(dir2));
        Assert.All(Weights(model2), w => Assert.True(float.IsFinite(w)));
    }
}
