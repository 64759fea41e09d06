using Sharpen.Training;

namespace Sharpen.Tests;

public enum RunsTestSchedule { Constant, LinearWarmup, Cosine }

/// <summary>A nested section of <see cref="RunsTestConfig"/>.</summary>
public sealed class RunsTestOptim
{
    [Option("Peak learning rate.", Unit = "1/step")] public double Lr { get; set; } = 1e-4;
    [Option("Adam betas.")] public List<double> Betas { get; set; } = [0.9, 0.999];
    [Option("Learning-rate schedule.")] public RunsTestSchedule Schedule { get; set; } = RunsTestSchedule.Cosine;
    [Option("Linear warmup length.", Unit = "steps")] public int WarmupSteps { get; set; } = 10;
}

public sealed class RunsTestGeneration
{
    [Option("Sampling temperature.")] public double Temperature { get; set; } = 1.0;
    [Option("Stop strings.")] public List<string> Stop { get; set; } = [];
}

/// <summary>A config using every supported option type.</summary>
public sealed class RunsTestConfig
{
    [Option("Run name, the run directory's name.")] public string Name { get; set; } = "run";
    [Option("Random seed.")] public int Seed { get; set; } = 42;
    [Option("Token budget.", Unit = "tokens")] public long MaxTokens { get; set; } = 1_000_000;
    [Option("Compute in bfloat16.")] public bool Bf16 { get; set; }
    [Option("Clip the gradient norm to this; null disables clipping.")] public double? MaxGradNorm { get; set; } = 1.0;
    [Option("Checkpoint to resume from.")] public string? ResumeFrom { get; set; }
    [Option("Training datasets.")] public List<string> Datasets { get; set; } = ["gsm8k"];
    [Option("Steps at which to evaluate.", Unit = "steps")] public List<int> EvalSteps { get; set; } = [100];
    [Option("Stop after this many samples.")] public int? Limit { get; set; }
    public RunsTestOptim Optim { get; set; } = new();
    public RunsTestGeneration Generation { get; set; } = new();
}

/// <summary>ConfigBinder: YAML + --set binding, error messages, help text, YAML round trip.</summary>
public sealed class RunsConfigTests : IDisposable
{
    readonly DirectoryInfo dir = Directory.CreateTempSubdirectory("sharpen-runs-config-");

    public void Dispose() => dir.Delete(recursive: true);

