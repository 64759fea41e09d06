using Sharpen.Torch;

namespace Sharpen.Algorithms.Preference;

/// <summary>
/// One batch of preference pairs (x, y_w ≻ y_l) as the pairwise losses read it. Log-probs are sequence
/// log-probs log π(y|x) = Σ_t m_t·ℓ_t, summed over completion tokens, not averaged (docs/algorithms.md §0).
/// </summary>
/// <param name="PolicyChosen">log π_θ(y_w|x), nats, [B].</param>
/// <param name="PolicyRejected">log π_θ(y_l|x), nats, [B].</param>
/// <param name="ReferenceChosen">log π_ref(y_w|x), nats, [B]; null for reference-free losses.</param>
/// <param name="ReferenceRejected">log π_ref(y_l|x), nats, [B]; null for reference-free losses.</param>
/// <param name="ChosenLengths">|y_w|, completion tokens, [B]; needed by length-normalised losses (ipo, simpo, orpo) and by the NLL fallback.</param>
/// <param name="RejectedLengths">|y_l|, completion tokens, [B]; needed by length-normalised losses.</param>
/// <param name="ChosenNll">
/// NLL(y_w): mean token cross-entropy of the chosen completion, nats per token, [B], for the sft, cpo and orpo terms.
/// When null it is −log π_θ(y_w|x)/|y_w|, which is the same quantity over the same tokens.
/// </param>
/// <param name="Margin">
/// Per-pair offset m, [B], subtracted from the logit βΔ by sigmoid, cdpo, robust and hinge (as the Bradley–Terry reward
/// loss does with a pair's margin, docs/algorithms.md §5.1); the other losses do not read it.
/// </param>
/// <param name="Delta">
/// δ: running mean of the implicit rewards β·h, kept by the trainer without gradient; bco_pair shifts its logits by it.
/// </param>
public sealed record PreferenceBatch(
    Tensor PolicyChosen,
    Tensor PolicyRejected,
    Tensor? ReferenceChosen = null,
    Tensor? ReferenceRejected = null,
    Tensor? ChosenLengths = null,
    Tensor? RejectedLengths = null,
    Tensor? ChosenNll = null,
    Tensor? Margin = null,
    double Delta = 0) : IReferenceBatch
{
    /// <summary>Throws a clear <see cref="ArgumentException"/> naming <paramref name="loss"/> if the reference log-probs are missing.</summary>
    public void RequireReference(string? loss = null)
    {
        if (ReferenceChosen is null || ReferenceRejected is null)
            throw new ArgumentException(
                $"{(loss is null ? "this preference loss" : $"preference loss '{loss}'")} needs reference log-probs, but " +
                "PreferenceBatch.ReferenceChosen/ReferenceRejected are null: score the pairs with the reference model " +
                "or pick a reference-free loss (simpo, cpo, orpo, sft)");
    }

    /// <summary>h_w, h_l = log π_θ(y|x) − log π_ref(y|x): the implicit rewards before scaling by β, nats, [B] each.</summary>
    public (Tensor Chosen, Tensor Rejected) LogRatios()
    {
        RequireReference();
        return (PolicyChosen - ReferenceChosen!, PolicyRejected - ReferenceRejected!);
    }

    /// <summary>ℓ̄_w, ℓ̄_l = log π_θ(y|x)/|y|: length-averaged policy log-probs, nats per token, [B] each.</summary>
    public (Tensor Chosen, Tensor Rejected) MeanLogProbs()
    {
        var (nw, nl) = Lengths();
        return (PolicyChosen / nw, PolicyRejected / nl);
    }

    /// <summary>h_w/|y_w|, h_l/|y_l|: length-averaged implicit rewards, nats per token, [B] each.</summary>
    public (Tensor Chosen, Tensor Rejected) MeanLogRatios()
    {
        var (hw, hl) = LogRatios();
        var (nw, nl) = Lengths();
        return (hw / nw, hl / nl);
    }

    /// <summary>NLL(y_w), nats per token, [B]: <see cref="ChosenNll"/>, or −log π_θ(y_w|x)/|y_w| when it is null.</summary>
    public Tensor ChosenMeanNll() =>
        ChosenNll ?? -PolicyChosen / (ChosenLengths ?? throw new ArgumentException(
            "PreferenceBatch.ChosenNll is null and ChosenLengths is null: one of them is needed for the NLL(y_w) term"));

    /// <summary>
    /// Rewards reported for logging by losses without a formula-specific reward: β·h where reference log-probs are given,
    /// otherwise β·log π_θ(y|x); [B] each.
    /// </summary>
    public (Tensor Chosen, Tensor Rejected) DefaultRewards(double beta) => ReferenceChosen is null || ReferenceRejected is null
        ? (beta * PolicyChosen, beta * PolicyRejected)
        : (beta * (PolicyChosen - ReferenceChosen), beta * (PolicyRejected - ReferenceRejected));

    /// <summary>The logit βΔ − m of the logistic-family losses, [B].</summary>
    public Tensor Logits(double beta)
    {
        var (hw, hl) = LogRatios();
        var z = beta * (hw - hl);  // [B]
        return Margin is null ? z : z - Margin;
    }

    (Tensor Chosen, Tensor Rejected) Lengths() =>
        ChosenLengths is null || RejectedLengths is null
            ? throw new ArgumentException("this length-normalised loss needs PreferenceBatch.ChosenLengths and RejectedLengths (completion token counts)")
            : (ChosenLengths, RejectedLengths);
}

/// <summary>
/// What a pairwise loss returns: per-example losses and, for logging, its implicit rewards (detached).
/// </summary>
/// <param name="Loss">Per-example loss, [B]; the trainer aggregates (usually the mean).</param>
/// <param name="ChosenRewards">Implicit reward of y_w, e.g. β·h_w for DPO, [B], no gradient.</param>
/// <param name="RejectedRewards">Implicit reward of y_l, [B], no gradient.</param>
public sealed record PreferenceLossResult(Tensor Loss, Tensor ChosenRewards, Tensor RejectedRewards)
{
    /// <summary>Implicit reward of y_w, [B], detached.</summary>
    public Tensor ChosenRewards { get; } = ChosenRewards.Detach();

    /// <summary>Implicit reward of y_l, [B], detached.</summary>
    public Tensor RejectedRewards { get; } = RejectedRewards.Detach();

    /// <summary>Reward margins r_w − r_l, [B], no gradient.</summary>
    public Tensor Margins => ChosenRewards - RejectedRewards;

    /// <summary>1 where r_w &gt; r_l else 0, [B], in the rewards' dtype (its mean is the preference accuracy).</summary>
    public Tensor Accuracy => (ChosenRewards > RejectedRewards).To(ChosenRewards.DType);
}
