namespace Sharpen.Training;

/// <summary>
/// The configs recorded in a run directory, one per segment of the run: <c>config.yaml</c> holds the config the run
/// started with; a run resumed from step S with a different config records that one as <c>config.resume-S.yaml</c>.
/// The config that made checkpoint S is therefore the newest <c>config.resume-N.yaml</c> with N &lt; S, else
/// <c>config.yaml</c>. Resuming from an earlier step than a recorded segment's start drops that record, as
/// metrics.jsonl drops the steps that are run again.
/// </summary>
public static class RunConfigs
{
    /// <summary>Prefix of the config of a resumed segment: <c>config.resume-S.yaml</c>.</summary>
    public const string ResumePrefix = "config.resume-";

    /// <summary>
    /// Keys that cannot change the trajectory (weights, data order, sampling): logging, checkpointing and the stop
    /// rule. Changing only these on resume needs no <c>--allow-changes</c>; the new config is still recorded.
    /// </summary>
    public static readonly IReadOnlySet<string> TrajectoryFree = new HashSet<string>
    {
        "train.log_every", "train.save_every", "train.keep_checkpoints", "train.nan_patience", "online.log_samples",
    };

    /// <summary>The recorded config that made checkpoint <paramref name="step"/> of <paramref name="runDir"/>, or null when none is recorded.</summary>
    public static string? At(string runDir, long step)
    {
        var resumed = Resumed(runDir).Where(x => x.Step < step).Select(x => x.Path).LastOrDefault();
        var first = Path.Combine(runDir, ReportWriter.ConfigFileName);
        return resumed ?? (File.Exists(first) ? first : null);
    }

    /// <summary>The keys whose values differ between the config that made checkpoint <paramref name="step"/> and <paramref name="recipe"/>; empty when none is recorded.</summary>
    /// <exception cref="ConfigException">The recorded config cannot be read (for example, written by another version).</exception>
    public static IReadOnlyList<ConfigChange> Changes(string runDir, long step, Recipe recipe)
    {
        if (At(runDir, step) is not { } path) return [];
        Recipe before;
        try
        {
            before = ConfigBinder.Load<Recipe>(path, []);
        }
        catch (ConfigException e)
        {
            throw new ConfigException($"cannot compare the recipe with {path}, the config that made step {step}: {e.Message}; " +
                                      "pass --allow-changes to resume anyway or --fresh to start over", e.Key, e.File, e.Line);
        }
        return ConfigBinder.Diff(before, recipe);
    }

    /// <summary>
    /// Records <paramref name="recipe"/> as the config of the segment starting at <paramref name="resumeStep"/>: for a run
    /// from the start (null) as <c>config.yaml</c>, dropping every resume record; for a resumed run as
    /// <c>config.resume-S.yaml</c> when it differs from the config that made step S, after dropping the records of
    /// segments that started at S or later.
    /// </summary>
    /// <returns>The file written, or null when the config was already recorded.</returns>
    public static string? Record(string runDir, Recipe recipe, long? resumeStep)
    {
        var yaml = ConfigBinder.ToYaml(recipe);
        foreach (var (path, step) in Resumed(runDir))
            if (resumeStep is null || step >= resumeStep) File.Delete(path);
        if (resumeStep is not { } s)
        {
            var first = Path.Combine(runDir, ReportWriter.ConfigFileName);
            Durable.WriteAllText(first, yaml);
            return first;
        }
        if (At(runDir, s) is { } current && File.ReadAllText(current) == yaml) return null;
        var file = Path.Combine(runDir, $"{ResumePrefix}{s}.yaml");
        Durable.WriteAllText(file, yaml);
        return file;
    }

    /// <summary>The resume records of <paramref name="runDir"/>, by the step their segment started at.</summary>
    public static IReadOnlyList<(string Path, long Step)> Resumed(string runDir) =>
        Directory.GetFiles(runDir, ResumePrefix + "*.yaml")
            .Select(p => (Path: p, Name: Path.GetFileNameWithoutExtension(p)))
            .Select(x => (x.Path, Step: long.TryParse(x.Name.AsSpan(ResumePrefix.Length), out var s) ? s : -1))
            .Where(x => x.Step >= 0)
            .OrderBy(x => x.Step)
            .ToList();
}
