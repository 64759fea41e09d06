using System.Text.Json;
using Sharpen.Data;
using Sharpen.Data.Tasks;
using Sharpen.Torch;
using Sharpen.Torch.Optim;
using Sharpen.Training;

namespace Sharpen.Bench;

using Torch = Sharpen.Torch.Torch;

/// <summary>
/// One GRPO step of the quickstart-size model (recipes/quickstart.yaml: Llama, 2 layers, hidden 128, 4/2 heads,
/// MLP 352, the verifiable-task vocabulary, tied embeddings; random init) driven through <see cref="OnlineTrainer"/>:
/// 16 fixed two-digit "a+b=" prompts × 8 samples at temperature 1, KV-cached, up to 6 new tokens; the exact-sum
/// reward; group-normalised advantages; a no-grad forward for ℓ^old, then PPO-clip (ε 0.2, dual clip 3),
/// seq-mean-token-mean, backward, grad-norm clip 1.0 and AdamW. No KL term, no mismatch correction.
/// The same work as bench/python/grpo_step.py. Prints the median step, generation, reward and update
/// (the rest of the step) times in ms after warm-up, and the mean completion length.
/// </summary>
static class GrpoStep
{
    const int Prompts = 16, Samples = 8, NewTokens = 6, WarmUp = 2, Steps = 10;

    /// <summary>The online recipe of the step; its 16 training problems are the fixed prompts.</summary>
    public static Recipe Recipe(string runsDir) => new()
    {
        Name = "grpo-bench", RunsDir = runsDir, Method = "online",
        Model = { Init = "new", Layers = 2, Hidden = 128, Heads = 4, KvHeads = 2, MaxLength = 16 },
        Data = { Digits = 2, BuiltinSize = Prompts },
        Online =
        {
            NSamples = Samples, PromptsPerStep = Prompts, MaxNewTokens = NewTokens, Temperature = 1.0,
            Estimator = "grpo", GrpoScale = "group", PolicyLoss = "ppo_clip", Aggregation = "seq_mean_token_mean",
            KlCoef = 0, Correction = "none", EvalPrompts = 0, LogSamples = 0,
        },
        Train = { Lr = 3e-4, MaxGradNorm = 1.0, Seed = 0 },
    };

    /// <summary>
    /// Writes the task for the Python side as JSON: the prompts' token ids, their answers, the EOS and pad ids and
    /// each token id's text (special tokens empty), so that it decodes and verifies completions as Sharpen does.
    /// </summary>
    public static void WriteTask(string path)
    {
        var r = Recipe(Path.GetTempPath());
        var tok = VerifiableTasks.Tokenizer();
        var problems = VerifiableTasks.Get(r.Online.Task, r.Data.Digits).Problems(r.Data.BuiltinSize, (ulong)r.Train.Seed);
        var options = ModelSetup.TokenizeOptions(r);
        File.WriteAllText(path, JsonSerializer.Serialize(new
        {
            prompts = problems.Select(p => Tokenize.Prompt(p.Prompt, tok, options)),
            answers = problems.Select(p => p.Answer),
            eos = tok.EosId,
            pad = tok.PadId,
            vocab = Enumerable.Range(0, tok.VocabSize).Select(i => tok.Decode([i], skipSpecialTokens: true)),
        }));
    }

    /// <summary>Runs the warm-up and timed steps on <paramref name="threads"/> threads and prints the figures.</summary>
    public static int Run(int threads)
    {
        Torch.Threads = threads;
        var runs = Path.Combine(Path.GetTempPath(), "sharpen-bench-grpo-" + Environment.ProcessId);
        var r = Recipe(runs);
        Torch.Seed((ulong)r.Train.Seed);
        using var trainer = new OnlineTrainer(r, Path.Combine(runs, r.Name), TextWriter.Null);
        using var opt = TrainingLoop.CreateOptimizer(trainer.Model, r.Train);

        // One iteration: rollout (generate, score, ℓ^old, advantages) inside Micro, then the update. Seconds.
        (double Step, double Generate, double Reward, double Length) Step(long step)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            using var scope = new TensorScope();
            var micro = trainer.Micro(step, 0);
            opt.ZeroGrad();
            micro.Loss.Backward();
            GradClip.ClipGradNorm(trainer.Model.Parameters(), r.Train.MaxGradNorm);
            opt.Step();
            var seconds = Report.Seconds(start);
            return (seconds, micro.Metrics["time/generate_s"], micro.Metrics["time/reward_s"], micro.Metrics["response_length"]);
        }

        for (var i = 0; i < WarmUp; i++) Step(i);
        var runsOf = Enumerable.Range(WarmUp, Steps).Select(i => Step(i)).ToList();
        Report.Result("step", Report.Median(runsOf.Select(x => x.Step)) * 1e3);
        Report.Result("generate", Report.Median(runsOf.Select(x => x.Generate)) * 1e3);
        Report.Result("reward", Report.Median(runsOf.Select(x => x.Reward)) * 1e3);
        Report.Result("update", Report.Median(runsOf.Select(x => x.Step - x.Generate - x.Reward)) * 1e3);
        Report.Result("response_length", runsOf.Average(x => x.Length));
        if (Directory.Exists(runs)) Directory.Delete(runs, recursive: true);
        return 0;
    }
}
