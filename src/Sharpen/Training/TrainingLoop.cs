namespace Sharpen.Training;

using System.Diagnostics;
using Sharpen.Torch;
using Sharpen.Torch.NN;
using Sharpen.Torch.Optim;

/// <summary>What a trainer plugs into the shared <see cref="TrainingLoop"/>.</summary>
public interface ITrainStep
{
    /// <summary>
    /// The loss of micro-batch <paramref name="micro"/> of optimiser step <paramref name="step"/> (a 0-dim tensor
    /// with gradient), called inside a <see cref="TensorScope"/> with grad enabled and the model in train mode.
    /// The loop divides it by the number of micro-batches and back-propagates.
    /// </summary>
    MicroResult Micro(long step, int micro);

    /// <summary>Evaluation metrics (called without grad, the model in eval mode). Empty when there is nothing to evaluate.</summary>
    IReadOnlyDictionary<string, double> Evaluate(long step);

    /// <summary>The trainer's resumable state (data cursor and the like) as text, saved in every checkpoint.</summary>
    string SaveState();

    /// <summary>Restores <see cref="SaveState"/>'s text when a run resumes.</summary>
    void LoadState(string state);
}

/// <summary>One micro-batch's loss [], its metrics (averaged over the step's micro-batches) and its token count.</summary>
public sealed record MicroResult(Tensor Loss, IReadOnlyDictionary<string, double> Metrics, long Tokens);

/// <summary>How a run ended.</summary>
/// <param name="Steps">Optimiser steps completed (including skipped non-finite ones).</param>
/// <param name="ResumedFrom">The step the run resumed from (0 for a fresh run).</param>
/// <param name="LastTrain">The last logged train metrics.</param>
/// <param name="LastEval">The last evaluation metrics.</param>
/// <param name="StartEval">Metrics of the evaluation before the first step (train.eval_at_start), else empty.</param>
public sealed record TrainResult(long Steps, long ResumedFrom, IReadOnlyDictionary<string, double> LastTrain, IReadOnlyDictionary<string, double> LastEval,
                                 IReadOnlyDictionary<string, double> StartEval);

/// <summary>A run stopped because the loss or the gradient stayed non-finite; the message says where its checkpoint is.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>
/// The loop every trainer shares: micro-batches with gradient accumulation, global grad-norm clipping,
/// AdamW with a learning-rate schedule, evaluation every N steps, metrics (metrics.jsonl, TensorBoard),
/// a progress bar, a non-finite guard (a step whose loss or gradient is NaN/Inf is skipped and counted;
/// after <see cref="TrainOptions.NanPatience"/> in a row the run stops with a checkpoint), complete atomic
/// checkpoints and exact resume (weights, optimiser, schedule, RNG, trainer state, step).
/// </summary>
public sealed class TrainingLoop
{
    readonly TrainOptions o;
    readonly Module model;
    readonly ITrainStep trainer;
    readonly string runDir;
    readonly IRunLogger logger;
    readonly TextWriter? progressOutput;

    /// <summary>A loop training <paramref name="model"/>'s parameters with <paramref name="trainer"/>'s loss.</summary>
    public TrainingLoop(TrainOptions options, Module model, ITrainStep trainer, string runDir, IRunLogger logger, TextWriter? progressOutput = null)
    {
        if (options.MaxSteps < 1) throw new ArgumentException($"train.max_steps must be ≥ 1, got {options.MaxSteps}");
        if (options.GradAccumSteps < 1) throw new ArgumentException($"train.grad_accum_steps must be ≥ 1, got {options.GradAccumSteps}");
        if (options.NanPatience < 1) throw new ArgumentException($"train.nan_patience must be ≥ 1, got {options.NanPatience}");
        o = options;
        this.model = model;
        this.trainer = trainer;
        this.runDir = runDir;
        this.logger = logger;
        this.progressOutput = progressOutput;
    }

    /// <summary>AdamW with weight decay on matrices only (norm weights and biases are not decayed).</summary>
    public static AdamW CreateOptimizer(Module model, TrainOptions o)
    {
        var ps = model.Parameters().ToList();
        var groups = new List<ParamGroup> { new(ps.Where(p => p.Dim >= 2), weightDecay: o.WeightDecay) };
        if (ps.Any(p => p.Dim < 2)) groups.Add(new ParamGroup(ps.Where(p => p.Dim < 2), weightDecay: 0));
        return new AdamW(groups, lr: o.Lr, beta1: o.Beta1, beta2: o.Beta2, eps: o.Eps, weightDecay: o.WeightDecay);
    }

