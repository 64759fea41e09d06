namespace Sharpen.Tests;

using System.Text.Json.Nodes;
using Sharpen.Algorithms.Reward;
using Sharpen.Data;
using Sharpen.Models;
using Sharpen.Torch;
using Sharpen.Training;

/// <summary>
/// The reward-model trainer on the built-in arithmetic pairs: held-out accuracy after a short run, loss and parameter
/// movement (ensemble with bootstrap and centring), evaluation against scores computed outside the trainer, the
/// saved Hugging Face checkpoint read back with <see cref="HfCheckpoint.LoadScalarHead"/>, and a trunk taken from a
/// causal LM checkpoint.
/// </summary>
[Collection("GlobalRng")]
public class RewardTrainerTests : IDisposable
{
    readonly string dir = Path.Combine(Path.GetTempPath(), "sharpen-rm-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    /// <summary>One-digit sums: 100 distinct prompts, so a small fresh model learns to rank right over near-miss answers in seconds.</summary>
    Recipe Recipe(long steps, int heads = 1, string aggregation = "mean", int hidden = 128) => new()
    {
        Name = "rm",
        RunsDir = dir,
        Method = "reward",
        Model = { Layers = 2, Hidden = hidden, Heads = 4, KvHeads = 2, MaxLength = 16 },
        Data = { Train = "builtin:arithmetic-pairs", BuiltinSize = 2000, Digits = 1 },
        Train = { MaxSteps = steps, MicroBatchSize = 32, Lr = 1e-3, WeightDecay = 0.01, WarmupSteps = Math.Min(20, steps), Schedule = "cosine", Seed = Learning.Seed(0) },
        Reward = { Heads = heads, Aggregation = aggregation, CenterCoef = 0.01 },
    };

    sealed class MemoryLogger : IRunLogger
    {
        public readonly List<(long Step, string Split, IReadOnlyDictionary<string, double> Values)> Records = [];
        public bool IsMain => true;
        public void Log(long step, string split, IReadOnlyDictionary<string, double> metrics) => Records.Add((step, split, metrics));
        public void Dispose() { }
    }

    static RewardTrainer NewTrainer(Recipe r)
    {
        Torch.Seed((ulong)r.Train.Seed);
        return new RewardTrainer(r, TextWriter.Null);
    }

    static IReadOnlyDictionary<string, double> Evaluate(RewardTrainer t)
    {
        t.Model.Eval();
        using var _ = Torch.NoGrad();
        using var scope = new TensorScope();
        var m = t.Evaluate(0);
        t.Model.Train();
        return m;
    }

    /// <summary>The held-out pairs as the trainer builds them (the recipe's split and tokenisation).</summary>
    static List<PairExample> EvalPairs(Recipe r, ITokenizer tok) =>
        Tokenize.Pairs(ModelSetup.Split(r, TextWriter.Null).Eval.Cast<PreferencePairRecord>(), tok, ModelSetup.TokenizeOptions(r), out _);

    [Fact]
    public void HeldOutPairwiseAccuracyExceedsNinetyPercentOnTheBuiltinTask()
    {
        var result = Runner.Run(Recipe(300), TextWriter.Null, fresh: true);
        Learning.Record("rm-accuracy", $"accuracy {result.LastEval["accuracy"]:F3} margin {result.LastEval["margin"]:F3}");
        // Measured over seed offsets 0–4 (bench/learning_seeds.sh): accuracy 0.970–0.995, margin 3.87–4.69.
        Assert.True(result.LastEval["accuracy"] > 0.9, $"held-out accuracy {result.LastEval["accuracy"]}");
        Assert.True(result.LastEval["margin"] > 1, $"held-out margin {result.LastEval["margin"]}");
        Assert.True(File.Exists(Path.Combine(dir, "rm", "final", HfCheckpoint.WeightsFile)));
    }

    [Fact]
    public void EnsembleWithBootstrapLowersTheLossAndMovesEveryParameter()
    {
        var r = Recipe(150, heads: 3, aggregation: "uwo", hidden: 64);
        r.Reward.Bootstrap = true;
        using var t = NewTrainer(r);
        var before = t.Model.NamedParameters().ToDictionary(p => p.Name, p => p.Value.ToArray<float>());
        var evalBefore = Evaluate(t);
        var log = new MemoryLogger();
        var result = new TrainingLoop(r.Train, t.Model, t, Path.Combine(dir, "loop"), log).Run();

        var train = log.Records.Where(x => x.Split == "train").Select(x => x.Values["loss"]).ToList();
        Assert.Equal(150, train.Count);
        Learning.Record("rm-ensemble-loss", $"train ratio {train.TakeLast(10).Average() / train.Take(10).Average():F3} eval drop {evalBefore["loss"] - result.LastEval["loss"]:F3}");
        // Measured over seed offsets 0–4 (bench/learning_seeds.sh): train loss ratio 0.47–0.68, eval drop 0.21–0.35.
        Assert.True(train.TakeLast(10).Average() < 0.9 * train.Take(10).Average(), $"train loss {train.Take(10).Average()} → {train.TakeLast(10).Average()}");
        Assert.True(result.LastEval["loss"] < evalBefore["loss"] - 0.1, $"eval loss {evalBefore["loss"]} → {result.LastEval["loss"]}");
        foreach (var (name, p) in t.Model.NamedParameters())
        {
            var changed = before[name].Zip(p.ToArray<float>()).Count(x => x.First != x.Second);
            Assert.True(changed == before[name].Length, $"{name}: {changed} of {before[name].Length} elements changed");
        }
        for (var k = 0; k < 3; k++) Assert.InRange(result.LastEval[$"accuracy_head_{k}"], 0.0, 1.0);
    }

    [Fact]
    public void EvaluationMatchesMetricsComputedFromTheModelsScores()
    {
        var r = Recipe(1, heads: 3, aggregation: "wco", hidden: 64);
        using var t = NewTrainer(r);
        var m = Evaluate(t);

        var pairs = EvalPairs(r, t.Tokenizer);
        float[] scores;
        using (Torch.NoGrad())
        using (var scope = new TensorScope())
        {
            t.Model.Eval();
            using var batch = Collate.Pairs(pairs, t.Tokenizer.PadId ?? 0);
            scores = t.RewardModel.SequenceScoresAll(batch.Ids, batch.AttentionMask).ToArray<float>();   // [2B·K]
            t.Model.Train();
        }
        int n = pairs.Count, heads = 3;
        double Score(int row, int k) => scores[row * heads + k];
        double Wco(int row) => Enumerable.Range(0, heads).Min(k => Score(row, k));
        double LogSig(double x) => -Math.Log(1 + Math.Exp(-x));
        var loss = Enumerable.Range(0, n).Average(i => Enumerable.Range(0, heads).Average(k =>
            -LogSig(Score(i, k) - Score(n + i, k)) + 0.01 * Math.Pow(Score(i, k) + Score(n + i, k), 2)));
        var rewards = Enumerable.Range(0, 2 * n).Select(Wco).ToArray();
        var mean = rewards.Average();
        Assert.Equal(loss, m["loss"], 5);
        Assert.Equal(Enumerable.Range(0, n).Average(i => Wco(i) > Wco(n + i) ? 1.0 : 0.0), m["accuracy"], 12);
        Assert.Equal(Enumerable.Range(0, n).Average(i => Wco(i) - Wco(n + i)), m["margin"], 5);
        Assert.Equal(mean, m["reward_mean"], 5);
        Assert.Equal(Math.Sqrt(rewards.Average(x => (x - mean) * (x - mean))), m["reward_std"], 5);
        for (var k = 0; k < heads; k++)
            Assert.Equal(Enumerable.Range(0, n).Average(i => Score(i, k) > Score(n + i, k) ? 1.0 : 0.0), m[$"accuracy_head_{k}"], 12);
        Assert.Equal(200, n);   // 10% of 2000 pairs held out
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void SavedRewardModelLoadsWithLoadScalarHeadAndScoresIdentically(int heads)
    {
        var r = Recipe(5, heads, hidden: 64);
        using var t = NewTrainer(r);
        new TrainingLoop(r.Train, t.Model, t, Path.Combine(dir, "loop"), NullRunLogger.Instance).Run();
        var final = Path.Combine(dir, "final");
        t.SaveFinal(final);

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(final, "config.json")))!;
        Assert.Equal(heads, config["num_labels"]!.GetValue<int>());
        Assert.Equal("LlamaForSequenceClassification", config["architectures"]![0]!.GetValue<string>());
        using var loaded = HfCheckpoint.LoadScalarHead(final);
        Assert.Equal(heads, loaded.Heads);
        var tok = TokenizerLoader.Load(final);
        using var _ = Torch.NoGrad();
        using var scope = new TensorScope();
        t.Model.Eval();
        using var batch = Collate.Pairs(EvalPairs(r, tok).Take(16).ToList(), tok.PadId ?? 0);
        var expected = t.RewardModel.SequenceScoresAll(batch.Ids, batch.AttentionMask).ToArray<float>();
        Assert.Equal(expected, loaded.SequenceScoresAll(batch.Ids, batch.AttentionMask).ToArray<float>());
        if (heads == 1) Assert.Equal(expected, loaded.SequenceScores(batch.Ids, batch.AttentionMask).ToArray<float>());
        Assert.Contains(expected, s => s != expected[0]);
    }

