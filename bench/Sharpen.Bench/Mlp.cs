using Sharpen.Torch;
using Sharpen.Torch.NN;
using Sharpen.Torch.Optim;

namespace Sharpen.Bench;

using Torch = Sharpen.Torch.Torch;

/// <summary>
/// One training step of a 2-layer MLP, 1024 → 1024 → 1024 with ReLU, batch 256, float32:
/// forward, MSE to a fixed random target, backward, AdamW step. The same ops, sizes and
/// optimiser settings as bench/python/mlp.py. Prints the median step's ms (robust to bursts of
/// other processes' work), the mean, and the final loss.
/// </summary>
static class Mlp
{
    const int Batch = 256, In = 1024, Hidden = 1024, Out = 1024;
    const int WarmupSteps = 10, TimedSteps = 50;

    public static int Run(int threads)
    {
        Torch.Threads = threads;
        Torch.Seed(0);
        using var fc1 = new Linear(In, Hidden);
        using var fc2 = new Linear(Hidden, Out);
        using var opt = new AdamW(fc1.Parameters().Concat(fc2.Parameters()), lr: 1e-3, weightDecay: 0.01);
        using var x = Tensor.Randn([Batch, In]);        // [B, In]
        using var target = Tensor.Randn([Batch, Out]);  // [B, Out]

        double Step()
        {
            using var scope = new TensorScope();
            var h = fc1.Forward(x).Relu();              // [B, Hidden]
            var y = fc2.Forward(h);                     // [B, Out]
            var loss = (y - target).Square().Mean();    // []
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
            return loss.ToDouble();
        }

        for (var i = 0; i < WarmupSteps; i++) Step();
        var ms = new double[TimedSteps];
        var last = 0.0;
        for (var i = 0; i < TimedSteps; i++)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            last = Step();
            ms[i] = Report.Seconds(start) * 1e3;
        }
        Report.Result("step", Report.Median(ms));
        Report.Result("step_mean", ms.Average());
        Report.Result("final_loss", last);
        Console.WriteLine($"openblas core: {OpenBlas.CoreName()}");
        return 0;
    }
}
