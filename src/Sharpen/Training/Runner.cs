namespace Sharpen.Training;

using Sharpen.Torch;

/// <summary>How <see cref="Runner.Run(Recipe, TextWriter, RunOptions)"/> treats an existing run, and when it stops early.</summary>
public sealed record RunOptions
{
    /// <summary>
    /// Start over instead of resuming. The recipe, model and data are checked first (the trainer is built); only then is the
    /// previous run moved into <c>.previous/</c>, which is deleted once the new run has written its first checkpoint and
    /// moved back if it stops before.
    /// </summary>
    public bool Fresh { get; init; }

    /// <summary>Resume even when recipe keys changed since the checkpoint; each change is printed and the config recorded (<see cref="RunConfigs"/>).</summary>
    public bool AllowChanges { get; init; }

    /// <summary>Cancelled to stop after the current step with a checkpoint and the report (see <see cref="StopSignals"/>).</summary>
    public CancellationToken Stop { get; init; }

    /// <summary>The command that started this run, quoted for a shell (<c>sharpen train r.yaml --set name=x</c>), for the commands errors suggest; null: a placeholder.</summary>
    public string? Command { get; init; }
}

/// <summary>
/// Runs a recipe end to end: the run directory (docs/runs.md) under its <see cref="RunLock"/>, the trainer, the shared loop with
/// resume, the final model in Hugging Face layout (<c>final/</c>) and <c>report.html</c>. A start that fails (bad recipe,
/// model or data; a changed recipe on resume) writes nothing in the run directory.
/// </summary>
public static class Runner
{
    /// <summary>The run directory of <paramref name="r"/>: runs_dir/name.</summary>
    /// <exception cref="ConfigException">The name is not one folder name (<see cref="RunDirectory.ValidateName"/>).</exception>
    public static string RunDir(Recipe r)
    {
        RunDirectory.ValidateName(r.Name);
        return Path.Combine(r.RunsDir, r.Name);
    }

    /// <summary>Trains <paramref name="r"/>, resuming its run directory unless <paramref name="fresh"/>. Progress goes to <paramref name="output"/>.</summary>
    public static TrainResult Run(Recipe r, TextWriter output, bool fresh = false) => Run(r, output, new RunOptions { Fresh = fresh });

    /// <summary>
    /// Trains <paramref name="r"/>. An existing run is resumed from its newest checkpoint that loads, after checking that
    /// the recipe has not changed since (<see cref="RunOptions.AllowChanges"/>), unless <see cref="RunOptions.Fresh"/>.
    /// Progress goes to <paramref name="output"/>.
    /// </summary>
    /// <exception cref="IOException">Another process holds the run directory.</exception>
    /// <exception cref="TrainingDivergedException">The run diverged; the message says how to resume from its last good checkpoint.</exception>
    public static TrainResult Run(Recipe r, TextWriter output, RunOptions options)
    {
        if (!Trainers.Registry.Names.Contains(r.Method)) Trainers.Registry.Get(r.Method);   // the error lists the methods
        var dir = RunDir(r);
        if (EnsureInit(r, output, options) is { } stoppedFirst) return stoppedFirst;
        var created = !Directory.Exists(dir);
        using var runLock = RunLock.Acquire(dir);
        Session session;
        try
        {
            session = Start(r, dir, output, options);
        }
        catch when (created)
        {
            runLock.Dispose();
            RemoveQuietly(dir);
            throw;
        }
        using (session) return Train(r, dir, output, options, session);
    }

