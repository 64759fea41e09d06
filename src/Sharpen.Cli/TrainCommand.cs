namespace Sharpen.Cli;

using System.Text.RegularExpressions;
using Sharpen.Training;

/// <summary>`sharpen train RECIPE.yaml [--set key=value ...] [--fresh] [--allow-changes]`.</summary>
static partial class TrainCommand
{
    public const string Usage = """
        usage: sharpen train RECIPE.yaml [--set key=value ...] [--fresh] [--allow-changes]
               sharpen train --help-config      every recipe key with its type, default, unit and description
          --set key=value   override a recipe key (dotted: train.lr=3e-4); repeatable
          --fresh           start over instead of resuming; the previous run is kept in .previous/ until the new one's first checkpoint
          --allow-changes   resume although recipe keys changed since the checkpoint (the new config is recorded as config.resume-N.yaml)
        A run directory runs/<name>/ holds config.yaml, metrics.jsonl, TensorBoard events, checkpoints/step-N/,
        final/ (the trained model, Hugging Face layout) and report.html. Re-running resumes from the newest checkpoint.
        Ctrl-C (SIGINT) or SIGTERM stops after the current step with a checkpoint and the report (exit 130/143); a second one quits at once.
        """;

    public static int Run(string[] argv)
    {
        var a = new Args(argv, "fresh", "allow-changes", "help-config");
        if (a.Help) { Console.WriteLine(Usage); return 0; }
        if (a.Flag("help-config")) { Console.WriteLine(ConfigBinder.Help<Recipe>()); return 0; }
        var sets = a.All("set");
        var fresh = a.Flag("fresh");
        var allowChanges = a.Flag("allow-changes");
        var files = a.Positional;
        a.EnsureAllUsed();
        if (files.Count != 1) throw new UsageException("give one recipe file (see sharpen train --help)");
        var recipe = ConfigBinder.Load<Recipe>(files[0], sets);
        RecipeChecks.Validate(recipe);
        using var signals = new StopSignals(Console.Error);
        var options = new RunOptions { Fresh = fresh, AllowChanges = allowChanges, Stop = signals.Token, Command = Command(argv) };
        var result = Runner.Run(recipe, Console.Out, options);
        return result.Stopped ? signals.ExitCode : 0;
    }

    // This command line without --fresh and --allow-changes, quoted for a POSIX shell: the base of the commands errors suggest.
    static string Command(string[] argv) =>
        string.Join(" ", new[] { "sharpen", "train" }.Concat(argv.Where(x => x is not ("--fresh" or "--allow-changes")).Select(Quote)));

    static string Quote(string s) => Plain().IsMatch(s) ? s : "'" + s.Replace("'", "'\\''") + "'";

    [GeneratedRegex(@"^[A-Za-z0-9_./:=+,@%-]+$")]
    private static partial Regex Plain();
}