    string Yaml(string text)
    {
        var path = Path.Combine(dir.FullName, $"recipe{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    static ConfigException Fails(string? path, params string[] sets) =>
        Assert.Throws<ConfigException>(() => ConfigBinder.Load<RunsTestConfig>(path, sets));

    [Fact]
    public void Load_NestedYamlDottedKeysAndSets_GiveTypedValues()
    {
        var path = Yaml("""
            name: my-run
            seed: 7
            max_tokens: 0x10
            bf16: true
            max_grad_norm: null
            datasets: [a, "b c"]
            eval_steps:
              - 1
              - -2
            optim:
              lr: 3e-4
              schedule: linear_warmup
            generation.temperature: .7
            """);
        var c = ConfigBinder.Load<RunsTestConfig>(path,
            ["optim.warmup_steps=25", "seed=11", "resume_from=ckpt/step-5", "optim.betas=[0.8, .99]", "limit=3",
             "name=with space: ok", "generation.stop=['</s>', \"\\n\"]"]);

        Assert.Equal("with space: ok", c.Name);
        Assert.Equal(11, c.Seed);
        Assert.Equal(16L, c.MaxTokens);
        Assert.True(c.Bf16);
        Assert.Null(c.MaxGradNorm);
        Assert.Equal("ckpt/step-5", c.ResumeFrom);
        Assert.Equal(["a", "b c"], c.Datasets);
        Assert.Equal([1, -2], c.EvalSteps);
        Assert.Equal(3, c.Limit);
        Assert.Equal(3e-4, c.Optim.Lr);
        Assert.Equal([0.8, 0.99], c.Optim.Betas);
        Assert.Equal(RunsTestSchedule.LinearWarmup, c.Optim.Schedule);
        Assert.Equal(25, c.Optim.WarmupSteps);
        Assert.Equal(0.7, c.Generation.Temperature);
        Assert.Equal(["</s>", "\n"], c.Generation.Stop);
    }

    [Fact]
    public void Load_WithoutFileOrSets_GivesTheDefaults_AndLaterSetsWin()
    {
        var c = ConfigBinder.Load<RunsTestConfig>(null, []);
        Assert.Equal(("run", 42, 1e-4, RunsTestSchedule.Cosine), (c.Name, c.Seed, c.Optim.Lr, c.Optim.Schedule));
        var d = ConfigBinder.Load<RunsTestConfig>(Yaml("seed: 1\n"), ["seed=2", "seed=3", "max_grad_norm=~"]);
        Assert.Equal(3, d.Seed);
        Assert.Null(d.MaxGradNorm);
    }

    [Fact]
    public void UnknownYamlKey_NamesKeyFileLineAndClosestKey()
    {
        var path = Yaml("seed: 1\noptim:\n  lr: 0.1\n  warmup_step: 5\n");
        var ex = Fails(path);
        Assert.Equal("optim.warmup_step", ex.Key);
        Assert.Equal(path, ex.File);
        Assert.Equal(4, ex.Line);
        Assert.Contains($"{path}:4:", ex.Message);
        Assert.Contains("unknown key 'optim.warmup_step'", ex.Message);
        Assert.Contains("did you mean 'optim.warmup_steps'?", ex.Message);
    }

    [Fact]
    public void UnknownSetKey_SuggestsTheClosestKey_IncludingByLastSegment()
    {
        var ex = Fails(null, "lr=0.1");
        Assert.Contains("--set lr=0.1", ex.Message);
        Assert.Contains("did you mean 'optim.lr'?", ex.Message);
        Assert.Contains("did you mean 'max_grad_norm'?", Fails(null, "max_grad_nrm=2").Message);
        Assert.Contains("did you mean 'generation.temperature'?", Fails(null, "generation.temprature=2").Message);
    }

    [Theory]
    [InlineData("seed=abc", "'seed' expects int, got 'abc'")]
    [InlineData("seed=3000000000", "'seed' expects int, got '3000000000'")]
    [InlineData("seed=1.5", "'seed' expects int, got '1.5'")]
    [InlineData("optim.lr=fast", "'optim.lr' expects float, got 'fast'")]
    [InlineData("bf16=yes", "'bf16' expects bool, got 'yes'")]
    [InlineData("seed=\"5\"", "'seed' expects int, got the quoted string \"5\"")]
    [InlineData("optim.schedule=linear", "'optim.schedule' expects one of constant|linear_warmup|cosine, got 'linear'")]
    [InlineData("eval_steps=[1, x]", "'eval_steps' expects list of int, got 'x' in the list")]
    [InlineData("eval_steps=5", "'eval_steps' expects list of int, got '5'")]
    [InlineData("limit=[1]", "'limit' expects int or null, got a list")]
    [InlineData("optim=3", "'optim' is a section")]
    public void IllTypedSetValue_NamesKeyExpectedTypeAndValue(string set, string expected)
    {
        var ex = Fails(null, set);
        Assert.Contains(expected, ex.Message);
        Assert.StartsWith($"--set {set}:", ex.Message);
    }

    [Fact]
    public void IllTypedYamlValue_NamesFileLineKeyTypeAndValue()
    {
        var path = Yaml("name: x\noptim:\n  lr: 1e-4\n  warmup_steps: ten\n");
        var ex = Fails(path);
        Assert.Equal((path, 4, "optim.warmup_steps"), (ex.File, ex.Line, ex.Key));
        Assert.Contains($"{path}:4:", ex.Message);
        Assert.Contains("'optim.warmup_steps' expects int, got 'ten'", ex.Message);
    }

    [Fact]
    public void MissingFileAndBadYaml_NameThePath()
    {
        var missing = Path.Combine(dir.FullName, "nope.yaml");
        Assert.Contains(missing, Fails(missing).Message);
        var bad = Yaml("seed: 1\noptim: [1, 2\n");
        var ex = Fails(bad);
        Assert.StartsWith(bad + ":", ex.Message);
        Assert.Contains("invalid YAML", ex.Message);
    }

    [Fact]
    public void Help_ListsEveryOptionWithTypeDefaultUnitAndDescription()
    {
        var lines = ConfigBinder.Help<RunsTestConfig>().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] keys = ["name", "seed", "max_tokens", "bf16", "max_grad_norm", "resume_from", "datasets", "eval_steps", "limit",
            "optim.lr", "optim.betas", "optim.schedule", "optim.warmup_steps", "generation.temperature", "generation.stop"];
        Assert.Equal(keys.Length + 1, lines.Length);
        Assert.Equal(keys, lines.Skip(1).Select(l => l.Split(' ')[0]));
        string Line(string key) => lines.Single(l => l.StartsWith(key + " "));
        string[] Cells(string key) => Line(key).Split("  ", StringSplitOptions.RemoveEmptyEntries).Select(c => c.Trim()).ToArray();

        Assert.Equal(["optim.lr", "float", "0.0001", "1/step", "Peak learning rate."], Cells("optim.lr"));
        Assert.Equal(["max_tokens", "long", "1000000", "tokens", "Token budget."], Cells("max_tokens"));
        Assert.Equal(["max_grad_norm", "float or null", "1.0", "Clip the gradient norm to this; null disables clipping."], Cells("max_grad_norm"));
        Assert.Equal(["optim.schedule", "one of constant|linear_warmup|cosine", "cosine", "Learning-rate schedule."], Cells("optim.schedule"));
        Assert.Equal(["optim.betas", "list of float", "[0.9, 0.999]", "Adam betas."], Cells("optim.betas"));
        Assert.Equal(["resume_from", "string or null", "null", "Checkpoint to resume from."], Cells("resume_from"));
        Assert.Equal(["bf16", "bool", "false", "Compute in bfloat16."], Cells("bf16"));
        Assert.Equal(["generation.stop", "list of string", "[]", "Stop strings."], Cells("generation.stop"));
    }

    [Fact]
    public void ToYaml_LoadsBackToAnEqualConfig()
    {
        var c = new RunsTestConfig
        {
            Name = "a: \"quoted\" #not comment\n\ttab \\ é",
            Seed = int.MinValue,
            MaxTokens = long.MaxValue,
            Bf16 = true,
            MaxGradNorm = null,
            ResumeFrom = "null",
            Datasets = ["true", "123", "", "x, y", "[z]", "plain/path.jsonl"],
            EvalSteps = [],
            Limit = 0,
            Optim = new() { Lr = 0.1 + 0.2, Betas = [double.NegativeInfinity, 1e-300, double.NaN, 5], Schedule = RunsTestSchedule.LinearWarmup },
            Generation = new() { Temperature = double.PositiveInfinity, Stop = ["\n\n", "~"] },
        };
        var yaml = ConfigBinder.ToYaml(c);
        Assert.Contains("optim:\n  lr: 0.30000000000000004\n  betas: [-.inf, 1.0e-300, .nan, 5.0]\n", yaml.Replace("\r\n", "\n"));
        var back = ConfigBinder.Load<RunsTestConfig>(Yaml(yaml), []);

        Assert.Equal(c.Name, back.Name);
        Assert.Equal(c.Seed, back.Seed);
        Assert.Equal(c.MaxTokens, back.MaxTokens);
        Assert.Equal(c.Bf16, back.Bf16);
        Assert.Null(back.MaxGradNorm);
        Assert.Equal("null", back.ResumeFrom);
        Assert.Equal(c.Datasets, back.Datasets);
        Assert.Empty(back.EvalSteps);
        Assert.Equal(0, back.Limit);
        Assert.Equal(c.Optim.Lr, back.Optim.Lr);
        Assert.Equal(c.Optim.Betas, back.Optim.Betas);
        Assert.Equal(c.Optim.Schedule, back.Optim.Schedule);
        Assert.Equal(c.Optim.WarmupSteps, back.Optim.WarmupSteps);
        Assert.Equal(double.PositiveInfinity, back.Generation.Temperature);
        Assert.Equal(c.Generation.Stop, back.Generation.Stop);
        Assert.Equal(yaml, ConfigBinder.ToYaml(back));
    }
}

/// <summary>
/// RecipeChecks and the data checks of the trainers: a value out of range is one line naming the recipe key, its value
/// and where it was set (file:line or the --set argument), never an internal parameter name.
/// </summary>
[Collection("GlobalRng")]
public sealed class RecipeCheckTests : IDisposable
{
    readonly DirectoryInfo dir = Directory.CreateTempSubdirectory("sharpen-recipe-check-");

