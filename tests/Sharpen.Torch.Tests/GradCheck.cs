namespace Sharpen.Torch.Tests;

using Torch = Sharpen.Torch.Torch;

/// <summary>
/// Compares autograd gradients with central finite differences in float64. The scalar checked is
/// L(x) = Σ v·f(x) with a fixed random projection v, so every output element contributes:
/// ∂L/∂xᵢ from Backward against (L(x + h eᵢ) − L(x − h eᵢ)) / 2h.
/// </summary>
internal static class GradCheck
{
    /// <summary>
    /// Checks every input that requires grad. <paramref name="f"/> must be deterministic and
    /// return a float64 tensor. Fails with the input, element, analytical and numerical values.
    /// </summary>
    public static void Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double h = 1e-6, double tol = 1e-6)
    {
        using var scope = new TensorScope();
        var y = f(inputs);
        Assert.Equal(DType.Float64, y.DType);
        var rng = new Random(12345);
        var v = new double[y.Numel];
        for (var i = 0; i < v.Length; i++) v[i] = rng.NextDouble() * 2 - 1;
        (y * Tensor.From(v, y.Shape)).Sum().Backward();

        var checkedAny = false;
        for (var k = 0; k < inputs.Length; k++)
        {
            if (!inputs[k].RequiresGrad) continue;
            checkedAny = true;
            var grad = inputs[k].Grad ?? throw new Xunit.Sdk.XunitException($"input {k} received no gradient");
            Assert.Equal(inputs[k].Shape, grad.Shape);
            var analytic = grad.ToArray<double>();
            var x = inputs[k].ToArray<double>();
            var shape = inputs[k].Shape;
            for (var i = 0; i < x.Length; i++)
            {
                var x0 = x[i];
                x[i] = x0 + h;
                var plus = Objective(f, inputs, k, x, shape, v);
                x[i] = x0 - h;
                var minus = Objective(f, inputs, k, x, shape, v);
                x[i] = x0;
                var numeric = (plus - minus) / (2 * h);
                if (Math.Abs(analytic[i] - numeric) > tol * Math.Max(1, Math.Abs(numeric)))
                    throw new Xunit.Sdk.XunitException(
                        $"input {k} [{string.Join(", ", shape)}], element {i}: autograd {analytic[i]:R}, finite difference {numeric:R}");
            }
        }
        Assert.True(checkedAny, "no input requires grad");
    }

    /// <summary>Σ v·f(inputs) with input k replaced by the values <paramref name="xk"/>, without recording.</summary>
    static double Objective(Func<Tensor[], Tensor> f, Tensor[] inputs, int k, double[] xk, long[] shape, double[] v)
    {
        using var scope = new TensorScope();
        using var noGrad = Torch.NoGrad();
        var args = (Tensor[])inputs.Clone();
        args[k] = Tensor.From(xk, shape);
        var y = f(args).ToArray<double>();
        var s = 0.0;
        for (var i = 0; i < y.Length; i++) s += v[i] * y[i];
        return s;
    }

    /// <summary>A float64 leaf requiring grad with values uniform in [lo, hi).</summary>
    public static Tensor Uniform(Random rng, long[] shape, double lo = -1, double hi = 1)
    {
        var x = new double[Count(shape)];
        for (var i = 0; i < x.Length; i++) x[i] = lo + (hi - lo) * rng.NextDouble();
        return Tensor.From(x, shape).RequiresGrad_();
    }

    /// <summary>A float64 leaf requiring grad with magnitudes in [min, max) and random signs (kinks at 0 avoided).</summary>
    public static Tensor AwayFromZero(Random rng, long[] shape, double min = 0.2, double max = 1.5)
    {
        var x = new double[Count(shape)];
        for (var i = 0; i < x.Length; i++) x[i] = (rng.Next(2) == 0 ? -1 : 1) * (min + (max - min) * rng.NextDouble());
        return Tensor.From(x, shape).RequiresGrad_();
    }

    /// <summary>
    /// A float64 leaf requiring grad whose values are pairwise at least 0.2 apart (a shuffled grid
    /// with jitter), so max, sort and top-k have no ties within ±h.
    /// </summary>
    public static Tensor Distinct(Random rng, long[] shape)
    {
        var n = (int)Count(shape);
        var x = new double[n];
        for (var i = 0; i < n; i++) x[i] = 0.3 * (i - n / 2.0) + 0.05 * rng.NextDouble();
        rng.Shuffle(x);
        return Tensor.From(x, shape).RequiresGrad_();
    }

    static long Count(long[] shape) => shape.Aggregate(1L, (a, b) => a * b);
}
