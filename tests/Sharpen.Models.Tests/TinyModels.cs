namespace Sharpen.Models.Tests;

using Sharpen.Torch;

/// <summary>Small random models for tests.</summary>
static class TinyModels
{
    public static ModelConfig Config(string type = "llama", int kvHeads = 2, bool tie = false) => new()
    {
        ModelType = type,
        VocabSize = 40,
        HiddenSize = 32,
        IntermediateSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = kvHeads,
        RopeTheta = 10000,
        RmsNormEps = 1e-6,
        TieWordEmbeddings = tie,
        MaxPositionEmbeddings = 128,
    };

    /// <summary>A model with random weights (norm weights perturbed too, so every parameter matters).</summary>
    public static CausalLM Model(ModelConfig c, ulong seed = 1)
    {
        Torch.Seed(seed);
        var m = new CausalLM(c);
        using (Torch.NoGrad())
            foreach (var (name, p) in m.NamedParameters())
                if (name.EndsWith("norm.weight") || name.Contains("_proj.bias"))
                {
                    using var noise = Tensor.Randn(p.Shape) * 0.1;
                    p.Add_(noise);
                }
        return m;
    }

    public static Tensor Ids(long[,] ids) => Tensor.From(ids);
}