    /// <summary>Runs to <see cref="TrainOptions.MaxSteps"/>, resuming from the newest checkpoint in the run directory when <paramref name="resume"/>.</summary>
    public TrainResult Run(bool resume = true)
    {
        if (o.Threads > 0) Torch.Threads = o.Threads;
        using var optimizer = CreateOptimizer(model, o);
        var scheduler = new LrScheduler(optimizer, LrSchedules.Create(o.Schedule, o.WarmupSteps, o.MaxSteps, o.MinLrRatio));
        long step = 0, nonFiniteTotal = 0;
        var nonFiniteInARow = 0;
        if (resume && Checkpoint.Latest(runDir) is { } latest)
        {
            var s = Checkpoint.Load(latest, model, optimizer);
            (step, nonFiniteInARow, nonFiniteTotal) = (s.Step, s.NonFiniteInARow, s.NonFiniteTotal);
            scheduler.StepCount = s.ScheduleStep;
            Generator.SetGlobalState(Convert.FromBase64String(s.RngState));
            trainer.LoadState(s.TrainerState);
            progressOutput?.WriteLine($"resumed from {latest} (step {step})");
        }
        var resumedFrom = step;
        IReadOnlyDictionary<string, double> lastTrain = new Dictionary<string, double>(), lastEval = lastTrain;
        IReadOnlyDictionary<string, double> startEval = new Dictionary<string, double>();
        if (o.EvalAtStart && step == 0) startEval = lastEval = Evaluate(0);
        var bar = progressOutput is null ? null : new ProgressBar("train", o.MaxSteps, progressOutput);
        var clip = o.MaxGradNorm > 0 ? o.MaxGradNorm : double.MaxValue;

        Checkpoint.State Snapshot() => new(step, scheduler.StepCount, Convert.ToBase64String(Generator.GetGlobalState()),
                                           trainer.SaveState(), nonFiniteInARow, nonFiniteTotal);

        while (step < o.MaxSteps)
        {
            var sw = Stopwatch.StartNew();
            model.Train();
            optimizer.ZeroGrad();
            var sums = new Dictionary<string, double>();
            double lossSum = 0;
            long tokens = 0;
            var finite = true;
            for (var micro = 0; micro < o.GradAccumSteps; micro++)
            {
                using var scope = new TensorScope();
                var r = trainer.Micro(step, micro);
                var loss = r.Loss.ToDouble();
                finite &= double.IsFinite(loss);
                lossSum += loss;
                tokens += r.Tokens;
                foreach (var (k, v) in r.Metrics) sums[k] = sums.GetValueOrDefault(k) + v;
                if (double.IsFinite(loss)) (r.Loss / o.GradAccumSteps).Backward();
            }
            var gradNorm = finite ? GradClip.ClipGradNorm(model.Parameters(), clip) : double.NaN;
            finite &= double.IsFinite(gradNorm);
            step++;
            if (finite)
            {
                optimizer.Step();
                nonFiniteInARow = 0;
            }
            else
            {
                nonFiniteInARow++;
                nonFiniteTotal++;
            }
            var lr = optimizer.Groups[0].Lr;
            scheduler.Step();
            optimizer.ZeroGrad();

            var metrics = sums.ToDictionary(kv => kv.Key, kv => kv.Value / o.GradAccumSteps);
            metrics["loss"] = lossSum / o.GradAccumSteps;
            metrics["lr"] = lr;
            metrics["grad_norm"] = gradNorm;
            metrics["tokens_per_s"] = tokens / sw.Elapsed.TotalSeconds;
            metrics["step_time_s"] = sw.Elapsed.TotalSeconds;
            metrics["skipped_steps"] = nonFiniteTotal;
            lastTrain = metrics;
            if (step % o.LogEvery == 0 || step == o.MaxSteps) logger.Log(step, "train", metrics);
            bar?.Report(step, new Dictionary<string, double> { ["loss"] = metrics["loss"], ["lr"] = lr });

            if (nonFiniteInARow >= o.NanPatience)
            {
                var at = Checkpoint.Save(runDir, model, optimizer, Snapshot(), o.KeepCheckpoints);
                bar?.Finish();
                throw new TrainingDivergedException(
                    $"stopped at step {step}: the loss or gradient was not finite for {nonFiniteInARow} steps in a row " +
                    $"(train.nan_patience = {o.NanPatience}); those steps were skipped. Checkpoint: {at}. " +
                    "Lower train.lr or check the data, then resume.");
            }
            if (o.EvalEvery > 0 && step % o.EvalEvery == 0 && step < o.MaxSteps) lastEval = Evaluate(step);
            if (o.SaveEvery > 0 && step % o.SaveEvery == 0 && step < o.MaxSteps)
                Checkpoint.Save(runDir, model, optimizer, Snapshot(), o.KeepCheckpoints);
        }
        bar?.Finish();
        if (step > resumedFrom || lastEval.Count == 0) lastEval = Evaluate(step);
        Checkpoint.Save(runDir, model, optimizer, Snapshot(), o.KeepCheckpoints);
        return new TrainResult(step, resumedFrom, lastTrain, lastEval, startEval);
    }

    IReadOnlyDictionary<string, double> Evaluate(long step)
    {
        model.Eval();
        IReadOnlyDictionary<string, double> m;
        using (Torch.NoGrad())
        using (new TensorScope())
            m = trainer.Evaluate(step);
        model.Train();
        if (m.Count > 0) logger.Log(step, "eval", m);
        return m;
    }
}
