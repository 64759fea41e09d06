namespace Sharpen.Training;

/// <summary>
/// A training recipe (`sharpen train RECIPE.yaml`): which trainer, on which model and data, with the shared
/// loop's settings and the trainer's own section. Every field has a default, a unit and a description
/// (`sharpen train --help-config`).
/// </summary>
public sealed class Recipe
{
    [Option("run name: the run directory is <runs_dir>/<name>")] public string Name { get; set; } = "run";
    [Option("folder holding run directories")] public string RunsDir { get; set; } = "runs";
    [Option("trainer: sft, reward, preference or online")] public string Method { get; set; } = "sft";
    /// <summary>The model to train.</summary>
    public ModelSection Model { get; set; } = new();
    /// <summary>The training data.</summary>
    public DataSection Data { get; set; } = new();
    /// <summary>The shared loop.</summary>
    public TrainOptions Train { get; set; } = new();
    /// <summary>Offline preference optimisation (method: preference).</summary>
    public PreferenceSection Preference { get; set; } = new();
    /// <summary>Reward modelling (method: reward).</summary>
    public RewardSection Reward { get; set; } = new();
    /// <summary>Online RL (method: online).</summary>
    public OnlineSection Online { get; set; } = new();
}

/// <summary>The `model:` section.</summary>
public sealed class ModelSection
{
    [Option("\"new\" for a fresh model of the size below, or a Hugging Face checkpoint directory")] public string Init { get; set; } = "new";
    [Option("recipe to run first when init names a checkpoint that does not exist yet (e.g. the SFT run a DPO run starts from)")] public string InitRecipe { get; set; } = "";
    [Option("new model: llama, mistral, qwen2 or qwen3")] public string Type { get; set; } = "llama";
    [Option("new model: transformer blocks")] public int Layers { get; set; } = 2;
    [Option("new model: hidden size", Unit = "units")] public int Hidden { get; set; } = 128;
    [Option("new model: attention heads")] public int Heads { get; set; } = 4;
    [Option("new model: key/value heads")] public int KvHeads { get; set; } = 2;
    [Option("new model: MLP width (0: 8/3 × hidden rounded to 32)", Unit = "units")] public int Intermediate { get; set; } = 0;
    [Option("longest training sequence; longer examples lose prompt tokens from the left", Unit = "tokens")] public int MaxLength { get; set; } = 64;
    [Option("chat template for conversational data: chatml, llama3 or plain (empty: none)")] public string ChatTemplate { get; set; } = "";
}

/// <summary>The `data:` section.</summary>
public sealed class DataSection
{
    [Option("training data: a JSONL file, or builtin:arithmetic (SFT) / builtin:arithmetic-pairs (preference and reward) / builtin:arithmetic-unpaired (KTO, BCO)")] public string Train { get; set; } = "builtin:arithmetic";
    [Option("evaluation data: a JSONL file; empty holds out eval_fraction of the training data")] public string Eval { get; set; } = "";
    [Option("fraction of the training data held out for evaluation when no eval file is given")] public double EvalFraction { get; set; } = 0.1;
    [Option("built-in data: number of examples", Unit = "examples")] public int BuiltinSize { get; set; } = 4000;
    [Option("built-in arithmetic: most digits per operand", Unit = "digits")] public int Digits { get; set; } = 2;
    [Option("built-in preference pairs: probability that chosen and rejected are swapped (label noise)")] public double FlipRate { get; set; } = 0.0;
    [Option("built-in task warm-up data: fraction of demonstrations written sloppily, with a leading zero (\"07\"), which the exact verifier rejects; RL can unlearn it (used by the quickstart)")] public double SloppyRate { get; set; } = 0.0;
    [Option("a malformed JSONL record: error (stop, naming file/line/field) or skip (count it)")] public string OnBadRecord { get; set; } = "error";
    [Option("SFT: loss on completion (or assistant) tokens only; false trains on every token")] public bool CompletionOnly { get; set; } = true;
}

/// <summary>The `preference:` section (offline preference optimisation; docs/algorithms.md §4).</summary>
public sealed class PreferenceSection
{
    [Option("losses, combined as Σ weight·loss. Pairwise (preference pairs): sigmoid (DPO), ipo, hinge, cdpo, robust, simpo, orpo, cpo, sppo_hard, nca_pair, bco_pair, apo_zero, apo_down, exo_pair, sft. Used alone: unpaired kto, bco, apo_zero_unpaired (unpaired data); listwise pro, lipo_lambda (ranked lists)")] public List<string> Loss { get; set; } = ["sigmoid"];
    [Option("weight of each loss (empty: all 1)")] public List<double> LossWeights { get; set; } = [];
    [Option("β: the KL strength / inverse temperature")] public double Beta { get; set; } = 0.1;
    [Option("ε: label smoothing (cdpo, simpo, cpo) or label-flip rate (robust)")] public double LabelSmoothing { get; set; } = 0.0;
    [Option("SimPO target margin γ")] public double SimpoGamma { get; set; } = 0.5;
    [Option("IPO: average h over completion tokens (false: summed h)")] public bool IpoLengthNormalize { get; set; } = true;
    [Option("CPO: weight α of the NLL(y_w) term")] public double CpoAlpha { get; set; } = 1.0;
    [Option("ORPO: weight λ of the odds-ratio term")] public double OrpoLambda { get; set; } = 0.1;
    [Option("EXO: ε of the target distribution (1 − ε, ε)")] public double ExoEpsilon { get; set; } = 1e-3;
    [Option("KTO (and apo_zero_unpaired): weight λ_D of desirable examples")] public double KtoDesirableWeight { get; set; } = 1.0;
    [Option("KTO (and apo_zero_unpaired): weight λ_U of undesirable examples")] public double KtoUndesirableWeight { get; set; } = 1.0;
    [Option("PRO: softmax temperature τ")] public double ProTemperature { get; set; } = 1.0;
    [Option("PRO: weight λ_SFT of the NLL term on the best response")] public double ProSftWeight { get; set; } = 0.0;
    [Option("LiPO-λ: weigh pairs by their Lambda weights (false: all 1)")] public bool LipoLambdaWeights { get; set; } = true;
    [Option("cache reference log-probs on disk in the run directory (computed once)")] public bool CacheReference { get; set; } = true;
    [Option("greedy-accuracy evaluation: prompts decoded and checked with the task's gold reward (0: off)", Unit = "prompts")] public int EvalPrompts { get; set; } = 200;
}

/// <summary>The `reward:` section (Bradley–Terry reward models; docs/algorithms.md §5.1).</summary>
public sealed class RewardSection
{
    [Option("reward loss: bradley_terry (−log σ(r_w − r_l − m), m the record's margin, 0 when absent)")] public string Loss { get; set; } = "bradley_terry";
    [Option("ensemble size K: linear heads on one shared trunk, each trained on the same pairs; they differ by their random initialisation (and resample with bootstrap)")] public int Heads { get; set; } = 1;
    [Option("each head trains on its own bootstrap resample of the training pairs (a per-pair, per-head count weights the loss)")] public bool Bootstrap { get; set; } = false;
    [Option("ensemble aggregation: mean, wco (worst case: min) or uwo (mean − λ·variance)")] public string Aggregation { get; set; } = "mean";
    [Option("UWO uncertainty weight λ")] public double UwoLambda { get; set; } = 1.0;
    [Option("reward centring coefficient: adds c·mean((r_w + r_l)²)")] public double CenterCoef { get; set; } = 0.0;
}
