namespace Sharpen.Torch.Optim;

/// <summary>A learning-rate schedule: the factor applied to each group's base learning rate at a step.</summary>
public interface ILrSchedule
{
    /// <summary>The multiplier at optimiser step <paramref name="step"/> (0 before the first step).</summary>
    double Multiplier(long step);
}

/// <summary>
/// The schedules of Hugging Face Transformers (get_constant/linear/cosine_schedule_with_warmup):
/// a linear warm-up from 0 over <c>warmupSteps</c> (multiplier step/warmupSteps), then the named
/// decay. Also a registry from name to schedule, for configs.
/// </summary>
public static class LrSchedules
{
    sealed class Schedule(Func<long, double> f) : ILrSchedule
    {
        public double Multiplier(long step) => f(step);
    }

    static readonly Dictionary<string, Func<long, long, double, ILrSchedule>> registry = new()
    {
        ["constant"] = (warmup, _, _) => Constant(warmup),
        ["linear"] = (warmup, total, _) => Linear(warmup, total),
        ["cosine"] = Cosine,
    };

    /// <summary>Warm-up, then 1.</summary>
    public static ILrSchedule Constant(long warmupSteps = 0)
    {
        Check(warmupSteps, warmupSteps);
        return new Schedule(step => step < warmupSteps ? Warmup(step, warmupSteps) : 1.0);
    }

    /// <summary>Warm-up, then a straight line from 1 down to 0 at <paramref name="totalSteps"/> (0 after).</summary>
    public static ILrSchedule Linear(long warmupSteps, long totalSteps)
    {
        Check(warmupSteps, totalSteps);
        return new Schedule(step => step < warmupSteps
            ? Warmup(step, warmupSteps)
            : Math.Max(0.0, (double)(totalSteps - step) / Math.Max(1, totalSteps - warmupSteps)));
    }

    /// <summary>
    /// Warm-up, then half a cosine wave from 1 down to <paramref name="minRatio"/> at
    /// <paramref name="totalSteps"/> (Loshchilov &amp; Hutter 2017, SGDR, without restarts):
    /// minRatio + (1 − minRatio)·0.5·(1 + cos(π·progress)), progress = (step − warmup)/(total − warmup),
    /// held at minRatio after <paramref name="totalSteps"/>.
    /// </summary>
    public static ILrSchedule Cosine(long warmupSteps, long totalSteps, double minRatio = 0.0)
    {
        Check(warmupSteps, totalSteps);
        if (!(minRatio >= 0 && minRatio <= 1)) throw new ArgumentOutOfRangeException(nameof(minRatio), minRatio, "minRatio must be in [0, 1]");
        return new Schedule(step =>
        {
            if (step < warmupSteps) return Warmup(step, warmupSteps);
            var progress = Math.Min(1.0, (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps));
            return minRatio + (1 - minRatio) * 0.5 * (1 + Math.Cos(Math.PI * progress));
        });
    }

    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyCollection<string> Names => registry.Keys;

    /// <summary>
    /// The schedule registered under <paramref name="name"/> ("constant", "linear", "cosine", or one
    /// added with <see cref="Register"/>). <paramref name="minRatio"/> is used by "cosine" only.
    /// Throws <see cref="ArgumentException"/> listing the known names for an unknown one.
    /// </summary>
    public static ILrSchedule Create(string name, long warmupSteps, long totalSteps, double minRatio = 0) =>
        registry.TryGetValue(name, out var factory)
            ? factory(warmupSteps, totalSteps, minRatio)
            : throw new ArgumentException($"unknown learning-rate schedule '{name}'; known: {string.Join(", ", registry.Keys)}", nameof(name));

    /// <summary>Adds (or replaces) a named schedule: a factory of (warmupSteps, totalSteps, minRatio).</summary>
    public static void Register(string name, Func<long, long, double, ILrSchedule> factory) => registry[name] = factory;

    static double Warmup(long step, long warmupSteps) => (double)step / Math.Max(1, warmupSteps);

    static void Check(long warmupSteps, long totalSteps)
    {
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "warm-up steps must be ≥ 0");
        if (totalSteps < warmupSteps) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, $"total steps must be ≥ warm-up steps ({warmupSteps})");
    }
}

/// <summary>
/// Drives an optimiser's learning rates from a schedule: every group's <see cref="ParamGroup.Lr"/>
/// becomes <see cref="ParamGroup.BaseLr"/> · multiplier(step). Applies step 0 on construction; call
/// <see cref="Step"/> after each optimiser step, as in PyTorch.
/// </summary>
public sealed class LrScheduler
{
    readonly Optimizer optimizer;
    readonly ILrSchedule schedule;
    long stepCount;

    /// <summary>Attaches <paramref name="schedule"/> to <paramref name="optimizer"/> and applies step 0.</summary>
    public LrScheduler(Optimizer optimizer, ILrSchedule schedule)
    {
        this.optimizer = optimizer;
        this.schedule = schedule;
        Apply();
    }

    /// <summary>
    /// Scheduler steps taken so far (the step the current learning rates are for). Setting it (when
    /// resuming from a checkpoint) applies that step's multiplier.
    /// </summary>
    public long StepCount
    {
        get => stepCount;
        set
        {
            if (value < 0) throw new ArgumentOutOfRangeException(nameof(value), value, "step must be ≥ 0");
            stepCount = value;
            Apply();
        }
    }

    /// <summary>The multiplier in force now: schedule.Multiplier(<see cref="StepCount"/>).</summary>
    public double CurrentMultiplier => schedule.Multiplier(stepCount);

    /// <summary>Advances one step and updates every group's learning rate.</summary>
    public void Step()
    {
        stepCount++;
        Apply();
    }

    void Apply()
    {
        var m = CurrentMultiplier;
        foreach (var g in optimizer.Groups) g.Lr = g.BaseLr * m;
    }
}
