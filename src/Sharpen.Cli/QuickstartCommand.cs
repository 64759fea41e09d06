namespace Sharpen.Cli;

using System.Diagnostics;
using Sharpen.Training;

/// <summary>
/// `sharpen quickstart`: the main job on the built-in default — a tiny model is fine-tuned on n-digit addition
/// (recipes/quickstart_sft.yaml), then trained with GRPO against the exact-answer verifier
/// (recipes/quickstart.yaml); held-out greedy accuracy is printed before and after, and the report
/// is written to runs/quickstart/report.html.
/// </summary>
static class QuickstartCommand
{
    public const string Usage = """
        usage: sharpen quickstart [--seed N] [--set key=value ...]
          Runs recipes/quickstart.yaml (GRPO), training its SFT start (recipes/quickstart_sft.yaml) first.
          Always starts fresh; --set overrides keys of the GRPO recipe; --seed N sets train.seed of both
          stages (data, initialisation, sampling) and names the runs quickstart-sft-sN and quickstart-sN.
          Ctrl-C stops after the current step (exit 130).
        """;

    public static int Run(string[] argv)
    {
        var a = new Args(argv);
        if (a.Help) { Console.WriteLine(Usage); return 0; }
        var sets = a.All("set");
        int? seed = a.Get("seed") is null ? null : a.Int("seed", 0);
        a.EnsureAllUsed();
        var recipes = RecipesDir();
        var sw = Stopwatch.StartNew();
        string[] seeded = seed is null ? [] : [$"train.seed={seed}"];
        var sft = ConfigBinder.Load<Recipe>(Path.Combine(recipes, "quickstart_sft.yaml"), seeded);
        var grpo = ConfigBinder.Load<Recipe>(Path.Combine(recipes, "quickstart.yaml"), [.. seeded, .. sets]);
        if (seed is not null)
        {
            sft.Name += $"-s{seed}";
            grpo.Name += $"-s{seed}";
        }
        grpo.Model.InitRecipe = "";                         // trained here explicitly, fresh
        grpo.Model.Init = Path.Combine(Runner.RunDir(sft), "final");
        grpo.Train.EvalAtStart = true;
        RecipeChecks.Validate(sft);
        RecipeChecks.Validate(grpo);

        using var signals = new StopSignals(Console.Error);
        var options = new RunOptions { Fresh = true, Stop = signals.Token };
        Console.WriteLine("== 1/2 supervised fine-tuning on the built-in task ==");
        if (Runner.Run(sft, Console.Out, options).Stopped) return signals.ExitCode;
        Console.WriteLine("\n== 2/2 GRPO with the verifier ==");
        var result = Runner.Run(grpo, Console.Out, options);
        if (result.Stopped) return signals.ExitCode;

        double before = result.StartEval.GetValueOrDefault("accuracy", double.NaN), after = result.LastEval.GetValueOrDefault("accuracy", double.NaN);
        Console.WriteLine($"""

            quickstart done in {sw.Elapsed.TotalMinutes:F1} min
              held-out accuracy, SFT checkpoint : {before:P1}
              held-out accuracy, after GRPO     : {after:P1}
              report                            : {Path.Combine(Runner.RunDir(grpo), ReportWriter.FileName)}
            """);
        return 0;
    }

    // recipes/ of this checkout: $SHARPEN_HOME (set by ./sharpen), else found by walking up from the binaries.
    static string RecipesDir()
    {
        if (Environment.GetEnvironmentVariable("SHARPEN_HOME") is { Length: > 0 } home && Directory.Exists(Path.Combine(home, "recipes")))
            return Path.Combine(home, "recipes");
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (Directory.Exists(Path.Combine(d.FullName, "recipes")) && File.Exists(Path.Combine(d.FullName, "sharpen")))
                return Path.Combine(d.FullName, "recipes");
        throw new DirectoryNotFoundException("cannot find Sharpen's recipes/ folder; run through ./sharpen or set SHARPEN_HOME");
    }
}
