using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// One batch of ranked lists (x, y^1..y^K with scores) as the listwise losses read it. Log-probs are summed over
/// completion tokens (docs/algorithms.md §0).
/// </summary>
/// <param name="Policy">log π_θ(y^k|x), nats, [B, K].</param>
/// <param name="Reference">log π_ref(y^k|x), nats, [B, K]; null for reference-free losses (pro).</param>
/// <param name="Scores">
/// Labels ψ, higher is better, [B, K]; for ranks (1 is best) pass −rank. Equal scores are ties: lipo_lambda skips tied
/// pairs, pro orders them arbitrarily.
/// </param>
/// <param name="Lengths">|y^k|, completion tokens, [B, K]; needed by pro (length-normalised scores).</param>
/// <param name="BestNll">
/// NLL(y^1) of the best-scored completion, nats per token, [B], for pro's SFT term; when null it is
/// −log π_θ(y^1|x)/|y^1|.
/// </param>
public sealed record ListwiseBatch(
    Tensor Policy,
    Tensor? Reference,
    Tensor Scores,
    Tensor? Lengths = null,
    Tensor? BestNll = null) : IReferenceBatch
{
    /// <summary>Throws a clear <see cref="ArgumentException"/> naming <paramref name="loss"/> if <see cref="Reference"/> is null.</summary>
    public void RequireReference(string? loss = null)
    {
        if (Reference is null)
            throw new ArgumentException(
                $"{(loss is null ? "this listwise preference loss" : $"listwise preference loss '{loss}'")} needs reference log-probs, " +
                "but ListwiseBatch.Reference is null");
    }

    /// <summary>h = log π_θ(y|x) − log π_ref(y|x), nats, [B, K].</summary>
    public Tensor LogRatios()
    {
        RequireReference();
        return Policy - Reference!;
    }

    /// <summary>ℓ̄ = log π_θ(y|x)/|y|, nats per token, [B, K].</summary>
    public Tensor MeanLogProbs() => Policy / (Lengths ?? throw new ArgumentException(
        "this length-normalised listwise loss needs ListwiseBatch.Lengths (completion token counts)"));
}

/// <summary>What a listwise loss returns: per-list losses and the scores it ranked by, for logging.</summary>
/// <param name="Loss">Per-list loss, [B].</param>
/// <param name="Rewards">The model's score of each completion (β·h for lipo_lambda, ℓ̄ for pro), [B, K], no gradient.</param>
public sealed record ListwiseLossResult(Tensor Loss, Tensor Rewards)
{
    /// <summary>The model's score of each completion, [B, K], detached.</summary>
    public Tensor Rewards { get; } = Rewards.Detach();
}
