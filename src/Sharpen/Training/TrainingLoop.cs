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

    /// <summary>
    /// Whether a checkpoint written after optimiser step <paramref name="step"/> resumes exactly (online RL: only at the
    /// end of an iteration). A stop request (<see cref="TrainingLoop.Stop"/>) runs on to the next such step.
    /// </summary>
    bool ResumesExactlyAfter(long step) => true;
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
                                 IReadOnlyDictionary<string, double> StartEval)
{
    /// <summary>True when the run stopped early on request (<see cref="TrainingLoop.Stop"/>), with a checkpoint, before max_steps.</summary>
    public bool Stopped { get; init; }
}

/// <summary>
/// A run stopped because the loss or gradient stayed non-finite or the weights stopped being finite. The message says
/// what happened and which checkpoint to resume from.
/// </summary>
/// <param name="message">What happened and what to do.</param>
/// <param name="step">The step the run stopped at.</param>
/// <param name="goodCheckpoint">The last good checkpoint's folder (finite weights, a healthy step after it), or null when there is none.</param>
public sealed class TrainingDivergedException(string message, long step = 0, string? goodCheckpoint = null) : Exception(message)
{
    /// <summary>The step the run stopped at.</summary>
    public long Step { get; } = step;

    /// <summary>The last good checkpoint's folder, or null when there is none.</summary>
    public string? GoodCheckpoint { get; } = goodCheckpoint;
}

/// <summary>
/// The loop every trainer shares: micro-batches with gradient accumulation, global grad-norm clipping,
/// AdamW with a learning-rate schedule, evaluation every N steps, metrics (metrics.jsonl, TensorBoard),
/// a progress bar, complete atomic checkpoints and exact resume (weights, optimiser, schedule, RNG, trainer state, step).
/// <para>
/// Non-finite guard: a step whose loss or gradient is NaN/Inf is skipped and counted; after
/// <see cref="TrainOptions.NanPatience"/> in a row (counted from the start of each resumed segment), or as soon as the
/// weights themselves are not finite (checked before every checkpoint and at the end), the run stops with
/// <see cref="TrainingDivergedException"/>. Non-finite weights are never saved.
/// </para>
/// <para>
/// Checkpoint health: a checkpoint is <i>good</i> once the step after it, which runs on its weights, has a finite loss and
/// gradient and a gradient norm at most <see cref="SpikeFactor"/> × the median of the last <see cref="SpikeWindow"/>
/// healthy steps; it then gets <see cref="Checkpoint.GoodFile"/>. The newest good checkpoint is never rotated away by
/// train.keep_checkpoints, and when the run diverges the checkpoints newer than it are renamed <c>diverged-step-N</c>,
/// so that a rerun resumes from it.
/// </para>
/// <para>
/// A stop request (<see cref="Stop"/>) ends the run after the current step (online RL: at the end of the iteration)
/// with a checkpoint; the result then has <see cref="TrainResult.Stopped"/>.
/// </para>
/// </summary>
public sealed class TrainingLoop
{
    /// <summary>A step whose gradient norm exceeds this multiple of the recent median does not confirm the checkpoint before it.</summary>
    public const double SpikeFactor = 10;

    /// <summary>Healthy steps whose gradient norms make up the median <see cref="SpikeFactor"/> compares with.</summary>
    public const int SpikeWindow = 20;

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

    /// <summary>Cancelled to stop the run early with a checkpoint (SIGINT, SIGTERM): checked after every step.</summary>
    public CancellationToken Stop { get; init; }

    /// <summary>Called with each checkpoint's folder right after it is written.</summary>
    public Action<string>? CheckpointSaved { get; init; }

    /// <summary>AdamW with weight decay on matrices only (norm weights and biases are not decayed).</summary>
    public static AdamW CreateOptimizer(Module model, TrainOptions o)
    {
        var ps = model.Parameters().ToList();
        var groups = new List<ParamGroup> { new(ps.Where(p => p.Dim >= 2), weightDecay: o.WeightDecay) };
        if (ps.Any(p => p.Dim < 2)) groups.Add(new ParamGroup(ps.Where(p => p.Dim < 2), weightDecay: 0));
        return new AdamW(groups, lr: o.Lr, beta1: o.Beta1, beta2: o.Beta2, eps: o.Eps, weightDecay: o.WeightDecay);
    }

