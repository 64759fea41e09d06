namespace Sharpen.Tests;

using Sharpen.Data;
using Sharpen.Models;
using Sharpen.Torch;
using Sharpen.Training;
using Xunit.Abstractions;

/// <summary>A briefly supervised 1-digit arithmetic model (greedy accuracy well inside (0, 1)) that preference runs start from.</summary>
public sealed class SftStart : IDisposable
{
    /// <summary>Folder of the SFT run; its final model is in <see cref="Model"/>.</summary>
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "sharpen-pref-sft-" + Guid.NewGuid().ToString("N"));

    /// <summary>The SFT model (Hugging Face layout).</summary>
    public string Model => Path.Combine(Dir, "sft", "final");

    public SftStart()
    {
        var r = new Recipe
        {
            Name = "sft", RunsDir = Dir,
            Model = { Layers = 2, Hidden = 64, Heads = 4, KvHeads = 2, MaxLength = 8 },
            Data = { BuiltinSize = 2000, Digits = 1 },
            Train = { MaxSteps = 60, MicroBatchSize = 32, Lr = 3e-3, WarmupSteps = 10, Seed = 3 },
        };
        Runner.Run(r, TextWriter.Null);
    }

    public void Dispose()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }
}

[Collection("GlobalRng")]
public class PreferenceTrainerTests(SftStart sft, ITestOutputHelper output) : IClassFixture<SftStart>, IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "sharpen-pref-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    /// <summary>A preference recipe on a fresh tiny model and 1-digit arithmetic pairs (or unpaired records for unpaired losses).</summary>
    Recipe Tiny(string name, params string[] loss) => new()
    {
        Name = name, RunsDir = dir, Method = "preference",
        Model = { Layers = 1, Hidden = 32, Heads = 2, KvHeads = 1, MaxLength = 8 },
        Data = { Train = loss[0] == "kto" ? "builtin:arithmetic-unpaired" : "builtin:arithmetic-pairs", BuiltinSize = 400, Digits = 1 },
        Preference = { Loss = [.. loss], Beta = 0.5, EvalPrompts = 0 },
        Train = { MaxSteps = 60, MicroBatchSize = 16, Lr = 3e-3, Seed = 5 },
    };

    /// <summary>The same recipe starting from the shared SFT model, with greedy accuracy on the held-out prompts.</summary>
    Recipe FromSft(string name, string loss, double beta, double epsilon = 0, double flipRate = 0)
    {
        var r = Tiny(name, loss);
        r.Model.Init = sft.Model;
        r.Data.BuiltinSize = 2000;
        r.Data.FlipRate = flipRate;
        r.Preference.Beta = beta;
        r.Preference.LabelSmoothing = epsilon;
        r.Preference.EvalPrompts = 100;
        r.Train.MicroBatchSize = 32;
        r.Train.MaxSteps = 150;
        r.Train.Lr = 1e-3;
        r.Train.WarmupSteps = 10;
        return r;
    }

    static IReadOnlyDictionary<string, double> EvaluateNow(PreferenceTrainer t)
    {
        t.Model.Eval();
        using var noGrad = Torch.NoGrad();
        using var scope = new TensorScope();
        var m = t.Evaluate(0);
        t.Model.Train();
        return m;
    }

    static Dictionary<string, float[]> Weights(PreferenceTrainer t) =>
        t.Model.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value.ToArray<float>());

    /// <summary>What <see cref="Train"/> saw: eval metrics and weights before and after training, and the loop's result.</summary>
    sealed record Outcome(IReadOnlyDictionary<string, double> Before, TrainResult After, Dictionary<string, float[]> Initial, Dictionary<string, float[]> Final);

    /// <summary>Builds the trainer as the runner does (seeded), evaluates it, trains it and evaluates again.</summary>
    Outcome Train(Recipe r, bool resume = false)
    {
        var runDir = Runner.RunDir(r);
        Torch.Seed((ulong)r.Train.Seed);
        using var trainer = new PreferenceTrainer(r, runDir, TextWriter.Null);
        var initial = Weights(trainer);
        var before = EvaluateNow(trainer);
        var result = new TrainingLoop(r.Train, trainer.Model, trainer, runDir, new NullRunLogger()).Run(resume);
        return new Outcome(before, result, initial, Weights(trainer));
    }

    [Theory]
    [InlineData("sigmoid")]
    [InlineData("ipo")]
    [InlineData("simpo")]
    [InlineData("orpo")]
    [InlineData("kto")]
    public void EachLossFamilyLowersItsHeldOutLossAndChangesEveryParameter(string loss)
    {
        var o = Train(Tiny(loss, loss));
        double before = o.Before["loss"], after = o.After.LastEval["loss"];
        output.WriteLine($"{loss}: eval loss {before} → {after}; train {string.Join(", ", o.After.LastTrain.Select(kv => $"{kv.Key} {kv.Value:G4}"))}");
        Assert.True(after < before - 0.05 * Math.Abs(before), $"{loss}: eval loss {before} → {after}");
        Assert.Equal(0, o.After.LastTrain["skipped_steps"]);
        foreach (var (name, w) in o.Initial)
            Assert.False(w.SequenceEqual(o.Final[name]), $"{loss}: {name} did not change");
    }

    [Fact]
    public void DpoRaisesGreedyAccuracyOverItsSftStart()
    {
        var o = Train(FromSft("dpo", "sigmoid", beta: 0.1));
        output.WriteLine($"accuracy {o.Before["accuracy"]} → {o.After.LastEval["accuracy"]}; eval {string.Join(", ", o.After.LastEval.Select(kv => $"{kv.Key} {kv.Value:G4}"))}");
        Assert.InRange(o.Before["accuracy"], 0.2, 0.8);
        Assert.True(o.After.LastEval["accuracy"] > o.Before["accuracy"] + 0.15, $"greedy accuracy {o.Before["accuracy"]} → {o.After.LastEval["accuracy"]}");
    }

    [Theory]
    [InlineData(0.5, 150)]
    [InlineData(1.0, 150)]
    [InlineData(2.0, 150)]
    public void RobustDpoBeatsDpoUnderTwentyPercentFlippedLabels(double beta, int steps)
    {
        var dpo = FromSft("dpo-noisy", "sigmoid", beta, flipRate: 0.2);
        var rdpo = FromSft("rdpo-noisy", "robust", beta, epsilon: 0.2, flipRate: 0.2);
        dpo.Train.MaxSteps = rdpo.Train.MaxSteps = steps;
        var a = Train(dpo);
        var b = Train(rdpo);
        output.WriteLine($"β {beta}: start {a.Before["accuracy"]}; dpo {a.After.LastEval["accuracy"]}, rdpo {b.After.LastEval["accuracy"]}; dpo margins {a.After.LastEval["rewards/margins"]}, rdpo {b.After.LastEval["rewards/margins"]}");
        Assert.True(b.After.LastEval["accuracy"] > a.After.LastEval["accuracy"] + 0.05);
    }
}
