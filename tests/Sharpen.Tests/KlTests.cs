using Sharpen.Algorithms;
using Sharpen.Torch;

namespace Sharpen.Tests;

using static RlTestData;

/// <summary>KL estimators k1, k2, k3 and the KL controllers against hand values.</summary>
public class KlTests
{
    [Fact]
    public void Estimators_MatchTheirFormulasIncludingK3Clamps()
    {
        using var scope = new TensorScope();
        // d = ℓ − ℓ^ref = 0.5, −0.3, 2, −25 (−d clamped to 20, k3 to 10), 1 (masked).
        var logp = Matrix(new double[,] { { -1.0, -2.3, 0.0, -26.0, -1.0 } });
        var refLogp = Matrix(new double[,] { { -1.5, -2.0, -2.0, -1.0, -2.0 } });
        var mask = Matrix(new double[,] { { 1, 1, 1, 1, 0 } });
        double[] d = { 0.5, -0.3, 2.0, -25.0, 0 };
        double K3(double x) => Math.Exp(-x) + x - 1;

        Close(d, KlEstimators.Registry.Get("k1")(logp, refLogp, mask), 1e-12);
        Close(d.Select(x => 0.5 * x * x).ToArray(), KlEstimators.Registry.Get("k2")(logp, refLogp, mask), 1e-12);
        Close(new[] { K3(0.5), K3(-0.3), K3(2.0), 10.0, 0 }, KlEstimators.Registry.Get("k3")(logp, refLogp, mask), 1e-12);
        Close(Math.Min(Math.Exp(20) - 20 - 1, 10), 10.0);
    }

    [Fact]
    public void Estimators_AreZeroWhenThePolicyEqualsTheReference_AndK3IsNonNegative()
    {
        using var scope = new TensorScope();
        var logp = Random(4, 6, seed: 21, lo: -4, hi: -0.05);
        var refLogp = Random(4, 6, seed: 22, lo: -4, hi: -0.05);
        var mask = Matrix(new double[,] { { 1, 1, 1, 1, 1, 1 }, { 1, 1, 1, 0, 0, 0 }, { 1, 1, 1, 1, 1, 0 }, { 1, 0, 0, 0, 0, 0 } });
        foreach (var name in new[] { "k1", "k2", "k3" })
            Close(new double[4, 6], KlEstimators.Registry.Get(name)(Matrix(logp), Matrix(logp), mask), 0);
        var k3 = KlEstimators.K3(Matrix(logp), Matrix(refLogp), mask).ToArray<double>();
        Assert.All(k3, x => Assert.True(x >= 0));
        Assert.True(k3.Max() > 0.1);
    }

    [Fact]
    public void K3_GradientIsOneMinusTheRatioRefOverPolicy()
    {
        using var scope = new TensorScope();
        // ∂/∂ℓ (e^{−d} + d − 1) = 1 − e^{−d}.
        var logp = Leaf(new double[,] { { -1.0, -0.4 } });
        KlEstimators.K3(logp, Matrix(new double[,] { { -1.3, -1.4 } }), Matrix(new double[,] { { 1, 1 } })).Sum().Backward();
        Close(new[] { 1 - Math.Exp(-0.3), 1 - Math.Exp(-1.0) }, logp.Grad!, 1e-12);
    }

    [Fact]
    public void AdaptiveController_MovesBetaByTheClippedProportionalError()
    {
        var controller = new AdaptiveKlController(initialBeta: 0.1, targetKl: 6, horizon: 10000);
        var beta = 0.1;
        controller.Update(kl: 9, steps: 256);      // error 0.5 clipped to 0.2
        beta *= 1 + 0.2 * 256 / 10000;
        Close(beta, controller.Beta, 1e-14);
        controller.Update(kl: 3, steps: 256);      // error −0.5 clipped to −0.2
        beta *= 1 - 0.2 * 256 / 10000;
        Close(beta, controller.Beta, 1e-14);
        controller.Update(kl: 6.6, steps: 512);    // error 0.1
        beta *= 1 + 0.1 * 512 / 10000;
        Close(beta, controller.Beta, 1e-14);
        Assert.NotEqual(0.1, controller.Beta);
    }

    [Fact]
    public void FixedController_KeepsBeta()
    {
        var controller = new FixedKlController(0.05);
        controller.Update(kl: 100, steps: 1000);
        Assert.Equal(0.05, controller.Beta);
    }

    [Fact]
    public void Registry_UnknownName_ListsTheKnownEstimators()
    {
        var e = Assert.Throws<ArgumentException>(() => KlEstimators.Registry.Get("k4"));
        Assert.Contains("unknown KL estimator 'k4'", e.Message);
        Assert.Contains("k1, k2, k3", e.Message);
    }
}