    /// <summary>
    /// Runs to <see cref="TrainOptions.MaxSteps"/>, resuming when <paramref name="resume"/> from the newest checkpoint in the
    /// run directory that loads (<see cref="Checkpoint.ReadNewest"/>: a newer one that fails to load is reported and skipped).
    /// </summary>
    public TrainResult Run(bool resume = true)
    {
        using var loaded = resume ? Checkpoint.ReadNewest(runDir, progressOutput) : null;
        return Run(loaded);
    }

    /// <summary>Runs to <see cref="TrainOptions.MaxSteps"/> from checkpoint <paramref name="resume"/> (the caller disposes it), or from the start when null.</summary>
    public TrainResult Run(Checkpoint.Loaded? resume)
    {
        if (o.Threads > 0) Torch.Threads = o.Threads;
        using var optimizer = CreateOptimizer(model, o);
        var scheduler = new LrScheduler(optimizer, LrSchedules.Create(o.Schedule, o.WarmupSteps, o.MaxSteps, o.MinLrRatio));
        long step = 0, nonFiniteTotal = 0;
        var nonFiniteInARow = 0;
        var health = new CheckpointHealth();
        if (resume is not null)
        {
            model.LoadStateDict(resume.Weights);
            optimizer.LoadStateDict(resume.Optimizer);
            var s = resume.State;
            (step, nonFiniteTotal) = (s.Step, s.NonFiniteTotal);
            scheduler.StepCount = s.ScheduleStep;
            Generator.SetGlobalState(Convert.FromBase64String(s.RngState));
            trainer.LoadState(s.TrainerState);
            health.Resumed(step, Checkpoint.NewestGood(runDir, upTo: step));
            progressOutput?.WriteLine($"resumed from {resume.Dir} (step {step})");
        }
        var resumedFrom = step;
        var lastSaved = resume?.State.Step;
        IReadOnlyDictionary<string, double> lastTrain = new Dictionary<string, double>(), lastEval = lastTrain;
        IReadOnlyDictionary<string, double> startEval = new Dictionary<string, double>();
        if (o.EvalAtStart && step == 0) startEval = lastEval = Evaluate(0);
        var bar = progressOutput is null ? null : new ProgressBar("train", o.MaxSteps, progressOutput);
        var clip = o.MaxGradNorm > 0 ? o.MaxGradNorm : double.MaxValue;

        Checkpoint.State Snapshot() => new(step, scheduler.StepCount, Convert.ToBase64String(Generator.GetGlobalState()),
                                           trainer.SaveState(), nonFiniteInARow, nonFiniteTotal);

        TrainingDivergedException Diverged(string why)
        {
            bar?.Finish();
            return Divergence(step, why, health.Good);
        }

        void EnsureFiniteWeights()
        {
            var w = MaxAbsWeight();
            if (!double.IsFinite(w)) throw Diverged($"the weights are no longer finite (max |w| = {w})");
        }

        void SaveCheckpoint()
        {
            EnsureFiniteWeights();
            var at = Checkpoint.Save(runDir, model, optimizer, Snapshot(), o.KeepCheckpoints, protect: health.Good);
            lastSaved = step;
            health.Saved(step);
            CheckpointSaved?.Invoke(at);
        }

        var stopped = false;
        while (step < o.MaxSteps)
        {
            if (Stop.IsCancellationRequested && trainer.ResumesExactlyAfter(step))
            {
                stopped = true;
                break;
            }
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
            if (health.Stepped(step, finite, gradNorm) is { } confirmed) Checkpoint.MarkGood(Checkpoint.StepDir(runDir, confirmed));
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
                throw Diverged($"the loss or gradient was not finite for {nonFiniteInARow} steps in a row " +
                               $"(train.nan_patience = {o.NanPatience}); those steps were skipped");
            if (o.EvalEvery > 0 && step % o.EvalEvery == 0 && step < o.MaxSteps) lastEval = Evaluate(step);
            if (o.SaveEvery > 0 && step % o.SaveEvery == 0 && step < o.MaxSteps) SaveCheckpoint();
        }
        bar?.Finish();
        if (stopped)
        {
            if (step > resumedFrom && lastSaved != step) SaveCheckpoint();
            return new TrainResult(step, resumedFrom, lastTrain, lastEval, startEval) { Stopped = true };
        }
        EnsureFiniteWeights();
        if (step > resumedFrom || lastEval.Count == 0) lastEval = Evaluate(step);
        if (lastSaved != step) SaveCheckpoint();
        return new TrainResult(step, resumedFrom, lastTrain, lastEval, startEval);
    }