    [Fact]
    public void TrunkComesFromACausalLmCheckpointWithItsLmHeadDropped()
    {
        var r = Recipe(1, heads: 2, hidden: 64);
        var tok = ModelSetup.NewTokenizer(r);
        var config = ModelSetup.NewConfig(r, tok);
        config.TieWordEmbeddings = false;                 // an lm_head.weight in the checkpoint, which the reward model drops
        var lmDir = Path.Combine(dir, "lm");
        Torch.Seed(11);
        using (var lm = new CausalLM(config))
        {
            HfCheckpoint.Save(lm, config, lmDir, tok);
            r.Model.Init = lmDir;
            using var t = NewTrainer(r);
            using (new TensorScope())
            {
                var trunk = lm.Model.StateDict();
                foreach (var (name, p) in t.RewardModel.Model.StateDict())
                    Assert.Equal(trunk[name].ToArray<float>(), p.ToArray<float>());
            }
            Assert.Equal(2, t.RewardModel.Heads);

            // A saved reward model continues as it is, and its head count must match reward.heads.
            var rmDir = Path.Combine(dir, "rm-init");
            t.SaveFinal(rmDir);
            r.Model.Init = rmDir;
            using (var again = NewTrainer(r))
            using (new TensorScope())
                Assert.Equal(t.RewardModel.StateDict()["score.weight"].ToArray<float>(), again.RewardModel.StateDict()["score.weight"].ToArray<float>());
            r.Reward.Heads = 3;
            Assert.Contains("2 head(s)", Assert.Throws<ArgumentException>(() => NewTrainer(r)).Message);
        }
    }

    [Fact]
    public void UnknownAggregationAndNonPairDataAreErrorsThatNameThem()
    {
        var r = Recipe(1, aggregation: "median");
        Assert.Contains("median", Assert.Throws<ArgumentException>(() => NewTrainer(r)).Message);
        r.Reward.Aggregation = "mean";
        r.Data.Train = "builtin:arithmetic";
        Assert.Contains("preference pairs", Assert.Throws<ArgumentException>(() => NewTrainer(r)).Message);
        Assert.Contains("reward", Trainers.Registry.Names);
        Assert.Contains("bradley_terry", RewardLosses.Registry.Names);
    }
}
