using Sharpen.Torch.NN;
using Sharpen.Torch.Optim;
using System.Runtime;
using Xunit.Abstractions;

namespace Sharpen.Torch.Tests;

/// <summary>Tests that measure process memory run alone.</summary>
[CollectionDefinition("Memory", DisableParallelization = true)]
public sealed class MemoryCollection;

[Collection("Memory")]
public class MemoryTests(ITestOutputHelper output)
{
    sealed class Mlp : Module
    {
        readonly Linear l1, l2;

        public Mlp()
        {
            l1 = RegisterModule("l1", new Linear(16, 32));
            l2 = RegisterModule("l2", new Linear(32, 1));
        }

        public Tensor Forward(Tensor x) => l2.Forward(l1.Forward(x).Relu());   // [B, 16] → [B, 1]
    }

    // Resident set size of this process in bytes (VmRSS in /proc/self/status, in kB), after a full
    // collection that also returns the managed heap's free memory to the OS.
    static long ResidentBytes()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        var line = File.ReadLines("/proc/self/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
    }

    [Fact]
    public void TenThousandTrainingStepsKeepResidentMemoryFlat()
    {
        Torch.Seed(0);
        using var gen = new Generator(0);
        using var model = new Mlp();
        using var opt = new AdamW(model.Parameters(), lr: 1e-3);
        void Iteration()
        {
            using var scope = new TensorScope();
            var x = Tensor.Randn([8, 16], generator: gen);
            var y = x.Sum(1, keepdim: true);
            var loss = (model.Forward(x) - y).Square().Mean();
            opt.ZeroGrad();
            loss.Backward();
            GradClip.ClipGradNorm(model.Parameters(), 1.0);
            opt.Step();
        }

        // Warm-up: 500 steps, then rounds of a pause and 500 steps until a round compiles no new
        // code. Tiered JIT compilation (with PGO) re-compiles hot methods in the background for a
        // while after start-up; the memory it takes is not a leak and must not be measured.
        for (var i = 0; i < 500; i++) Iteration();
        for (var round = 0; round < 20; round++)
        {
            var compiled = JitInfo.GetCompiledMethodCount();
            Thread.Sleep(100);
            for (var i = 0; i < 500; i++) Iteration();
            if (JitInfo.GetCompiledMethodCount() == compiled) break;
        }
        var warmup = opt.StepCount;
        var start = ResidentBytes();
        for (var i = 0; i < 9_500; i++) Iteration();
        var growth = ResidentBytes() - start;
        output.WriteLine($"resident memory: {start / 1024} kB after {warmup} warm-up steps, growth {growth / 1024} kB over 9,500 steps");
        // Without a leak it grows by well under 100 kB; leaking one [8, 16] float tensor per step adds
        // about 9 MB (tensors have no finalizer, so the collections above do not hide a leak).
        Assert.True(growth < 4 << 20, $"resident memory grew by {growth / 1024} kB over 9,500 steps");
    }

    [Fact]
    public void KeptTensorSurvivesItsScopeAndTheOthersAreDisposed()
    {
        Tensor kept, other;
        using (var scope = new TensorScope())
        {
            var a = Tensor.From(new float[] { 1, 2, 3 });
            other = a * 2;
            kept = scope.Keep(other + a);
            Assert.Equal(2, scope.Count);
        }
        Assert.Equal(new float[] { 3, 6, 9 }, kept.ToArray<float>());
        Assert.True(other.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => other.ToArray<float>());
        Assert.Throws<ObjectDisposedException>(() => other + kept);
        kept.Dispose();
        Assert.True(kept.IsDisposed);
    }

    [Fact]
    public void KeepInANestedScopeMovesTheTensorToTheParentWhichDisposesIt()
    {
        Tensor kept, inner;
        using (var outer = new TensorScope())
        {
            using (var scope = new TensorScope())
            {
                inner = Tensor.Ones([2]);
                kept = scope.Keep(inner * 5);
                Assert.Same(scope, TensorScope.Current);
            }
            Assert.True(inner.IsDisposed);
            Assert.False(kept.IsDisposed);
            Assert.Equal(new float[] { 5, 5 }, kept.ToArray<float>());
            Assert.Equal(1, outer.Count);
        }
        Assert.True(kept.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => kept.Sum());
    }
}
