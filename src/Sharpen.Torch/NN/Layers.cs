namespace Sharpen.Torch.NN;

/// <summary>
/// Affine map y = x·Wᵀ + b. Weight [out, in] and bias [out] start uniform in
/// [−1/√in, 1/√in], PyTorch's default for nn.Linear.
/// </summary>
public sealed class Linear : Module
{
    /// <summary>Input features (last dimension of the input).</summary>
    public long InFeatures { get; }

    /// <summary>Output features (last dimension of the output).</summary>
    public long OutFeatures { get; }

    /// <summary>The weight, [out, in].</summary>
    public Tensor Weight { get; }

    /// <summary>The bias, [out], or null when created without one.</summary>
    public Tensor? Bias { get; }

    /// <summary>A linear layer from <paramref name="inFeatures"/> to <paramref name="outFeatures"/>, initialised from the global generator (<see cref="Sharpen.Torch.Torch.Seed"/>).</summary>
    public Linear(long inFeatures, long outFeatures, bool bias = true, DType dtype = DType.Float32, Device? device = null)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        var bound = 1.0 / Math.Sqrt(inFeatures);
        Weight = RegisterParameter("weight", Uniform([outFeatures, inFeatures], bound, dtype, device));
        if (bias) Bias = RegisterParameter("bias", Uniform([outFeatures], bound, dtype, device));
    }

    // U(−bound, bound), made in place so no temporary is left behind.
    static Tensor Uniform(long[] shape, double bound, DType dtype, Device? device) =>
        Tensor.Rand(shape, dtype, device).Mul_(2 * bound).Add_(-bound);

    /// <summary>x [.., in] → [.., out].</summary>
    public Tensor Forward(Tensor x) => F.Linear(x, Weight, Bias);
}

/// <summary>A lookup table of <c>numEmbeddings</c> vectors of size <c>dim</c>, initialised N(0, 1) as in PyTorch.</summary>
public sealed class Embedding : Module
{
    /// <summary>The table, [numEmbeddings, dim].</summary>
    public Tensor Weight { get; }

    /// <summary>A table of <paramref name="numEmbeddings"/> rows of <paramref name="dim"/> values.</summary>
    public Embedding(long numEmbeddings, long dim, DType dtype = DType.Float32, Device? device = null) =>
        Weight = RegisterParameter("weight", Tensor.Randn([numEmbeddings, dim], dtype, device));

    /// <summary>int64 ids [..] → vectors [.., dim].</summary>
    public Tensor Forward(Tensor ids) => F.Embedding(Weight, ids);
}

/// <summary>
/// Root-mean-square normalisation over the last dimension with a learned scale
/// (Zhang &amp; Sennrich 2019, as in Llama/Qwen): x·rsqrt(mean(x²) + eps)·w. The scale starts at ones.
/// </summary>
public sealed class RMSNorm : Module
{
    /// <summary>Added to the mean square before the square root.</summary>
    public double Eps { get; }

    /// <summary>The scale, [dim].</summary>
    public Tensor Weight { get; }

    /// <summary>RMSNorm over a last dimension of size <paramref name="dim"/>.</summary>
    public RMSNorm(long dim, double eps = 1e-6, DType dtype = DType.Float32, Device? device = null)
    {
        Eps = eps;
        Weight = RegisterParameter("weight", Tensor.Ones([dim], dtype, device));
    }

    /// <summary>x [.., dim] → [.., dim].</summary>
    public Tensor Forward(Tensor x) => F.RmsNorm(x, Weight, Eps);
}

/// <summary>
/// Layer normalisation over the last dimension (Ba et al. 2016): (x − mean)/√(var + eps)·w + b.
/// The scale starts at ones, the bias at zeros.
/// </summary>
public sealed class LayerNorm : Module
{
    /// <summary>Added to the variance before the square root.</summary>
    public double Eps { get; }

    /// <summary>The scale, [dim].</summary>
    public Tensor Weight { get; }

    /// <summary>The shift, [dim], or null when created without one.</summary>
    public Tensor? Bias { get; }

    /// <summary>LayerNorm over a last dimension of size <paramref name="dim"/>.</summary>
    public LayerNorm(long dim, double eps = 1e-5, bool bias = true, DType dtype = DType.Float32, Device? device = null)
    {
        Eps = eps;
        Weight = RegisterParameter("weight", Tensor.Ones([dim], dtype, device));
        if (bias) Bias = RegisterParameter("bias", Tensor.Zeros([dim], dtype, device));
    }

    /// <summary>x [.., dim] → [.., dim].</summary>
    public Tensor Forward(Tensor x) => F.LayerNorm(x, Weight, Bias, Eps);
}

/// <summary>
/// In training mode zeroes each element with probability <see cref="P"/> and scales the rest by
/// 1/(1 − p) (Srivastava et al. 2014); the identity in evaluation mode.
/// </summary>
public sealed class Dropout : Module
{
    /// <summary>Probability of zeroing an element, in [0, 1].</summary>
    public double P { get; }

    /// <summary>Dropout with drop probability <paramref name="p"/>.</summary>
    public Dropout(double p)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1]");
        P = p;
    }

    /// <summary>x [..] → [..], same shape (a new handle to x itself in evaluation mode).</summary>
    public Tensor Forward(Tensor x) => F.Dropout(x, P, Training);
}
