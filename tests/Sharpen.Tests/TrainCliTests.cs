namespace Sharpen.Tests;

using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using Sharpen.Training;

/// <summary>The uninterrupted 200-step run that the killed and interrupted runs of <see cref="TrainCliTests"/> must end equal to.</summary>
public sealed class StraightRunFixture : IDisposable
{
    /// <summary>Folder of the fixture's run (and its recipe).</summary>
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "sharpen-cli-straight-" + Guid.NewGuid().ToString("N"));

    /// <summary>final/model.safetensors of the straight run.</summary>
    public byte[] FinalModel { get; }

    public StraightRunFixture()
    {
        Directory.CreateDirectory(Dir);
        var r = TrainCliTests.Run("train", TrainCliTests.WriteRecipe(Dir, 200), "--set", "name=straight");
        Assert.True(r.Code == 0, r.Err + r.Out);
        FinalModel = File.ReadAllBytes(Path.Combine(Dir, "straight", "final", "model.safetensors"));
    }

    public void Dispose()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }
}

/// <summary>End-to-end: the `sharpen train` command as a child process, as a user runs it.</summary>
[Collection("GlobalRng")]
public class TrainCliTests : IDisposable, IClassFixture<StraightRunFixture>
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "sharpen-cli-" + Guid.NewGuid().ToString("N"));
    readonly StraightRunFixture straight;

    public TrainCliTests(StraightRunFixture straight)
    {
        this.straight = straight;
        Directory.CreateDirectory(dir);
    }

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    string Recipe(long steps = 200) => WriteRecipe(dir, steps);

    internal static string WriteRecipe(string dir, long steps)
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

    // Started through `env --default-signal=INT`: a process started in the background by a shell without job control
    // inherits SIGINT ignored, and the runtime then never sees it.
    static ProcessStartInfo Cli(params string[] args)
    {
        var psi = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--default-signal=INT", "dotnet", Path.Combine(AppContext.BaseDirectory, "Sharpen.Cli.dll") }.Concat(args))
            psi.ArgumentList.Add(a);
        return psi;
    }

    internal static (int Code, string Out, string Err) Run(params string[] args)
    {
        using var p = Process.Start(Cli(args))!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output, err.Result);
    }

    /// <summary>A running `sharpen` whose output is collected as it comes.</summary>
    sealed class Child : IDisposable
    {
        readonly Process p;
        readonly StringBuilder output = new(), errors = new();

        public Child(params string[] args)
        {
            p = Process.Start(Cli(args))!;
            p.OutputDataReceived += (_, e) => { lock (output) output.AppendLine(e.Data); };
            p.ErrorDataReceived += (_, e) => { lock (errors) errors.AppendLine(e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
        }

        public int Id => p.Id;
        public bool HasExited => p.HasExited;
        public string Out { get { lock (output) return output.ToString(); } }
        public string Err { get { lock (errors) return errors.ToString(); } }

        /// <summary>Waits (up to a minute) until <paramref name="ready"/> holds, and asserts the process is still running then.</summary>
        public void WaitUntil(Func<bool> ready, string what)
        {
            var sw = Stopwatch.StartNew();
            while (!ready() && !p.HasExited && sw.Elapsed < TimeSpan.FromSeconds(60)) Thread.Sleep(5);
            Assert.False(p.HasExited, $"the run ended before {what}: {Err}{Out}");
            Assert.True(ready(), $"timed out waiting for {what}");
        }

        public void Signal(int signal) => Assert.Equal(0, kill(p.Id, signal));

        public int Exit()
        {
            p.WaitForExit();
            return p.ExitCode;
        }

        public void Dispose()
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
            p.WaitForExit();
            p.Dispose();
        }

        [DllImport("libc", SetLastError = true)]
        static extern int kill(int pid, int sig);
    }

    const int SIGINT = 2, SIGTERM = 15;

    List<long> TrainSteps(string run) =>
        MetricsReader.Read(Path.Combine(dir, run, MetricsWriter.FileName)).Where(r => r.Split == "train").Select(r => r.Step).ToList();

    [Fact]
    public void RunKilledMidwayAndResumedEndsWithTheSameWeightsBitForBit()
    {
        var recipe = Recipe();
        // Start the run, kill the whole process once checkpoint step-40 is on disk, then resume it.
        using (var p = new Child("train", recipe, "--set", "name=killed"))
        {
            p.WaitUntil(() => Directory.Exists(Path.Combine(dir, "killed", Checkpoint.Folder, "step-40")), "checkpoint 40");
        }
        var latest = Checkpoint.Latest(Path.Combine(dir, "killed"))!;
        var killedAt = long.Parse(Path.GetFileName(latest)["step-".Length..]);
        Assert.InRange(killedAt, 40, 180);
        Assert.False(Directory.Exists(Path.Combine(dir, "killed", "final")));

        var resumed = Run("train", recipe, "--set", "name=killed");
        Assert.True(resumed.Code == 0, resumed.Err + resumed.Out);
        Assert.Contains($"resumed from", resumed.Out);
        Assert.Equal(straight.FinalModel, File.ReadAllBytes(Path.Combine(dir, "killed", "final", "model.safetensors")));
        // The metrics of the resumed run have every step once.
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), TrainSteps("killed"));
    }

    [Fact]
    public void SigintAndSigtermStopAfterTheStepWithACheckpointAndTheResumedRunEndsWithTheSameBytes()
    {
        var recipe = Recipe();
        var run = Path.Combine(dir, "stopped");
        long stoppedAt;
        using (var p = new Child("train", recipe, "--set", "name=stopped"))
        {
            p.WaitUntil(() => Directory.Exists(Path.Combine(run, Checkpoint.Folder, "step-20")), "checkpoint 20");
            p.Signal(SIGINT);
            Assert.Equal(130, p.Exit());
            Assert.Contains("SIGINT: finishing the current step", p.Err);
            var line = p.Out.Split('\n').Single(l => l.StartsWith("stopped at step "));
            stoppedAt = long.Parse(line["stopped at step ".Length..line.IndexOf(" of ")]);
        }
        Assert.InRange(stoppedAt, 20, 180);
        Assert.Equal(Checkpoint.StepDir(run, stoppedAt), Checkpoint.Latest(run));        // a checkpoint of the step it stopped at
        Assert.True(File.Exists(Path.Combine(run, ReportWriter.FileName)));
        Assert.False(Directory.Exists(Path.Combine(run, "final")));
        Assert.Empty(Directory.GetDirectories(Path.Combine(run, Checkpoint.Folder), ".tmp-*"));
        Assert.Equal(Enumerable.Range(1, (int)stoppedAt).Select(i => (long)i), TrainSteps("stopped"));

        // Resumed, then stopped again with SIGTERM once it has logged its first step.
        using (var p = new Child("train", recipe, "--set", "name=stopped"))
        {
            p.WaitUntil(() => p.Out.Contains("resumed from") && TrainSteps("stopped").Contains(stoppedAt + 1), "the first resumed step");
            p.Signal(SIGTERM);
            Assert.Equal(143, p.Exit());
            Assert.Contains("SIGTERM: finishing the current step", p.Err);
        }
        var again = Checkpoint.StepOf(Checkpoint.Latest(run)!)!.Value;
        Assert.InRange(again, stoppedAt + 1, 199);

        var resumed = Run("train", recipe, "--set", "name=stopped");
        Assert.True(resumed.Code == 0, resumed.Err + resumed.Out);
        Assert.Contains($"resumed from {Checkpoint.StepDir(run, again)}", resumed.Out);
        Assert.Equal(straight.FinalModel, File.ReadAllBytes(Path.Combine(run, "final", "model.safetensors")));
        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), TrainSteps("stopped"));
    }

    [Fact]
    public void ASecondProcessOnALockedRunIsRefusedNamingTheHoldersPid()
    {
        var recipe = Recipe(steps: 100_000);
        var run = Path.Combine(dir, "tiny");
        using (var holder = new Child("train", recipe))
        {
            holder.WaitUntil(() => Directory.Exists(Path.Combine(run, Checkpoint.Folder, "step-20")), "checkpoint 20");
            var second = Run("train", recipe);
            Assert.Equal(1, second.Code);
            Assert.Contains($"is in use by process {holder.Id}", second.Err);
            Assert.False(holder.HasExited);
            Thread.Sleep(200);                                                          // the holder keeps logging undisturbed
        }
        // kill -9 released the lock: the next process resumes, and the holder's metrics have every step once.
        var steps = TrainSteps("tiny");
        Assert.Equal(Enumerable.Range(1, steps.Count).Select(i => (long)i), steps);
        var next = Run("train", recipe, "--set", "train.max_steps=20", "--allow-changes");
        Assert.True(next.Code == 0, next.Err + next.Out);
        Assert.Contains("resumed from", next.Out);
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
        string[] files = [MetricsWriter.FileName, ReportWriter.ConfigFileName, Path.Combine("final", "model.safetensors")];
        var before = files.Select(f => File.ReadAllBytes(Path.Combine(dir, "tiny", f))).ToList();
        var checkpoints = Checkpoint.List(Path.Combine(dir, "tiny"));

        var data = Path.Combine(dir, "data.jsonl");
        File.WriteAllLines(data, ["""{"prompt": "1+2=", "completion": "3"}""", """{"prompt": "2+2=", "completion": 4}""", """{"prompt": "3+2=", "completion": "5"}"""]);
        var tok = Path.Combine(dir, "init");                                    // a model with a tokenizer to start from
        CopyDirectory(Path.Combine(dir, "tiny", "final"), tok);
        // Resumed with the changes accepted, or started over: either way the data is read before the run is touched.
        foreach (var flag in new[] { "--allow-changes", "--fresh" })
        {
            var bad = Run("train", recipe, "--set", $"data.train={data}", "--set", $"model.init={tok}", "--set", "name=tiny", flag);
            Assert.Equal(1, bad.Code);
            Assert.Contains("data.jsonl:2", bad.Err);
            Assert.Contains("completion", bad.Err);
            Assert.Equal(before, files.Select(f => File.ReadAllBytes(Path.Combine(dir, "tiny", f))));
            Assert.Equal(checkpoints, Checkpoint.List(Path.Combine(dir, "tiny")));
        }

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

    static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
    }
}