    // Removes a run directory this start created, without hiding the error that made it fail.
    static void RemoveQuietly(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    /// <summary>What a successful start holds: the trainer and the checkpoint to resume from.</summary>
    sealed class Session(ITrainer trainer, Checkpoint.Loaded? resume) : IDisposable
    {
        public ITrainer Trainer { get; } = trainer;
        public Checkpoint.Loaded? Resume { get; } = resume;

        public void Dispose()
        {
            Resume?.Dispose();
            Trainer.Dispose();
        }
    }

    // Repairs the run directory, picks the checkpoint, checks the recipe against it and builds the trainer: writes nothing
    // of the run (but for repairs of what an interrupted process left).
    static Session Start(Recipe r, string dir, TextWriter output, RunOptions options)
    {
        RunDirectory.Repair(dir, output);
        var resume = options.Fresh ? null : Checkpoint.ReadNewest(dir, output);
        try
        {
            if (resume is not null) CheckChanges(r, dir, resume.State.Step, options.AllowChanges, output);
            Torch.Seed((ulong)r.Train.Seed);
            if (r.Train.Threads > 0) Torch.Threads = r.Train.Threads;
            output.WriteLine($"run {r.Name}: method {r.Method}, {r.Train.MaxSteps} steps → {dir}");
            return new Session(Trainers.Registry.Get(r.Method)(r, dir, output), resume);
        }
        catch
        {
            resume?.Dispose();
            throw;
        }
    }

    static void CheckChanges(Recipe r, string dir, long step, bool allow, TextWriter output)
    {
        IReadOnlyList<ConfigChange> changes;
        try
        {
            changes = RunConfigs.Changes(dir, step, r);
        }
        catch (ConfigException e) when (allow)
        {
            output.WriteLine($"{e.Message}; resuming anyway (--allow-changes)");
            return;
        }
        if (changes.Count == 0) return;
        var list = string.Join(", ", changes.Select(c => $"{c.Key}: {c.Old} → {c.New}"));
        var record = $"{RunConfigs.ResumePrefix}{step}.yaml";
        var blocking = changes.FirstOrDefault(c => !RunConfigs.TrajectoryFree.Contains(c.Key));
        if (blocking is not null && !allow)
            throw new ConfigException($"{dir}: step {step} was made with a different recipe ({list}); pass --allow-changes to resume " +
                                      $"with these changes (recorded in {record}) or --fresh to start over", blocking.Key);
        output.WriteLine($"resuming from step {step} with changes: {list} (recorded in {record})");
    }

    static TrainResult Train(Recipe r, string dir, TextWriter output, RunOptions options, Session s)
    {
        var keptPrevious = options.Fresh && RunDirectory.MoveAside(dir);
        if (keptPrevious) output.WriteLine($"--fresh: the previous run is kept in {Path.Combine(dir, RunDirectory.PreviousFolder)} until this one writes its first checkpoint");
        MetricsWriter? logger = null;
        try
        {
            RunConfigs.Record(dir, r, s.Resume?.State.Step);
            logger = new MetricsWriter(dir, s.Resume?.State.Step);
            var loop = new TrainingLoop(r.Train, s.Trainer.Model, s.Trainer, dir, logger, output)
            {
                Stop = options.Stop,
                CheckpointSaved = _ =>
                {
                    if (!keptPrevious) return;
                    RunDirectory.DropPrevious(dir);
                    keptPrevious = false;
                },
            };
            var result = loop.Run(s.Resume);
            if (result.Stopped)
            {
                output.WriteLine(Checkpoint.IsComplete(Checkpoint.StepDir(dir, result.Steps))
                    ? $"stopped at step {result.Steps} of {r.Train.MaxSteps}: checkpoint {Checkpoint.StepDir(dir, result.Steps)}; run the same command again to resume"
                    : "stopped before the first step");
                return result;
            }
            s.Trainer.SaveFinal(Path.Combine(dir, "final"));
            foreach (var (k, v) in result.LastEval) output.WriteLine($"eval {k} = {v:G5}");
            return result;
        }
        catch (TrainingDivergedException e)
        {
            throw new TrainingDivergedException($"{e.Message} {ResumeHint(r, e, options)}", e.Step, e.GoodCheckpoint);
        }
        finally
        {
            logger?.Dispose();
            if (keptPrevious && Checkpoint.List(dir).Count == 0)
            {
                RunDirectory.RestorePrevious(dir);
                output.WriteLine("restored the previous run: this one stopped before its first checkpoint");
            }
            output.WriteLine($"report: {ReportWriter.Write(dir)}");
        }
    }

    // The command that continues a diverged run from its last good checkpoint (or starts over) with a tenth of the learning rate.
    static string ResumeHint(Recipe r, TrainingDivergedException e, RunOptions options)
    {
        var lr = double.IsFinite(r.Train.Lr) && r.Train.Lr > 0 ? r.Train.Lr / 10 : new TrainOptions().Lr;
        var command = options.Command ?? "sharpen train RECIPE.yaml";
        var set = $"--set train.lr={ConfigValues.Format(lr)}";
        return e.GoodCheckpoint is null
            ? $"To start over with a lower learning rate: {command} --fresh {set}"
            : $"To resume from {Path.GetFileName(e.GoodCheckpoint)} with a lower learning rate: {command} {set} --allow-changes";
    }

    // A run that starts from another run's model (model.init = runs/x/final) trains that recipe first when needed;
    // returns that run's result when it was stopped, else null.
    static TrainResult? EnsureInit(Recipe r, TextWriter output, RunOptions options)
    {
        if (r.Model.Init == "new" || Directory.Exists(r.Model.Init) || r.Model.InitRecipe.Length == 0) return null;
        output.WriteLine($"model.init {r.Model.Init} does not exist yet: running {r.Model.InitRecipe} first");
        var first = ConfigBinder.Load<Recipe>(r.Model.InitRecipe, []);
        var result = Run(first, output, new RunOptions { Stop = options.Stop });
        if (result.Stopped) return result;
        if (!Directory.Exists(r.Model.Init))
            throw new DirectoryNotFoundException($"model.init: {r.Model.InitRecipe} did not produce {r.Model.Init}; its final model is in {Path.Combine(RunDir(first), "final")}");
        return null;
    }
}
