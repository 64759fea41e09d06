namespace Sharpen.Tests;

using Sharpen.Data;
using Sharpen.Data.Tasks;
using Sharpen.Torch;
using Sharpen.Training;
using Xunit.Abstractions;

[Collection("GlobalRng")]
public class OnlineScratchTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(0.005)]
    [InlineData(0.02)]
    public void Scratch(double Step)
    {
        var r = new Recipe
        {
            Name = "s", RunsDir = "/tmp/online-scratch", Method = "online",
            Model = { Init = "/tmp/online-runs/sft-add-1500/final" },
            Data = { Digits = 2, BuiltinSize = 4000 },
            Online = { EvalPrompts = 0, PromptsPerStep = 64, NSamples = 8, MaxNewTokens = 6, LogSamples = 0 },
            Train = { MaxSteps = 1 },
        };
        Torch.Seed(0);
        using var trainer = new OnlineTrainer(r, "/tmp/online-scratch", TextWriter.Null);
        var model = trainer.Policy;
        var tok = VerifiableTasks.Tokenizer();
        var all = VerifiableTasks.Sft(VerifiableTasks.Get("addition", 2), 500, 12345);
        var examples = Tokenize.Sft(all, tok, new TokenizeOptions(), out _);
        double Expected()
        {
            using var s = new TensorScope();
            using var g = Torch.NoGrad();
            using var batch = Collate.Sft(examples, 0);
            var (_, _, sum, _) = SequenceLogProbs.Compute(model, batch);
            return sum.Exp().Mean().ToDouble();
        }
        var before = Expected();
        var ps = model.Parameters().ToList();
        foreach (var p in ps) p.ZeroGrad();
        using (var s = new TensorScope())
        {
            using var batch = Collate.Sft(examples, 0);
            var (_, _, sum, _) = SequenceLogProbs.Compute(model, batch);
            (-sum.Exp().Mean()).Backward();
        }
        var sft = ps.Select(p => p.Grad!.Clone()).ToList();
        foreach (var p in ps) p.ZeroGrad();
        for (var rep = 0; rep < 30; rep++)
        {
            foreach (var p in ps) p.ZeroGrad();
            using (var s = new TensorScope())
            {
                var res = trainer.Micro(rep, 0);
                res.Loss.Backward();
                output.WriteLine($"reward {res.Metrics["reward/mean"]:F3} loss {res.Loss.ToDouble():F4}");
            }
            using (Torch.NoGrad())
            using (new TensorScope())
            {
                var norm = Math.Sqrt(ps.Sum(p => p.Grad is { } g ? g.Square().Sum().ToDouble() : 0));
                var snorm = Math.Sqrt(sft.Sum(g => g.Square().Sum().ToDouble()));
                var dot = ps.Select((p, i) => p.Grad is { } g ? (g * sft[i]).Sum().ToDouble() : 0).Sum();
                output.WriteLine($"cos(rl, dP) = {dot / norm / snorm:F4}");
                foreach (var p in ps) if (p.Grad is { } g) p.Add_(g, -Step / norm);
            }
            output.WriteLine($"P(correct) before {before:F4} after {Expected():F4}");
        }
    }
}
