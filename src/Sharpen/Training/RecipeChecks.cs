namespace Sharpen.Training;

using Sharpen.Data.Tasks;
using Sharpen.Models;

/// <summary>
/// Range checks on a recipe's shared sections (model, data, train) and the preference and reward sections, made before
/// anything is written or built. Each failure is a <see cref="ConfigException"/> naming the recipe key, its value and
/// where it was set (<c>recipe.yaml:12</c> or <c>--set key=value</c>), instead of an error from deep inside naming an
/// internal parameter. The online section checks itself when its trainer is built (<see cref="OnlineTrainer"/>).
/// </summary>
public static class RecipeChecks
{
    /// <summary>Throws a <see cref="ConfigException"/> for the first value of <paramref name="r"/> out of its range.</summary>
    public static void Validate(Recipe r)
    {
        void Require(bool ok, string key, string problem)
        {
            if (!ok) throw ConfigBinder.Invalid(r, key, problem);
        }

        Require(Trainers.Registry.Names.Contains(r.Method), "method", $"must be one of {string.Join(", ", Trainers.Registry.Names)}");

        var m = r.Model;
        Require(m.Init.Length > 0, "model.init", "must be \"new\" or a checkpoint directory");
        if (m.Init == "new")
        {
            Require(ModelConfig.SupportedModelTypes.Contains(m.Type), "model.type", $"must be one of {string.Join(", ", ModelConfig.SupportedModelTypes)}");
            Require(m.Layers >= 1, "model.layers", "must be ≥ 1");
            Require(m.Hidden >= 1, "model.hidden", "must be ≥ 1");
            Require(m.Heads >= 1, "model.heads", "must be ≥ 1");
            Require(m.KvHeads >= 1, "model.kv_heads", "must be ≥ 1");
            Require(m.Heads % m.KvHeads == 0, "model.heads", $"must be a multiple of model.kv_heads = {m.KvHeads}");
            Require(m.Hidden / m.Heads is >= 2 and var headDim && headDim % 2 == 0, "model.hidden",
                $"divided by model.heads = {m.Heads} must give an even head size ≥ 2 (RoPE rotates pairs of dimensions)");
            Require(m.Intermediate >= 0, "model.intermediate", "must be ≥ 0 (0: the default width)");
        }
        Require(m.MaxLength >= 1, "model.max_length", "must be ≥ 1");
        Require(m.ChatTemplate.Length == 0 || ChatTemplates.Names.Contains(m.ChatTemplate), "model.chat_template",
            $"must be empty or one of {string.Join(", ", ChatTemplates.Names)}");

        var d = r.Data;
        Require(d.Train.Length > 0, "data.train", "must name a JSONL file or built-in data");
        Require(d.EvalFraction is >= 0 and < 1, "data.eval_fraction", "must lie in [0, 1)");
        Require(d.BuiltinSize >= 1, "data.builtin_size", "must be ≥ 1");
        Require(d.FlipRate is >= 0 and <= 1, "data.flip_rate", "must lie in [0, 1]");
        Require(d.SloppyRate is >= 0 and <= 1, "data.sloppy_rate", "must lie in [0, 1]");
        Require(d.OnBadRecord is "error" or "skip", "data.on_bad_record", "must be error or skip");
        var maxDigits = MaxDigits(r);
        Require(d.Digits >= 1 && d.Digits <= maxDigits.Max, "data.digits", $"must lie in 1..{maxDigits.Max} for {maxDigits.Source}");

        var t = r.Train;
        Require(t.MaxSteps >= 1, "train.max_steps", "must be ≥ 1");
        Require(t.MicroBatchSize >= 1, "train.micro_batch_size", "must be ≥ 1");
        Require(t.GradAccumSteps >= 1, "train.grad_accum_steps", "must be ≥ 1");
        Require(double.IsFinite(t.Lr) && t.Lr >= 0, "train.lr", "must be a finite number ≥ 0");
        Require(double.IsFinite(t.WeightDecay) && t.WeightDecay >= 0, "train.weight_decay", "must be a finite number ≥ 0");
        Require(t.Beta1 is >= 0 and < 1, "train.beta1", "must lie in [0, 1)");
        Require(t.Beta2 is >= 0 and < 1, "train.beta2", "must lie in [0, 1)");
        Require(double.IsFinite(t.Eps) && t.Eps >= 0, "train.eps", "must be a finite number ≥ 0");
        Require(t.Schedule is "constant" or "linear" or "cosine", "train.schedule", "must be constant, linear or cosine");
        Require(t.WarmupSteps >= 0, "train.warmup_steps", "must be ≥ 0");
        Require(t.WarmupSteps <= t.MaxSteps || t.Schedule == "constant", "train.warmup_steps",
            $"must not exceed train.max_steps = {t.MaxSteps} (the {t.Schedule} schedule decays after the warm-up)");
        Require(t.MinLrRatio is >= 0 and <= 1, "train.min_lr_ratio", "must lie in [0, 1]");
        Require(double.IsFinite(t.MaxGradNorm) && t.MaxGradNorm >= 0, "train.max_grad_norm", "must be a finite number ≥ 0 (0: no clipping)");
        Require(t.EvalEvery >= 0, "train.eval_every", "must be ≥ 0 (0: only at the end)");
        Require(t.SaveEvery >= 0, "train.save_every", "must be ≥ 0 (0: only at the end)");
        Require(t.KeepCheckpoints >= 1, "train.keep_checkpoints", "must be ≥ 1");
        Require(t.LogEvery >= 1, "train.log_every", "must be ≥ 1");
        Require(t.NanPatience >= 1, "train.nan_patience", "must be ≥ 1");
        Require(t.Threads >= 0, "train.threads", "must be ≥ 0 (0: every core)");

        var p = r.Preference;
        Require(double.IsFinite(p.Beta) && p.Beta > 0, "preference.beta", "must be a finite number > 0");
        Require(p.LabelSmoothing is >= 0 and < 0.5, "preference.label_smoothing", "must lie in [0, 0.5)");
        Require(p.LossWeights.All(double.IsFinite), "preference.loss_weights", "must be finite numbers");
        Require(p.EvalPrompts >= 0, "preference.eval_prompts", "must be ≥ 0");
        Require(r.Reward.Heads >= 1, "reward.heads", "must be ≥ 1");
    }

    // The most digits the recipe's built-in data or task allows, and which source sets that bound.
    static (int Max, string Source) MaxDigits(Recipe r)
    {
        var sources = new[] { r.Data.Train, r.Data.Eval, r.Method == "online" ? r.Online.Task : "" }
            .Where(s => s.StartsWith(VerifiableTasks.Prefix, StringComparison.Ordinal)).ToList();
        if (sources.Count == 0) return (int.MaxValue, "");
        return sources.Select(s => (Max: DigitsLimit(s), Source: s)).MinBy(x => x.Max);
    }

    // The largest data.digits that built-in source accepts: probe the task (its bound lives with it).
    static int DigitsLimit(string source)
    {
        int hi = 1;
        while (hi < 64 && Accepts(source, hi + 1)) hi++;
        return hi;
    }

    static bool Accepts(string source, int digits)
    {
        try
        {
            if (VerifiableTasks.IsTask(source)) VerifiableTasks.Get(source, digits);
            else _ = new Arithmetic(digits);
            return true;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }
}
