using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// ORPO (Monolithic Preference Optimization without Reference Model, Hong et al., arXiv 2403.07691):
/// L = NLL(y_w) − λ·log σ(log odds(y_w) − log odds(y_l)), odds(y) = p/(1 − p) with p = exp(ℓ̄), ℓ̄ = log π_θ(y|x)/|y|;
/// reference-free. log(1 − p) is computed with a stable log1mexp.
/// </summary>
public static class Orpo
{
    /// <summary>Per-pair ORPO loss [B]; rewards λ·ℓ̄ (TRL's logging).</summary>
    public static PreferenceLossResult Loss(PreferenceBatch batch, PreferenceLossOptions o)
    {
        var (lw, ll) = batch.MeanLogProbs();                              // [B] each, < 0
        var logOddsRatio = (lw - Log1mexp(lw)) - (ll - Log1mexp(ll));   // [B]
        var loss = batch.ChosenMeanNll() - o.OrpoLambda * logOddsRatio.LogSigmoid();
        return new(loss, o.OrpoLambda * lw, o.OrpoLambda * ll);
    }

    /// <summary>
    /// log(1 − eˣ) for x &lt; 0, accurate both near 0 and far below it (Mächler, "Accurately Computing log(1 − exp(−|a|))"):
    /// log(−expm1 x) above −ln 2, log1p(−eˣ) below, with expm1 x = 2t/(1 − t), t = tanh(x/2). Both branches are finite
    /// for every x &lt; 0, so the unselected one leaves the gradient alone.
    /// </summary>
    public static Tensor Log1mexp(Tensor x)
    {
        var t = (x / 2).Tanh();
        var nearZero = (-2 * t).Log() - (-t).Log1p();  // log(−expm1 x) = log(−2t) − log(1 − t)
        var farBelow = (-x.Exp()).Log1p();
        return Tensor.Where(x > -Math.Log(2), nearZero, farBelow);
    }
}
