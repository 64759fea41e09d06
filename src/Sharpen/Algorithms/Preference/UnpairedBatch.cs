using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// One batch of unpaired feedback (x, y, desirable?) as KTO and BCO read it. Log-probs are summed over completion
/// tokens (docs/algorithms.md §0).
/// </summary>
/// <param name="Policy">log π_θ(y|x), nats, [B].</param>
/// <param name="Reference">log π_ref(y|x), nats, [B]; null only for losses that do not need it.</param>
/// <param name="Desirable">Label per example, bool [B]: true = desirable (thumbs up), false = undesirable.</param>
/// <param name="KlEstimates">
/// KTO's mismatched-pair estimates log π_θ(y'|x) − log π_ref(y'|x), nats, [M]: completions y' of other prompts in the
/// batch (rolled by one), gathered over ranks by the trainer; KTO turns them into z₀ without gradient.
/// </param>
/// <param name="Delta">δ: BCO's running mean of the implicit rewards β·h, kept by the trainer without gradient.</param>
public sealed record UnpairedBatch(
    Tensor Policy,
    Tensor? Reference,
    Tensor Desirable,
    Tensor? KlEstimates = null,
    double Delta = 0) : IReferenceBatch
{
    /// <summary>Throws a clear <see cref="ArgumentException"/> naming <paramref name="loss"/> if <see cref="Reference"/> is null.</summary>
    public void RequireReference(string? loss = null)
    {
        if (Reference is null)
            throw new ArgumentException(
                $"{(loss is null ? "this unpaired preference loss" : $"unpaired preference loss '{loss}'")} needs reference log-probs, " +
                "but UnpairedBatch.Reference is null");
    }

    /// <summary>h = log π_θ(y|x) − log π_ref(y|x), nats, [B].</summary>
    public Tensor LogRatios()
    {
        RequireReference();
        return Policy - Reference!;
    }
}

/// <summary>What an unpaired loss returns: per-example losses and its implicit rewards for logging.</summary>
/// <param name="Loss">Per-example loss, [B], already weighted by λ_D or λ_U.</param>
/// <param name="Rewards">Implicit reward β·h of each example, [B], no gradient.</param>
public sealed record UnpairedLossResult(Tensor Loss, Tensor Rewards)
{
    /// <summary>Implicit reward of each example, [B], detached.</summary>
    public Tensor Rewards { get; } = Rewards.Detach();
}