    public void Dispose() => dir.Delete(recursive: true);

    string Yaml(string text)
    {
        var path = Path.Combine(dir.FullName, "recipe.yaml");
        File.WriteAllText(path, text);
        return path;
    }

    static string Fails(Recipe r) => Assert.Throws<ConfigException>(() => RecipeChecks.Validate(r)).Message;

    [Theory]
    [InlineData("train.micro_batch_size=0", "must be ≥ 1")]
    [InlineData("train.max_steps=0", "must be ≥ 1")]
    [InlineData("train.grad_accum_steps=0", "must be ≥ 1")]
    [InlineData("train.lr=-1", "must be a finite number ≥ 0")]
    [InlineData("train.lr=.inf", "must be a finite number ≥ 0")]
    [InlineData("train.lr=.nan", "must be a finite number ≥ 0")]
    [InlineData("train.beta2=1", "must lie in [0, 1)")]
    [InlineData("train.warmup_steps=200", "must not exceed train.max_steps = 100 (the cosine schedule decays after the warm-up)")]
    [InlineData("train.min_lr_ratio=2", "must lie in [0, 1]")]
    [InlineData("train.schedule=step", "must be constant, linear or cosine")]
    [InlineData("train.threads=-2", "must be ≥ 0 (0: every core)")]
    [InlineData("train.keep_checkpoints=0", "must be ≥ 1")]
    [InlineData("data.eval_fraction=1", "must lie in [0, 1)")]
    [InlineData("data.digits=19", "must lie in 1..18 for builtin:arithmetic")]
    [InlineData("data.on_bad_record=ignore", "must be error or skip")]
    [InlineData("model.max_length=0", "must be ≥ 1")]
    [InlineData("model.heads=3", "must be a multiple of model.kv_heads = 2")]
    [InlineData("model.hidden=12", "divided by model.heads = 4 must give an even head size ≥ 2 (RoPE rotates pairs of dimensions)")]
    [InlineData("model.chat_template=vicuna", "must be empty or one of chatml, llama3, plain")]
    [InlineData("method=ppo", "must be one of sft, preference, reward, online")]
    [InlineData("preference.label_smoothing=0.5", "must lie in [0, 0.5)")]
    [InlineData("reward.heads=0", "must be ≥ 1")]
    public void OutOfRangeSet_NamesTheSetArgument(string set, string problem)
    {
        var message = Fails(ConfigBinder.Load<Recipe>(null, [set]));
        Assert.Equal($"--set {set}: {problem}", message);
    }

