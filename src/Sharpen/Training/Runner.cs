namespace Sharpen.Training;

using Sharpen.Torch;

/// <summary>
/// Runs a recipe end to end: the run directory (DESIGN §6), the trainer, the shared loop with resume,
/// the final model in Hugging Face layout (<c>final/</c>) and <c>report.html</c>.
/// </summary>
public static class Runner
{
    /// <summary>The run directory of <paramref name="r"/>: runs_dir/name.</summary>
    public static string RunDir(Recipe r) => Path.Combine(r.RunsDir, r.Name);

    /// <summary>
    /// Trains <paramref name="r"/>. An existing run directory with checkpoints is resumed unless <paramref name="fresh"/>
    /// (which deletes its checkpoints and metrics first). Progress goes to <paramref name="output"/>.
    /// </summary>
    public static TrainResult Run(Recipe r, TextWriter output, bool fresh = false)
    {
        if (!Trainers.Registry.Names.Contains(r.Method)) Trainers.Registry.Get(r.Method);   // the error lists the methods
        EnsureInit(r, output);
        var dir = RunDir(r);
        if (fresh && Directory.Exists(dir))
            foreach (var stale in new[] { Checkpoint.Folder, "final" }.Select(d => Path.Combine(dir, d)).Where(Directory.Exists))
                Directory.Delete(stale, recursive: true);
        Directory.CreateDirectory(dir);
        var resumeStep = fresh ? (long?)null : Checkpoint.Latest(dir) is { } latest ? long.Parse(Path.GetFileName(latest)["step-".Length..]) : null;
        if (fresh) File.Delete(Path.Combine(dir, MetricsWriter.FileName));
        File.WriteAllText(Path.Combine(dir, ReportWriter.ConfigFileName), ConfigBinder.ToYaml(r));

        Torch.Seed((ulong)r.Train.Seed);
        if (r.Train.Threads > 0) Torch.Threads = r.Train.Threads;
        output.WriteLine($"run {r.Name}: method {r.Method}, {r.Train.MaxSteps} steps → {dir}");
        using var trainer = Trainers.Registry.Get(r.Method)(r, dir, output);
        using var logger = new MetricsWriter(dir, resumeStep);
        try
        {
            var result = new TrainingLoop(r.Train, trainer.Model, trainer, dir, logger, output).Run(resume: !fresh);
            trainer.SaveFinal(Path.Combine(dir, "final"));
            foreach (var (k, v) in result.LastEval) output.WriteLine($"eval {k} = {v:G5}");
            return result;
        }
        finally
        {
            logger.Dispose();
            var report = ReportWriter.Write(dir);
            output.WriteLine($"report: {report}");
        }
    }

    // A run that starts from another run's model (model.init = runs/x/final) trains that recipe first when needed.
    static void EnsureInit(Recipe r, TextWriter output)
    {
        if (r.Model.Init == "new" || Directory.Exists(r.Model.Init) || r.Model.InitRecipe.Length == 0) return;
        output.WriteLine($"model.init {r.Model.Init} does not exist yet: running {r.Model.InitRecipe} first");
        var first = ConfigBinder.Load<Recipe>(r.Model.InitRecipe, []);
        Run(first, output);
        if (!Directory.Exists(r.Model.Init))
            throw new DirectoryNotFoundException($"model.init: {r.Model.InitRecipe} did not produce {r.Model.Init}; its final model is in {Path.Combine(RunDir(first), "final")}");
    }
}