    // The run stopped at `step` for reason `why`: checkpoints newer than the last good one (`good`) are set aside so that a
    // rerun resumes from it, and the error says so.
    TrainingDivergedException Divergence(long step, string why, long? good)
    {
        var goodDir = good is { } g && Checkpoint.IsComplete(Checkpoint.StepDir(runDir, g)) ? Checkpoint.StepDir(runDir, g) : null;
        var aside = Checkpoint.List(runDir).Where(d => goodDir is null || Checkpoint.StepOf(d) > good)
            .Select(d => Path.GetFileName(Checkpoint.SetAside(d, Checkpoint.DivergedPrefix))).ToList();
        var setAside = aside.Count == 0 ? "" : $" {aside.Count} newer checkpoint(s) were set aside ({string.Join(", ", aside)}).";
        var next = goodDir is null
            ? $"No checkpoint of this run is known good.{setAside} Lower train.lr or check the data, then start over."
            : $"The last good checkpoint is {goodDir} (finite weights; the step after it had a finite loss and no gradient spike).{setAside} " +
              "Lower train.lr or check the data, then resume: a rerun continues from it.";
        return new TrainingDivergedException($"stopped at step {step}: {why}. {next}", step, goodDir);
    }

    // max |w| over every parameter; NaN when any weight is NaN.
    double MaxAbsWeight()
    {
        using var scope = new TensorScope();
        using var noGrad = Torch.NoGrad();
        var max = 0.0;
        foreach (var p in model.Parameters().Where(p => p.Numel > 0))
        {
            var m = p.Abs().Max().ToDouble();
            if (double.IsNaN(m)) return m;
            max = Math.Max(max, m);
        }
        return max;
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

    /// <summary>
    /// Which checkpoint is known good. A checkpoint saved after step S is confirmed by step S + 1, which runs on its weights:
    /// a finite loss and gradient and a gradient norm within <see cref="SpikeFactor"/> × the median of recent healthy steps.
    /// </summary>
    sealed class CheckpointHealth
    {
        readonly Queue<double> norms = new();
        long? pending;

        /// <summary>The newest confirmed checkpoint's step, or null.</summary>
        public long? Good { get; private set; }

        /// <summary>The run resumed from checkpoint <paramref name="step"/>; <paramref name="good"/> is the newest one marked good up to it.</summary>
        public void Resumed(long step, long? good) => (Good, pending) = (good, step);

        /// <summary>A checkpoint was saved after step <paramref name="step"/>.</summary>
        public void Saved(long step) => pending = step;

        /// <summary>Step <paramref name="step"/> ran: its loss and gradient were finite or not, with norm <paramref name="gradNorm"/>.</summary>
        /// <returns>The step of the checkpoint this step confirmed as good, or null.</returns>
        public long? Stepped(long step, bool finite, double gradNorm)
        {
            var median = norms.Count == 0 ? 0 : norms.Order().ElementAt(norms.Count / 2);
            var healthy = finite && !(median > 0 && gradNorm > SpikeFactor * median);
            long? confirmed = pending == step - 1 && healthy ? pending : null;
            if (confirmed is not null) Good = confirmed;
            if (pending < step) pending = null;
            if (healthy)
            {
                norms.Enqueue(gradNorm);
                if (norms.Count > SpikeWindow) norms.Dequeue();
            }
            return confirmed;
        }
    }
}
