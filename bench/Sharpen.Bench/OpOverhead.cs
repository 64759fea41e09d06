using Sharpen.Torch;

namespace Sharpen.Bench;

using Torch = Sharpen.Torch.Torch;

/// <summary>
/// Per-op overhead: <c>c = a + b</c> on two 1-element float32 CPU tensors, where the kernel is
/// negligible and the time is the framework's (dispatch, allocation, the managed/native crossing).
/// Two ways a user writes it: disposing each result (<c>using var c = a + b;</c>) and one
/// <see cref="TensorScope"/> around every 1000 ops (the way a training step is written).
/// 1M ops each, timed in blocks of 10k; the figure is the median block's µs/op, which keeps
/// bursts of other processes' work on the machine out of it.
/// </summary>
static class OpOverhead
{
    const int Blocks = 100, BlockOps = 10_000, WarmupBlocks = 20;
    const int ScopeOps = 1000;

    public static int Run(int threads)
    {
        Torch.Threads = threads;
        using var a = Tensor.Ones([1]);
        using var b = Tensor.Ones([1]);

        for (var i = 0; i < WarmupBlocks; i++) { DisposeEach(a, b); ScopePer1000(a, b); }

        var dispose = new double[Blocks];
        var scope = new double[Blocks];
        for (var i = 0; i < Blocks; i++)   // the two patterns alternate block by block
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            DisposeEach(a, b);
            dispose[i] = Report.Seconds(start) / BlockOps * 1e6;   // µs/op
            start = System.Diagnostics.Stopwatch.GetTimestamp();
            ScopePer1000(a, b);
            scope[i] = Report.Seconds(start) / BlockOps * 1e6;     // µs/op
        }
        Report.Result("dispose", Report.Median(dispose));
        Report.Result("scope", Report.Median(scope));
        return 0;
    }

    static void DisposeEach(Tensor a, Tensor b)
    {
        for (var i = 0; i < BlockOps; i++)
        {
            using var c = a + b;
        }
    }

    static void ScopePer1000(Tensor a, Tensor b)
    {
        for (var s = 0; s < BlockOps / ScopeOps; s++)
        {
            using var scope = new TensorScope();
            for (var i = 0; i < ScopeOps; i++)
            {
                var c = a + b;
            }
        }
    }
}