    [Fact]
    public void OutOfRangeYamlValue_NamesFileLineKeyAndValue()
    {
        var path = Yaml("name: x\ntrain:\n  max_steps: 50\n  micro_batch_size: 0\n");
        var e = Assert.Throws<ConfigException>(() => RecipeChecks.Validate(ConfigBinder.Load<Recipe>(path, [])));
        Assert.Equal($"{path}:4: train.micro_batch_size = 0: must be ≥ 1", e.Message);
        Assert.Equal((path, 4, "train.micro_batch_size"), (e.File, e.Line, e.Key));

        // The key at fault is the one checked, wherever the other side of the comparison was set.
        path = Yaml("train:\n  warmup_steps: 10\n");
        Assert.Equal($"{path}:2: train.warmup_steps = 10: must not exceed train.max_steps = 5 (the cosine schedule decays after the warm-up)",
            Fails(ConfigBinder.Load<Recipe>(path, ["train.max_steps=5"])));
        // A default names the recipe file; a recipe built in code has no origin.
        Assert.Equal(path, ConfigBinder.Origin(ConfigBinder.Load<Recipe>(path, []), "train.lr"));
        Assert.Equal("train.micro_batch_size = 0: must be ≥ 1", Fails(new Recipe { Train = new() { MicroBatchSize = 0 } }));
    }

    [Fact]
    public void EveryRecipeInTheTreePassesTheChecks()
    {
        var recipes = Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "recipes");
        var files = Directory.GetFiles(recipes, "*.yaml");
        Assert.NotEmpty(files);
        foreach (var f in files) RecipeChecks.Validate(ConfigBinder.Load<Recipe>(f, []));
    }

    [Fact]
    public void DataEveryExampleOfWhichIsTruncatedToNothing_IsAnErrorSayingHowMany()
    {
        var r = ConfigBinder.Load<Recipe>(null, ["data.builtin_size=40", "data.eval_fraction=0.25", "model.layers=1", "model.hidden=16",
                                                 "model.heads=2", "model.kv_heads=1", "model.max_length=1", $"runs_dir={dir.FullName}"]);
        var e = Assert.Throws<ConfigException>(() => Trainers.Registry.Get("sft")(r, dir.FullName, TextWriter.Null));
        Assert.Equal("--set model.max_length=1: all 30 training examples of builtin:arithmetic are truncated to nothing " +
                     "(no completion token left to train on or score); raise model.max_length", e.Message);

        var log = new StringWriter();
        ModelSetup.CheckTruncation(r, "eval", 10, 3, log);
        Assert.Equal("data: warning: 3 of 10 eval examples of builtin:arithmetic have no completion token left after truncation " +
                     "to model.max_length = 1; they add nothing to the loss", log.ToString().Trim());
    }

    [Fact]
    public void DataPathThatIsADirectoryOrMissing_NamesTheRecipeKey()
    {
        var r = ConfigBinder.Load<Recipe>(null, [$"data.train={dir.FullName}"]);
        Assert.Equal($"--set data.train={dir.FullName}: is a directory, not a JSONL file",
            Assert.Throws<ConfigException>(() => ModelSetup.Split(r, TextWriter.Null)).Message);
        var path = Yaml($"data:\n  train: {dir.FullName}/none.jsonl\n");
        Assert.Equal($"{path}:2: data.train = {dir.FullName}/none.jsonl: no such file (a JSONL file, or builtin:… data)",
            Assert.Throws<ConfigException>(() => ModelSetup.Split(ConfigBinder.Load<Recipe>(path, []), TextWriter.Null)).Message);
    }
}
