namespace Sharpen.Training;

/// <summary>The `train:` section of a recipe: the shared loop's settings, used by every trainer.</summary>
public sealed class TrainOptions
{
    [Option("optimiser steps to run", Unit = "steps")] public long MaxSteps { get; set; } = 100;
    [Option("examples per micro-batch", Unit = "examples")] public int MicroBatchSize { get; set; } = 8;
    [Option("micro-batches accumulated into one optimiser step")] public int GradAccumSteps { get; set; } = 1;
    [Option("peak learning rate (AdamW)")] public double Lr { get; set; } = 1e-4;
    [Option("decoupled weight decay (AdamW)")] public double WeightDecay { get; set; } = 0.0;
    [Option("AdamW β₁")] public double Beta1 { get; set; } = 0.9;
    [Option("AdamW β₂")] public double Beta2 { get; set; } = 0.999;
    [Option("AdamW ε")] public double Eps { get; set; } = 1e-8;
    [Option("learning-rate schedule: constant, linear or cosine")] public string Schedule { get; set; } = "cosine";
    [Option("linear warm-up length", Unit = "steps")] public long WarmupSteps { get; set; } = 0;
    [Option("cosine floor as a fraction of the peak learning rate")] public double MinLrRatio { get; set; } = 0.0;
    [Option("clip the global gradient norm to this value (0: off)")] public double MaxGradNorm { get; set; } = 1.0;
    [Option("evaluate every N steps (0: only at the end)", Unit = "steps")] public long EvalEvery { get; set; } = 0;
    [Option("also evaluate before the first step (logged at step 0), to compare with the starting model")] public bool EvalAtStart { get; set; } = false;
    [Option("write a checkpoint every N steps (0: only at the end)", Unit = "steps")] public long SaveEvery { get; set; } = 0;
    [Option("checkpoints kept (older ones are deleted)")] public int KeepCheckpoints { get; set; } = 2;
    [Option("log train metrics every N steps", Unit = "steps")] public long LogEvery { get; set; } = 1;
    [Option("stop after this many consecutive steps with a non-finite loss or gradient (each is skipped)", Unit = "steps")] public int NanPatience { get; set; } = 5;
    [Option("random seed (weights, data order, sampling)")] public long Seed { get; set; } = 0;
    [Option("libtorch intra-op threads (0: every core)", Unit = "threads")] public int Threads { get; set; } = 0;
}
