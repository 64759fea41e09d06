using Sharpen.Torch;

namespace Sharpen.Tests;

/// <summary>Float64 tensors from C# arrays and element-wise comparisons for the RL part tests.</summary>
internal static class RlTestData
{
    public static Tensor Matrix(double[,] x) => Tensor.From(x);

    public static Tensor Vector(params double[] x) => Tensor.From(x);

    public static Tensor Ids(params long[] ids) => Tensor.From(ids);

    /// <summary>A float64 [B, T] leaf that requires grad.</summary>
    public static Tensor Leaf(double[,] x) => Tensor.From(x).RequiresGrad_();

    /// <summary>[B, T] random values in [lo, hi) from a seeded generator.</summary>
    public static double[,] Random(int rows, int cols, int seed, double lo = -1, double hi = 1)
    {
        var r = new Random(seed);
        var x = new double[rows, cols];
        for (var b = 0; b < rows; b++)
            for (var t = 0; t < cols; t++) x[b, t] = lo + (hi - lo) * r.NextDouble();
        return x;
    }

    /// <summary>perSample[b]·mask[b, t].</summary>
    public static double[,] Broadcast(double[] perSample, double[,] mask)
    {
        var x = new double[mask.GetLength(0), mask.GetLength(1)];
        for (var b = 0; b < x.GetLength(0); b++)
            for (var t = 0; t < x.GetLength(1); t++) x[b, t] = perSample[b] * mask[b, t];
        return x;
    }

    public static void Close(double expected, double actual, double tol = 1e-9) =>
        Assert.True(Math.Abs(expected - actual) <= tol * Math.Max(1, Math.Abs(expected)), $"expected {expected:R}, got {actual:R}");

    public static void Close(double expected, Tensor actual, double tol = 1e-9) => Close(expected, actual.ToDouble(), tol);

    public static void Close(double[] expected, Tensor actual, double tol = 1e-9) => Close(expected, actual.ToArray<double>(), tol);

    public static void Close(double[,] expected, Tensor actual, double tol = 1e-9)
    {
        Assert.Equal(new long[] { expected.GetLength(0), expected.GetLength(1) }, actual.Shape);
        Close(expected.Cast<double>().ToArray(), actual.ToArray<double>(), tol);
    }

    public static void Close(double[] expected, double[] actual, double tol = 1e-9)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * Math.Max(1, Math.Abs(expected[i])),
                $"element {i}: expected {expected[i]:R}, got {actual[i]:R}");
    }

    public static void Close(Tensor expected, Tensor actual, double tol = 1e-9)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        Close(expected.ToArray<double>(), actual.ToArray<double>(), tol);
    }
}
