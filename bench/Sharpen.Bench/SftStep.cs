using Sharpen.Models;
using Sharpen.Torch;
using Sharpen.Torch.Optim;
using Sharpen.Training;

namespace Sharpen.Bench;

using Torch = Sharpen.Torch.Torch;

/// <summary>
/// One SFT step of the quickstart-size model (recipes/sft.yaml's: Llama, 2 layers, hidden 128, 4/2 heads,
/// MLP 352, vocab 18, tied embeddings) on a fixed batch of 32 × 12 tokens with the loss on the last 4:
/// the same work as bench/python/sft_step.py, through Sharpen's own pieces (CausalLM, F.TokenLogProbs,
/// GradClip, the training loop's AdamW). Prints the median ms/step after warm-up and the final loss.
/// </summary>
static class SftStep
{
    const int V = 18, B = 32, T = 12, Targets = 4;

    public static int Run(int threads)
    {
        Torch.Threads = threads;
        Torch.Seed(0);
        var config = new ModelConfig
        {
            VocabSize = V, HiddenSize = 128, IntermediateSize = 352, NumHiddenLayers = 2, NumAttentionHeads = 4,
            NumKeyValueHeads = 2, TieWordEmbeddings = true, MaxPositionEmbeddings = 256,
        };
        using var model = new CausalLM(config);
        using var opt = TrainingLoop.CreateOptimizer(model, new TrainOptions { Lr = 3e-3, WeightDecay = 0.01 });
        var ids = new long[B * T];
        for (var b = 0; b < B; b++)
            for (var j = 0; j < T; j++) ids[b * T + j] = (3 * b + 5 * j) % V;
        using var input = Tensor.From(ids, B, T);                                          // [B, T]
        var m = new float[B * (T - 1)];
        for (var b = 0; b < B; b++)
            for (var j = T - 1 - Targets; j < T - 1; j++) m[b * (T - 1) + j] = 1;
        using var mask = Tensor.From(m, B, T - 1);                                          // [B, T−1]
        using var targets = input.Narrow(1, 1, T - 1);

        double Step()
        {
            using var scope = new TensorScope();
            var logits = model.Forward(input);                                             // [B, T, V]
            var logp = F.TokenLogProbs(logits.Narrow(1, 0, T - 1), targets) * mask;        // [B, T−1]
            var loss = -logp.Sum() / mask.Sum();
            opt.ZeroGrad();
            loss.Backward();
            GradClip.ClipGradNorm(model.Parameters(), 1.0);
            opt.Step();
            return loss.ToDouble();
        }

        for (var i = 0; i < 10; i++) Step();
        var times = new List<double>();
        var last = 0.0;
        for (var i = 0; i < 60; i++)
        {
            var start = System.Diagnostics.Stopwatch.GetTimestamp();
            last = Step();
            times.Add(Report.Seconds(start));
        }
        times.Sort();
        Report.Result("step", times[times.Count / 2] * 1e3);
        Report.Result("final_loss", last);
        return 0;
    }
}
