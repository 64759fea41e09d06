namespace Sharpen.Tests;

using System.Diagnostics;
using Sharpen.Training;

/// <summary>End-to-end: the `sharpen train` command as a child process, as a user runs it.</summary>
[Collection("GlobalRng")]
public class TrainCliTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "sharpen-cli-" + Guid.NewGuid().ToString("N"));

    public TrainCliTests() => Directory.CreateDirectory(dir);

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    string Recipe(long steps = 200) 
    {
        var path = Path.Combine(dir, "sft.yaml");
        File.WriteAllText(path, $"""
            name: tiny
            runs_dir: {dir}
            method: sft
            model:
              layers: 1
              hidden: 32
              heads: 2
              kv_heads: 1
              max_length: 12
            data:
              builtin_size: 600
              digits: 1
            train:
              max_steps: {steps}
              micro_batch_size: 8
              lr: 3.0e-3
              save_every: 20
              eval_every: 0
              threads: 1
              seed: 5
            """);
        return path;
    }

    static ProcessStartInfo Cli(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Sharpen.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var p = Process.Start(Cli(args))!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    [Fact]
    public void RunKilledMidwayAndResumedEndsWithTheSameWeightsBitForBit()
    {
        var recipe = Recipe();
        var straight = Run("train", recipe, "--set", "name=straight");
        Assert.True(straight.Code == 0, straight.Err + straight.Out);

        // Start the same run, kill the whole process once checkpoint step-40 is on disk, then resume it.
        using (var p = Process.Start(Cli("train", recipe, "--set", "name=killed"))!)
        {
            var ckpt = Path.Combine(dir, "killed", Checkpoint.Folder, "step-40");
            var sw = Stopwatch.StartNew();
            while (!Directory.Exists(ckpt) && !p.HasExited && sw.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(5);
            Assert.False(p.HasExited, "the run finished before it could be killed");
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }
        var latest = Checkpoint.Latest(Path.Combine(dir, "killed"))!;
        var killedAt = long.Parse(Path.GetFileName(latest)["step-".Length..]);
        Assert.InRange(killedAt, 40, 180);
        Assert.False(Directory.Exists(Path.Combine(dir, "killed", "final")));

        var resumed = Run("train", recipe, "--set", "name=killed");
        Assert.True(resumed.Code == 0, resumed.Err + resumed.Out);
        Assert.Contains($"resumed from", resumed.Out);
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir, "straight", "final", "model.safetensors")),
                     File.ReadAllBytes(Path.Combine(dir, "killed", "final", "model.safetensors")));
        // The metrics of the resumed run have every step once.
        var steps = MetricsReader.Read(Path.Combine(dir, "killed", MetricsWriter.FileName)).Where(r => r.Split == "train").Select(r => r.Step).ToList();
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), steps);
    }

    [Fact]
    public void UnknownConfigKeyIsAnErrorNamingTheKey()
    {
        var r = Run("train", Recipe(), "--set", "train.lrr=0.1");
        Assert.Equal(1, r.Code);
        Assert.Contains("unknown key 'train.lrr'", r.Err);
        Assert.Contains("did you mean 'train.lr'", r.Err);
        var y = Path.Combine(dir, "typo.yaml");
        File.WriteAllText(y, "name: typo\ntrain:\n  max_step: 3\n");
        var fromFile = Run("train", y);
        Assert.Equal(1, fromFile.Code);
        Assert.Contains("typo.yaml:3", fromFile.Err);                          // file and line
        Assert.Contains("unknown key 'train.max_step'", fromFile.Err);
        Assert.False(Directory.Exists(Path.Combine(dir, "tiny")));               // nothing was started
    }

    [Fact]
    public void CorruptJsonlLineIsAnErrorNamingFileLineAndFieldAndNothingIsLost()
    {
        var recipe = Recipe(steps: 20);
        var ok = Run("train", recipe);                                           // a finished run in runs/tiny
        Assert.Equal(0, ok.Code);
        var metricsBefore = File.ReadAllText(Path.Combine(dir, "tiny", MetricsWriter.FileName));

        var data = Path.Combine(dir, "data.jsonl");
        File.WriteAllLines(data, ["""{"prompt": "1+2=", "completion": "3"}""", """{"prompt": "2+2=", "completion": 4}""", """{"prompt": "3+2=", "completion": "5"}"""]);
        var tok = Path.Combine(dir, "tiny", "final");                            // a model with a tokenizer to start from
        var bad = Run("train", recipe, "--set", $"data.train={data}", "--set", $"model.init={tok}", "--set", "name=tiny");
        Assert.Equal(1, bad.Code);
        Assert.Contains("data.jsonl:2", bad.Err);
        Assert.Contains("completion", bad.Err);
        Assert.Equal(metricsBefore, File.ReadAllText(Path.Combine(dir, "tiny", MetricsWriter.FileName)));
        Assert.True(File.Exists(Path.Combine(dir, "tiny", "final", "model.safetensors")));

        var skip = Run("train", recipe, "--set", $"data.train={data}", "--set", $"model.init={tok}", "--set", "name=skip",
                       "--set", "data.on_bad_record=skip", "--set", "data.eval_fraction=0", "--set", "train.micro_batch_size=2", "--set", "train.max_steps=2");
        Assert.True(skip.Code == 0, skip.Err + skip.Out);
        Assert.Contains("skipped 1 malformed record", skip.Out);
    }

    [Fact]
    public void ReportOpensWithoutNetworkAndHoldsTheCharts()
    {
        var r = Run("train", Recipe(steps: 30), "--set", "train.eval_every=10");
        Assert.True(r.Code == 0, r.Err + r.Out);
        var html = File.ReadAllText(Path.Combine(dir, "tiny", ReportWriter.FileName));
        Assert.Contains("<svg", html);
        foreach (var title in new[] { "loss", "lr", "grad_norm", "tokens_per_s" }) Assert.Contains(title, html);
        Assert.Contains("max_steps: 30", html);                                  // the resolved config
        var urls = System.Text.RegularExpressions.Regex.Matches(html, "(https?:)?//[a-zA-Z0-9.-]+\\.[a-z]{2,}").Select(m => m.Value).Distinct().ToList();
        Assert.All(urls, u => Assert.Equal("http://www.w3.org", u));            // only the SVG namespace
        Assert.DoesNotContain("<script src", html);
        Assert.DoesNotContain("<link", html);
    }
}
