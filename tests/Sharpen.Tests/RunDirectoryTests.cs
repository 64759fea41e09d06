namespace Sharpen.Tests;

using Sharpen.Data;
using Sharpen.Training;

/// <summary>The run directory through <see cref="Runner"/>, in process: recipe changes on resume, --fresh, names, repairs, divergence.</summary>
[Collection("GlobalRng")]
public class RunDirectoryTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "sharpen-rundir-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    Recipe Tiny(long steps = 20, string name = "tiny") => new()
    {
        Name = name, RunsDir = dir,
        Model = { Layers = 1, Hidden = 32, Heads = 2, KvHeads = 1, MaxLength = 12 },
        Data = { BuiltinSize = 300, Digits = 1 },
        Train = { MaxSteps = steps, MicroBatchSize = 8, Lr = 3e-3, SaveEvery = 10, Threads = 1, Seed = 5 },
    };

    string RunDir => Path.Combine(dir, "tiny");

    string Read(string file) => File.ReadAllText(Path.Combine(RunDir, file));

    // A JSONL file whose second record has a numeric completion, and a model with a tokenizer to read it with.
    string BadData()
    {
        var data = Path.Combine(dir, "bad.jsonl");
        File.WriteAllLines(data, ["""{"prompt": "1+2=", "completion": "3"}""", """{"prompt": "2+2=", "completion": 4}"""]);
        return data;
    }

    [Fact]
    public void ResumeWithAChangedRecipeIsRefusedNamingEachKeyAndAcceptedWithTheFlag()
    {
        Runner.Run(Tiny(), TextWriter.Null);
        var (config, metrics) = (Read("config.yaml"), Read(MetricsWriter.FileName));

        var changed = Tiny(steps: 30);
        changed.Train.Lr = 1e-3;
        var e = Assert.Throws<ConfigException>(() => Runner.Run(changed, TextWriter.Null));
        Assert.Contains("step 20 was made with a different recipe", e.Message);
        Assert.Contains("train.max_steps: 20 → 30", e.Message);
        Assert.Contains("train.lr: 0.003 → 0.001", e.Message);
        Assert.Contains("--allow-changes", e.Message);
        Assert.Equal("train.max_steps", e.Key);
        // The refused start wrote nothing.
        Assert.Equal(config, Read("config.yaml"));
        Assert.Equal(metrics, Read(MetricsWriter.FileName));
        Assert.Empty(RunConfigs.Resumed(RunDir));

        // A key that cannot change the trajectory needs no flag, but its config is recorded.
        var logging = Tiny();
        logging.Train.LogEvery = 5;
        Runner.Run(logging, TextWriter.Null);
        Assert.Contains("log_every: 5", Read("config.resume-20.yaml"));

        var output = new StringWriter();
        var r = Runner.Run(changed, output, new RunOptions { AllowChanges = true });
        Assert.Equal((20, 30), (r.ResumedFrom, r.Steps));
        Assert.Contains("resuming from step 20 with changes: train.max_steps: 20 → 30", output.ToString());
        // config.yaml still says how steps 1–20 were made; config.resume-20.yaml how 21–30 were.
        Assert.Equal(config, Read("config.yaml"));
        Assert.Contains("max_steps: 30", Read("config.resume-20.yaml"));
        Assert.Contains("lr: 0.001", Read("config.resume-20.yaml"));
        Assert.DoesNotContain("log_every: 5", Read("config.resume-20.yaml"));
        Assert.Contains("Config from step 20 on", Read(ReportWriter.FileName));
        // The next resume compares with the config that made its checkpoint (step 30): unchanged, so no flag is needed.
        Assert.Equal(30, Runner.Run(changed, TextWriter.Null).ResumedFrom);
    }

    [Fact]
    public void FreshChecksTheNewRecipeFirstAndKeepsThePreviousRunUntilItsFirstCheckpoint()
    {
        Runner.Run(Tiny(), TextWriter.Null);
        var (config, metrics) = (Read("config.yaml"), Read(MetricsWriter.FileName));
        var checkpoints = Checkpoint.List(RunDir);
        var model = File.ReadAllBytes(Path.Combine(RunDir, "final", "model.safetensors"));
        void AssertPreviousRunIntact()
        {
            Assert.Equal(config, Read("config.yaml"));
            Assert.Equal(metrics, Read(MetricsWriter.FileName));
            Assert.Equal(checkpoints, Checkpoint.List(RunDir));
            Assert.Equal(model, File.ReadAllBytes(Path.Combine(RunDir, "final", "model.safetensors")));
            Assert.False(Directory.Exists(Path.Combine(RunDir, RunDirectory.PreviousFolder)));
        }

        // Bad data: the error comes before anything of the previous run is touched.
        var bad = Tiny();
        bad.Data.Train = BadData();
        bad.Model.Init = Path.Combine(dir, "init");
        CopyDirectory(Path.Combine(RunDir, "final"), bad.Model.Init);
        var e = Assert.Throws<DataFormatException>(() => Runner.Run(bad, TextWriter.Null, fresh: true));
        Assert.Contains("bad.jsonl:2", e.Message);
        AssertPreviousRunIntact();

        // A fresh run stopped before its first checkpoint puts the previous run back.
        using var stop = new CancellationTokenSource();
        stop.Cancel();
        var output = new StringWriter();
        Assert.True(Runner.Run(Tiny(), output, new RunOptions { Fresh = true, Stop = stop.Token }).Stopped);
        Assert.Contains("kept in", output.ToString());
        Assert.Contains("restored the previous run", output.ToString());
        AssertPreviousRunIntact();

        // A fresh run that gets going replaces it.
        var other = Tiny();
        other.Train.Seed = 6;
        Assert.Equal(0, Runner.Run(other, TextWriter.Null, fresh: true).ResumedFrom);
        Assert.Contains("seed: 6", Read("config.yaml"));
        Assert.False(Directory.Exists(Path.Combine(RunDir, RunDirectory.PreviousFolder)));
        Assert.NotEqual(model, File.ReadAllBytes(Path.Combine(RunDir, "final", "model.safetensors")));
        Assert.Equal(20, MetricsReader.Read(Path.Combine(RunDir, MetricsWriter.FileName)).Count(m => m.Split == "train"));
    }

    [Fact]
    public void AFailedStartOfANewRunLeavesNoRunDirectory()
    {
        Runner.Run(Tiny(), TextWriter.Null);
        var bad = Tiny(name: "new");
        bad.Data.Train = BadData();
        bad.Model.Init = Path.Combine(RunDir, "final");
        Assert.Throws<DataFormatException>(() => Runner.Run(bad, TextWriter.Null));
        Assert.False(Directory.Exists(Path.Combine(dir, "new")));
    }

    [Theory]
    [InlineData("", "is empty")]
    [InlineData("..", "is not a folder name")]
    [InlineData("../../x", "is a path")]
    [InlineData("a/b", "is a path")]
    [InlineData("/tmp/x", "is a path")]
    public void RunNamesCannotLeaveRunsDir(string name, string why)
    {
        var r = Tiny(name: name);
        r.RunsDir = Path.Combine(dir, "a", "b", "runs");
        var e = Assert.Throws<ConfigException>(() => Runner.Run(r, TextWriter.Null));
        Assert.Equal("name", e.Key);
        Assert.Contains($"name '{name}' {why}", e.Message);
        Assert.False(Directory.Exists(dir));                                           // nothing written anywhere
    }

    [Fact]
    public void WhatAnInterruptedProcessLeftIsRemovedAtStart()
    {
        Runner.Run(Tiny(), TextWriter.Null);
        var checkpoints = Path.Combine(RunDir, Checkpoint.Folder);
        string[] stale =
        [
            Path.Combine(checkpoints, ".tmp-step-30"), Path.Combine(checkpoints, "step-30"),   // an unfinished save; a removal cut short
            Path.Combine(RunDir, "final.tmp-4242"),
        ];
        foreach (var d in stale)
        {
            Directory.CreateDirectory(d);
            File.WriteAllText(Path.Combine(d, "model.safetensors"), "partial");
        }
        File.WriteAllText(Path.Combine(RunDir, "report.html.tmp"), "partial");
        var output = new StringWriter();
        Assert.Equal(20, Runner.Run(Tiny(), output).ResumedFrom);
        Assert.Contains("removed what an interrupted run left behind", output.ToString());
        Assert.All(stale, d => Assert.False(Directory.Exists(d), d));
        Assert.False(File.Exists(Path.Combine(RunDir, "report.html.tmp")));
    }

    /// <summary>An infinite learning rate is refused before anything is written (the loop's own guard against weights
    /// that stop being finite is tested in TrainingLoopTests).</summary>
    [Fact]
    public void AnInfiniteLearningRateIsRefusedBeforeTheRunDirectoryIsMade()
    {
        var r = Tiny(steps: 3);
        r.Train.Lr = double.PositiveInfinity;
        var e = Assert.Throws<ConfigException>(() => Runner.Run(r, TextWriter.Null, new RunOptions { Command = "sharpen train tiny.yaml" }));
        Assert.Contains("train.lr", e.Message);
        Assert.False(Directory.Exists(RunDir));
    }

    static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
    }
}
