namespace Sharpen.Cli;

using Sharpen.Training;

/// <summary>`sharpen train RECIPE.yaml [--set key=value ...] [--fresh]`.</summary>
static class TrainCommand
{
    public const string Usage = """
        usage: sharpen train RECIPE.yaml [--set key=value ...] [--fresh]
               sharpen train --help-config      every recipe key with its type, default, unit and description
          --set key=value   override a recipe key (dotted: train.lr=3e-4); repeatable
          --fresh           start over: delete the run's checkpoints and metrics instead of resuming
        A run directory runs/<name>/ holds config.yaml, metrics.jsonl, TensorBoard events, checkpoints/step-N/,
        final/ (the trained model, Hugging Face layout) and report.html. Re-running resumes from the newest checkpoint.
        """;

    public static int Run(string[] argv)
    {
        var a = new Args(argv, "fresh", "help-config");
        if (a.Help) { Console.WriteLine(Usage); return 0; }
        if (a.Flag("help-config")) { Console.WriteLine(ConfigBinder.Help<Recipe>()); return 0; }
        var sets = a.All("set");
        var fresh = a.Flag("fresh");
        var files = a.Positional;
        a.EnsureAllUsed();
        if (files.Count != 1) throw new UsageException("give one recipe file (see sharpen train --help)");
        var recipe = ConfigBinder.Load<Recipe>(files[0], sets);
        RecipeChecks.Validate(recipe);
        Runner.Run(recipe, Console.Out, fresh);
        return 0;
    }
}
