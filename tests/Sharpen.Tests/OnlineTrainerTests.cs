namespace Sharpen.Tests;

using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Sharpen.Data;
using Sharpen.Data.Tasks;
using Sharpen.Models;
using Sharpen.Torch;
using Sharpen.Training;
using Xunit.Abstractions;

/// <summary>
/// A tiny policy warmed up by SFT on one-digit addition whose demonstrations write 70 % of the answers with a leading
/// zero ("3+4=" → "07"), which the verifier rejects. The model learns the sums and the habit: greedy decoding starts
/// with "0" on every held-out prompt (exact accuracy 0 at every seed measured), while 30 % of samples at temperature 1
/// do not. RL can raise accuracy by unlearning a habit that every prompt shares — a fast signal that is large against
/// its spread over seeds at this model size (RL gains on the clean task's arithmetic come far more slowly; docs/online.md).
/// </summary>
public sealed class OnlineWarmup : IDisposable
{
    /// <summary>Share of the demonstrations written with a leading zero.</summary>
    public const double ZeroRate = 0.7;

    /// <summary>Scratch folder of the fixture; each test makes its runs below it.</summary>
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), "sharpen-online-" + Guid.NewGuid().ToString("N"));

    /// <summary>The SFT model (Hugging Face layout).</summary>
    public string Model => Path.Combine(Dir, "sft", "final");

    public OnlineWarmup()
    {
        Directory.CreateDirectory(Dir);
        var rng = new SplitMix64((ulong)Learning.Seed(5));
        var lines = VerifiableTasks.Get("addition", 1).Problems(4000, (ulong)Learning.Seed(5)).Select(p => new JsonObject
        {
            ["prompt"] = p.Prompt.Text, ["completion"] = (rng.NextDouble() < ZeroRate ? "0" : "") + p.Answer,
        }.ToJsonString());
        var data = Path.Combine(Dir, "zeros.jsonl");
        File.WriteAllLines(data, lines);

        var sft = new Recipe
        {
            Name = "sft", RunsDir = Dir, Method = "sft",
            Model = { Init = Path.Combine(Dir, "fresh"), MaxLength = 12 },
            Data = { Train = data, EvalFraction = 0.02 },
            Train = { MaxSteps = 700, MicroBatchSize = 32, Lr = 5e-3, WarmupSteps = 10, Seed = Learning.Seed(1) },
        };
        var tok = VerifiableTasks.Tokenizer();
        var config = ModelSetup.NewConfig(new Recipe { Model = { Layers = 2, Hidden = 64, Heads = 4, KvHeads = 2, MaxLength = 12 } }, tok);
        Torch.Seed((ulong)Learning.Seed(1));
        using (var fresh = new CausalLM(config)) HfCheckpoint.Save(fresh, config, sft.Model.Init, tok);
        Runner.Run(sft, TextWriter.Null);
    }

    /// <summary>An online recipe on one-digit addition from the warmed-up model.</summary>
    public Recipe Online(string name, int maxSteps = 1) => new()
    {
        Name = name, RunsDir = Dir, Method = "online",
        Model = { Init = Model },
        Data = { Digits = 1, BuiltinSize = 2000 },
        Online = { NSamples = 8, PromptsPerStep = 16, MaxNewTokens = 5, EvalPrompts = 40 },
        Train = { MaxSteps = maxSteps, Lr = 3e-4, WarmupSteps = 5, Schedule = "constant", Seed = Learning.Seed(3) },
    };

    public void Dispose()
    {
        if (Directory.Exists(Dir)) Directory.Delete(Dir, recursive: true);
    }
}

[Collection("GlobalRng")]
public class OnlineTrainerTests(OnlineWarmup warm, ITestOutputHelper output) : IClassFixture<OnlineWarmup>
{
    // One iteration's micro-batch 0 of step 0, outside the loop: the rollout metrics of the first update.
    static IReadOnlyDictionary<string, double> FirstUpdate(OnlineTrainer trainer)
    {
        using var scope = new TensorScope();
        return trainer.Micro(0, 0).Metrics;
    }

