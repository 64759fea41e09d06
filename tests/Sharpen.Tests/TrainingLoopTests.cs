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
    /// <paramref name="blowAt"/>: before that (0-based) step the weights are multiplied by 1e4, as a bad update does.
    sealed class Regression(Linear model, Func<long, bool>? nanAt = null, long? crashAt = null, long? blowAt = null) : ITrainStep
    {
        public long Cursor;
        static readonly float[] WStar = [1.5f, -2f, 0.5f, 3f];

        public MicroResult Micro(long step, int micro)
        {
            if (crashAt == step) throw new IOException("simulated crash");
            if (blowAt == step && micro == 0)
                using (Torch.NoGrad()) model.Weight.Mul_(1e4);
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
        // Checkpoint 10 is not known good (the step after it was not finite): the run resumes from 5, which is.
        Assert.EndsWith("step-5", e.GoodCheckpoint);
        Assert.EndsWith("step-5", Checkpoint.Latest(dir2));
        Assert.True(Directory.Exists(Path.Combine(dir2, Checkpoint.Folder, Checkpoint.DivergedPrefix + "step-10")));
        Assert.All(Weights(model2), w => Assert.True(float.IsFinite(w)));
    }

    [Fact]
    public void NanGuardKeepsTheLastGoodCheckpointAndAResumeFromItWithALowerLrFinishes()
    {
        Torch.Seed(7);
        using var model = new Linear(4, 1);
        var o = Options(20);
        o.NanPatience = 3;
        o.KeepCheckpoints = 1;
        var run = Path.Combine(dir, "blown");
        // Step 9 blows the weights up (×1e4) with a finite loss; checkpoint 10 holds them; the gradient norm of step 11 spikes;
        // from step 12 on every loss is NaN, so the run stops at 14. Only checkpoint 5 is good (step 6 ran healthy on it).
        using (var log = new MetricsWriter(run))
        {
            var e = Assert.Throws<TrainingDivergedException>(() =>
                new TrainingLoop(o, model, new Regression(model, nanAt: s => s >= 11, blowAt: 8), run, log).Run());
            Assert.Contains("stopped at step 14", e.Message);
            Assert.EndsWith("step-5", e.GoodCheckpoint);
            Assert.Contains("step-5", e.Message);
        }
        // keep_checkpoints = 1 did not rotate the good checkpoint away; the blown-up one was set aside, not resumed from.
        Assert.Equal([Checkpoint.StepDir(run, 5)], Checkpoint.List(run));
        var blown = Path.Combine(run, Checkpoint.Folder, Checkpoint.DivergedPrefix + "step-10", "model.safetensors");
        Assert.True(Safetensors.Load(blown)["weight"].Abs().Max().ToDouble() > 1e3);

        // Resumed without a fix, it diverges again after the patience (not at once), and checkpoint 5 is still the one to resume from.
        Torch.Seed(99);
        using (var again = new Linear(4, 1))
        using (var log = new MetricsWriter(run, 5))
        {
            var e = Assert.Throws<TrainingDivergedException>(() => new TrainingLoop(o, again, new Regression(again, nanAt: _ => true), run, log).Run());
            Assert.Contains("stopped at step 8", e.Message);
            Assert.EndsWith("step-5", e.GoodCheckpoint);
        }
        Assert.Equal([Checkpoint.StepDir(run, 5)], Checkpoint.List(run));

        // The recovery the message suggests: a lower learning rate, resumed from the good checkpoint, runs to the end and
        // learns (loss 9.5 → 3.5 over steps 6–20 when written).
        o.Lr = 0.1;
        Torch.Seed(99);
        using var resumed = new Linear(4, 1);
        TrainResult r;
        using (var loaded = Checkpoint.ReadNewest(run, null))
        using (var log = new MetricsWriter(run, loaded!.State.Step))
            r = new TrainingLoop(o, resumed, new Regression(resumed), run, log).Run(loaded);
        Assert.Equal(5, r.ResumedFrom);
        Assert.Equal(20, r.Steps);
        Assert.All(Weights(resumed), w => Assert.InRange(w, -10f, 10f));
        var loss = MetricsReader.Read(Path.Combine(run, MetricsWriter.FileName)).Where(m => m.Split == "train").ToDictionary(m => m.Step, m => m.Values["loss"]);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), loss.Keys.Order());
        Assert.True(loss[20] < 0.6 * loss[6], $"loss {loss[6]} → {loss[20]}");
    }

    [Fact]
    public void NonFiniteWeightsAreNeverSavedEvenWhenTheRunEndsBeforeThePatience()
    {
        Torch.Seed(8);
        using var model = new Linear(4, 1);
        var o = Options(3);
        o.Lr = double.PositiveInfinity;                                               // step 1's update makes every weight non-finite
        using var log = new MetricsWriter(dir);
        var e = Assert.Throws<TrainingDivergedException>(() => new TrainingLoop(o, model, new Regression(model), dir, log).Run());
        Assert.Contains("weights are no longer finite", e.Message);
        Assert.Null(e.GoodCheckpoint);
        Assert.Empty(Checkpoint.List(dir));
    }

    [Fact]
    public void ResumeFallsBackToTheCheckpointBeforeWhenTheNewestFailsToLoad()
    {
        Torch.Seed(2);
        using var straight = new Linear(4, 1);
        using (var log = new MetricsWriter(Path.Combine(dir, "a"))) new TrainingLoop(Options(12), straight, new Regression(straight), Path.Combine(dir, "a"), log).Run();

        Torch.Seed(2);
        using var crashed = new Linear(4, 1);
        var b = Path.Combine(dir, "b");
        using (var log = new MetricsWriter(b))
            Assert.Throws<IOException>(() => new TrainingLoop(Options(12), crashed, new Regression(crashed, crashAt: 11), b, log).Run());
        var marker = Path.Combine(Checkpoint.StepDir(b, 10), Checkpoint.MarkerFile);
        File.WriteAllText(marker, File.ReadAllText(marker)[..20]);                   // a truncated trainer_state.json

        Torch.Seed(99);
        using var resumed = new Linear(4, 1);
        var output = new StringWriter();
        using (var loaded = Checkpoint.ReadNewest(b, output))
        using (var log = new MetricsWriter(b, loaded!.State.Step))
            Assert.Equal(5, new TrainingLoop(Options(12), resumed, new Regression(resumed), b, log).Run(loaded).ResumedFrom);
        Assert.Contains($"checkpoint {Checkpoint.StepDir(b, 10)} cannot be loaded", output.ToString());
        Assert.Contains("resuming from step-5 instead", output.ToString());
        Assert.Equal(Weights(straight), Weights(resumed));
        Assert.True(Directory.Exists(Path.Combine(b, Checkpoint.Folder, Checkpoint.UnloadablePrefix + "step-10")));
    }

    [Fact]
    public void ACrashBetweenAnyTwoCheckpointFileOperationsLeavesARunThatResumesToTheSameWeights()
    {
        var o = Options(12);                                                           // checkpoints at 5, 10 and 12; 2 kept
        Torch.Seed(6);
        using var straight = new Linear(4, 1);
        var template = Path.Combine(dir, "template");
        o.KeepCheckpoints = 3;
        using (var log = new MetricsWriter(template)) new TrainingLoop(o, straight, new Regression(straight), template, log).Run();
        var expected = Weights(straight);
        Checkpoint.Remove(Checkpoint.StepDir(template, 12));
        o.KeepCheckpoints = 2;

        // Every attempt resumes a copy of that run from checkpoint 5, so it writes 10 again over the one there (the replace
        // path), then 12 (a new one), and rotation removes 5. The hook crashes it after its k-th file operation.
        var operations = new List<string>();
        for (var k = 0; ; k++)
        {
            var run = Path.Combine(dir, $"crash-{k}");
            CopyDirectory(template, run);
            operations.Clear();
            Checkpoint.AfterFileOperation = op =>
            {
                operations.Add(op);
                if (operations.Count == k + 1) throw new IOException($"crash after '{op}'");
            };
            Exception? crash;
            try
            {
                Torch.Seed(99);
                using var attempt = new Linear(4, 1);
                using var from5 = Checkpoint.Read(Checkpoint.StepDir(run, 5));
                using var log = new MetricsWriter(run, 5);
                crash = Record.Exception(() => new TrainingLoop(o, attempt, new Regression(attempt), run, log).Run(from5));
            }
            finally
            {
                Checkpoint.AfterFileOperation = null;
            }
            if (crash is null) break;
            Assert.IsType<IOException>(crash);

            // What a rerun does: clean up under the lock, load the newest checkpoint that loads, run to the end.
            Checkpoint.CleanStale(run);
            Torch.Seed(99);
            using var resumed = new Linear(4, 1);
            using (var loaded = Checkpoint.ReadNewest(run, null))
            using (var log = new MetricsWriter(run, loaded!.State.Step))
                new TrainingLoop(o, resumed, new Regression(resumed), run, log).Run(loaded);
            Assert.True(expected.SequenceEqual(Weights(resumed)), $"{crash.Message}: other weights");
            var steps = MetricsReader.Read(Path.Combine(run, MetricsWriter.FileName)).Where(r => r.Split == "train").Select(r => r.Step);
            Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), steps);
            Assert.Equal(Checkpoint.StepDir(run, 12), Checkpoint.Latest(run));
            Assert.Empty(Directory.GetDirectories(Path.Combine(run, Checkpoint.Folder), ".tmp-*"));
        }
        // The attempt that did not crash: two saves of 8 operations, one of them replacing a checkpoint (2 more), and one rotation (2).
        Assert.Equal(8 * 2 + 2 + 2, operations.Count);
        Assert.Equal($"delete step-10/{Checkpoint.MarkerFile}", operations[6]);
        Assert.Equal($"delete step-5/{Checkpoint.MarkerFile}", operations[^2]);
    }

    static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
    }
}
