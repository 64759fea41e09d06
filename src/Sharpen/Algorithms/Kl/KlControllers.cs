namespace Sharpen.Algorithms;

/// <summary>Holds the KL coefficient β and updates it from the KL measured at each step.</summary>
public interface IKlController
{
    /// <summary>The current KL coefficient β.</summary>
    double Beta { get; }

    /// <summary>Updates β after a step that measured mean KL <paramref name="kl"/> (nats per token) over <paramref name="steps"/> samples or steps.</summary>
    void Update(double kl, long steps);
}

/// <summary>A constant β.</summary>
public sealed class FixedKlController(double beta) : IKlController
{
    /// <inheritdoc/>
    public double Beta { get; } = beta;

    /// <inheritdoc/>
    public void Update(double kl, long steps) { }
}

/// <summary>
/// The adaptive controller of *Fine-Tuning Language Models from Human Preferences* (arXiv 1909.08593):
/// e = clip(KL/KL_target − 1, −0.2, 0.2), β ← β·(1 + e·n_steps/horizon). β grows while KL is above target
/// and shrinks while below.
/// </summary>
/// <param name="initialBeta">β at the start.</param>
/// <param name="targetKl">KL_target, nats per token.</param>
/// <param name="horizon">Number of steps (samples) over which a proportional error acts fully.</param>
public sealed class AdaptiveKlController(double initialBeta, double targetKl, double horizon) : IKlController
{
    /// <inheritdoc/>
    public double Beta { get; private set; } = initialBeta;

    /// <inheritdoc/>
    public void Update(double kl, long steps)
    {
        var error = Math.Clamp(kl / targetKl - 1, -0.2, 0.2);
        Beta *= 1 + error * steps / horizon;
    }
}