    static OnlineTrainer Build(Recipe r)
    {
        Torch.Seed((ulong)r.Train.Seed);
        return new OnlineTrainer(r, Path.Combine(r.RunsDir, r.Name), TextWriter.Null);
    }

    [Fact]
    public void GrpoRaisesHeldOutGreedyAccuracyOverItsSftStart()
    {
        var r = warm.Online("grpo", maxSteps: 30);
        r.Online.EvalPrompts = 100;
        using var trainer = Build(r);
        var start = trainer.InitialAccuracy;
        Assert.InRange(start, 0.0, 0.1);
        var result = new TrainingLoop(r.Train, trainer.Model, trainer, Path.Combine(r.RunsDir, r.Name), NullRunLogger.Instance).Run(resume: false);
        var end = result.LastEval["accuracy"];
        output.WriteLine($"held-out greedy accuracy {start:F3} → {end:F3}");
        Learning.Record("grpo-raises-accuracy", $"{start:F3} → {end:F3} gain {end - start:F3}");
        // Measured over seed offsets 0–4 (bench/learning_seeds.sh): 0.000 → 0.912–1.000.
        Assert.True(end >= start + 0.6, $"held-out greedy accuracy {start:F3} → {end:F3}");
    }

    [Fact]
    public void PpoWithACriticRaisesHeldOutGreedyAccuracy()
    {
        var r = warm.Online("ppo", maxSteps: 40);
        r.Online.EvalPrompts = 100;
        r.Online.Estimator = "gae";
        r.Online.Critic = "shared";
        r.Online.NSamples = 2;
        r.Online.PpoEpochs = 2;
        r.Online.MinibatchSize = 16;
        r.Online.KlCoef = 0.01;
        r.Online.KlIn = "reward";
        using var trainer = Build(r);
        Assert.Equal(4, trainer.UpdatesPerIteration);
        var start = trainer.InitialAccuracy;
        var result = new TrainingLoop(r.Train, trainer.Model, trainer, Path.Combine(r.RunsDir, r.Name), NullRunLogger.Instance).Run(resume: false);
        var end = result.LastEval["accuracy"];
        output.WriteLine($"held-out greedy accuracy {start:F3} → {end:F3}");
        Learning.Record("ppo-raises-accuracy", $"{start:F3} → {end:F3} gain {end - start:F3}");
        // Measured over seed offsets 0–4 (bench/learning_seeds.sh): 0.000 → 0.809–0.984.
        Assert.True(end >= start + 0.5, $"held-out greedy accuracy {start:F3} → {end:F3}");
        Assert.True(result.LastTrain["value_loss"] > 0);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.7)]
    public void BehaviourLogProbsEqualTheRecomputedOldLogProbs(double temperature)
    {
        var r = warm.Online("logp");
        r.Online.Temperature = temperature;
        r.Online.EvalPrompts = 0;
        using var trainer = Build(r);
        var m = FirstUpdate(trainer);
        Assert.True(m["logp_diff_max"] < 1e-4, $"max |ℓ_old − ℓ_roll| = {m["logp_diff_max"]}");
        Assert.True(m["logp_diff"] < 1e-5, $"mean |ℓ_old − ℓ_roll| = {m["logp_diff"]}");
        Assert.Equal(1.0, m["correction/mean_weight"], 4);     // sequence weights exp(Σ Δℓ) ≈ 1, none masked
        Assert.Equal(0.0, m["ppo_kl"], 6);                       // the first minibatch is on-policy: ρ = 1
        Assert.Equal(0.0, m["clipfrac"]);
    }

    [Fact]
    public void DynamicSamplingLeavesNoZeroVarianceGroupInTheBuffer()
    {
        static bool Constant(RolloutSummary s, int g) =>
            s.Rewards.Where((_, i) => s.GroupIds[i] == g).Distinct().Count() == 1;

        var r = warm.Online("plain");
        (r.Online.NSamples, r.Online.EvalPrompts) = (4, 0);
        using (var plain = Build(r))
        {
            var m = FirstUpdate(plain);
            Assert.True(m["zero_std_groups"] > 0, "without dynamic sampling the batch should hold zero-variance groups");
            Assert.Contains(Enumerable.Range(0, 16), g => Constant(plain.LastRollout!, g));
        }
        r.Online.DynamicSampling = true;
        r.Online.MaxGenRounds = 8;
        using var dynamic = Build(r);
        var d = FirstUpdate(dynamic);
        var s = dynamic.LastRollout!;
        Assert.Equal(64, s.Rewards.Length);
        Assert.DoesNotContain(Enumerable.Range(0, 16), g => Constant(s, g));
        Assert.Equal(0, d["dynamic/filled_groups"]);
        Assert.True(d["dynamic/rounds"] >= 2);
    }

    [Fact]
    public void MaskTruncatedLeavesLengthFinishedCompletionsOutOfTheLoss()
    {
        var r = warm.Online("truncated");
        (r.Online.MaxNewTokens, r.Online.EvalPrompts, r.Online.MaskTruncated) = (2, 0, true);
        using var trainer = Build(r);
        FirstUpdate(trainer);
        var s = trainer.LastRollout!;
        Assert.Contains(true, s.Truncated);
        Assert.Contains(false, s.Truncated);
        for (var i = 0; i < s.Truncated.Length; i++)
            Assert.Equal(s.Truncated[i] ? 0 : s.CompletionTokens[i], s.LossTokens[i]);

        r.Online.MaskTruncated = false;
        using var unmasked = Build(r);
        FirstUpdate(unmasked);
        Assert.Equal(unmasked.LastRollout!.CompletionTokens, unmasked.LastRollout.LossTokens);
    }

    [Fact]
    public void OverlongPenaltyFollowsDapo()
    {
        var r = warm.Online("overlong");
        (r.Online.MaxNewTokens, r.Online.OverlongBuffer, r.Online.OverlongFactor, r.Online.EvalPrompts) = (4, 2, 0.5, 0);
        using var trainer = Build(r);
        FirstUpdate(trainer);
        var s = trainer.LastRollout!;
        // L_exp = 4 − 2: a completion of |y| tokens loses min(|y| − 2, 2)/2 · 0.5 beyond 2 tokens; the rest is the verdict.
        for (var i = 0; i < s.Rewards.Length; i++)
        {
            var penalty = s.CompletionTokens[i] > 2 ? -Math.Min(s.CompletionTokens[i] - 2, 2) / 2.0 * 0.5 : 0;
            Assert.Contains(s.Rewards[i] - penalty, new[] { 0.0, 1.0 });
        }
        Assert.Contains(s.CompletionTokens, n => n > 2);
    }

    [Fact]
    public void RolloutMetricsSamplesAndEvaluationAreWritten()
    {
        var r = warm.Online("metrics", maxSteps: 4);
        (r.Online.MinibatchSize, r.Online.KlCoef, r.Online.KlIn, r.Online.EvalPrompts) = (64, 0.01, "loss", 20);
        (r.Online.Estimator, r.Online.Critic) = ("gae", "shared");
        r.Train.SaveEvery = 2;
        Runner.Run(r, TextWriter.Null, fresh: true);
        var records = MetricsReader.Read(Path.Combine(r.RunsDir, r.Name, MetricsWriter.FileName));
        var train = records.Where(x => x.Split == "train").ToList();
        Assert.Equal(new long[] { 1, 2, 3, 4 }, train.Select(x => x.Step));
        string[] rollout = ["reward/mean", "reward/std", "accuracy", "parse_fail", "kl", "kl_coef", "logp_diff", "response_length",
                            "truncated", "zero_std_groups", "time/generate_s", "time/reward_s", "time/logprob_s", "gen_tokens_per_s"];
        string[] update = ["pg_loss", "entropy", "clipfrac", "approx_kl", "value_loss", "vf_clipfrac", "tokens_per_s", "loss"];
        foreach (var k in rollout)
        {
            Assert.True(train[0].Values.ContainsKey(k) && train[2].Values.ContainsKey(k), $"{k} missing on the iteration steps");
            Assert.False(train[1].Values.ContainsKey(k), $"{k} reported on a step that generated nothing");
        }
        Assert.True(train[2].Values.ContainsKey("time/update_s"));
        foreach (var k in update) Assert.All(train, x => Assert.True(x.Values.ContainsKey(k), $"{k} missing at step {x.Step}"));
        Assert.Contains(records, x => x.Split == "eval" && x.Values.ContainsKey("accuracy"));
        var samples = File.ReadAllLines(Path.Combine(r.RunsDir, r.Name, "samples.jsonl"));
        Assert.Equal(2 * r.Online.LogSamples, samples.Length);
        Assert.StartsWith("{\"step\":1,\"prompt\":\"", samples[0]);
        Assert.Contains("+", samples[0]);
        // The final model is a plain causal LM (the value head is not saved with it).
        using var final = HfCheckpoint.LoadCausalLM(Path.Combine(r.RunsDir, r.Name, "final"));
    }

    [Fact]
    public void ResumingAtAnIterationBoundaryMatchesAnUninterruptedRun()
    {
        float[] FinalWeights(string name, params long[] stops)
        {
            foreach (var steps in stops)
            {
                var r = warm.Online(name, maxSteps: (int)steps);
                (r.Online.MinibatchSize, r.Online.EvalPrompts, r.Online.KlCoef) = (64, 0, 0.05);
                r.Online.KlTarget = 0.01;                                         // adaptive β is part of the state
                Runner.Run(r, TextWriter.Null, new RunOptions { AllowChanges = true });   // max_steps grows; the schedule is constant
            }
            using var m = HfCheckpoint.LoadCausalLM(Path.Combine(warm.Dir, name, "final"));
            return m.StateDict().Values.SelectMany(t => t.ToArray<float>()).ToArray();
        }
        var straight = FinalWeights("straight", 4);
        var resumed = FinalWeights("resumed", 2, 4);
        Assert.Equal(straight, resumed);
    }

    [Fact]
    public void StepCountsOffIterationBoundariesAreRejected()
    {
        var r = warm.Online("bad", maxSteps: 3);
        r.Online.MinibatchSize = 64;                                               // 2 updates per iteration
        var e = Assert.Throws<ArgumentException>(() => Build(r));
        Assert.Contains("train.max_steps = 3", e.Message);
        r.Train.MaxSteps = 4;
        r.Train.SaveEvery = 3;
        e = Assert.Throws<ArgumentException>(() => Build(r));
        Assert.Contains("train.save_every = 3", e.Message);
        r.Train.SaveEvery = 0;
        r.Online.Estimator = "gae";
        e = Assert.Throws<ArgumentException>(() => Build(r));
        Assert.Contains("online.critic = shared", e.Message);
    }

    static string RepositoryRoot([CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

    [Fact]
    public void EveryOnlinePresetRunsAnIteration()
    {
        var root = RepositoryRoot();
        string[] presets = ["ppo", "grpo", "dr_grpo", "dapo", "lite_ppo", "rloo", "reinforce_pp", "remax", "gspo", "cispo"];
        foreach (var name in presets)
        {
            var r = ConfigBinder.Load<Recipe>(Path.Combine(root, "recipes", name + ".yaml"),
                [$"model.init={warm.Model}", "online.eval_prompts=0", $"runs_dir={warm.Dir}", "data.digits=1"]);
            Assert.Equal("online", r.Method);
            using var trainer = Build(r);
            var m = FirstUpdate(trainer);
            Assert.True(double.IsFinite(m["pg_loss"]), $"{name}: pg_loss {m["pg_loss"]}");
            Assert.True(m["logp_diff_max"] < 1e-4, $"{name}: |Δℓ| {m["logp_diff_max"]}");
        }
    }
}
