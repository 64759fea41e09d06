namespace Sharpen.Algorithms.Preference;

/// <summary>A pairwise preference loss (docs/algorithms.md §4): log-probs of chosen and rejected completions → per-pair loss and rewards.</summary>
public interface IPreferenceLoss
{
    /// <summary>Whether the loss reads reference log-probs; false means the trainer need not run π_ref at all.</summary>
    bool NeedsReference { get; }

    /// <summary>Per-pair losses [B] (to be minimised) and implicit rewards for logging.</summary>
    PreferenceLossResult Compute(PreferenceBatch batch, PreferenceLossOptions options);
}

/// <summary>An unpaired preference loss (KTO, BCO): each completion carries its own desirable/undesirable label.</summary>
public interface IUnpairedPreferenceLoss
{
    /// <summary>Whether the loss reads reference log-probs.</summary>
    bool NeedsReference { get; }

    /// <summary>Per-example losses [B] and implicit rewards for logging.</summary>
    UnpairedLossResult Compute(UnpairedBatch batch, PreferenceLossOptions options);
}

/// <summary>A listwise preference loss (PRO, LiPO): K scored completions per prompt.</summary>
public interface IListwisePreferenceLoss
{
    /// <summary>Whether the loss reads reference log-probs.</summary>
    bool NeedsReference { get; }

    /// <summary>Per-list losses [B] and the model's scores for logging.</summary>
    ListwiseLossResult Compute(ListwiseBatch batch, PreferenceLossOptions options);
}

/// <summary>A batch that may carry reference log-probs; <see cref="RequireReference"/> throws, naming the loss, when it does not.</summary>
public interface IReferenceBatch
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming <paramref name="loss"/> when the reference log-probs are missing.</summary>
    void RequireReference(string? loss = null);
}

/// <summary>A registered loss: a formula under a name, checking that reference log-probs are present when needed.</summary>
/// <param name="Name">Registry name, used in error messages.</param>
/// <param name="NeedsReference">Whether <paramref name="Formula"/> reads reference log-probs.</param>
/// <param name="Formula">The loss itself (one of the static functions in this folder).</param>
public abstract record RegisteredLoss<TBatch, TResult>(
    string Name,
    bool NeedsReference,
    Func<TBatch, PreferenceLossOptions, TResult> Formula) where TBatch : IReferenceBatch
{
    /// <summary>Checks the reference when needed, then applies <see cref="Formula"/>.</summary>
    public TResult Compute(TBatch batch, PreferenceLossOptions options)
    {
        if (NeedsReference) batch.RequireReference(Name);
        return Formula(batch, options);
    }
}

/// <summary>A registered pairwise loss.</summary>
public sealed record PreferenceLoss(string Name, bool NeedsReference, Func<PreferenceBatch, PreferenceLossOptions, PreferenceLossResult> Formula)
    : RegisteredLoss<PreferenceBatch, PreferenceLossResult>(Name, NeedsReference, Formula), IPreferenceLoss;

/// <summary>A registered unpaired loss.</summary>
public sealed record UnpairedPreferenceLoss(string Name, bool NeedsReference, Func<UnpairedBatch, PreferenceLossOptions, UnpairedLossResult> Formula)
    : RegisteredLoss<UnpairedBatch, UnpairedLossResult>(Name, NeedsReference, Formula), IUnpairedPreferenceLoss;

/// <summary>A registered listwise loss.</summary>
public sealed record ListwisePreferenceLoss(string Name, bool NeedsReference, Func<ListwiseBatch, PreferenceLossOptions, ListwiseLossResult> Formula)
    : RegisteredLoss<ListwiseBatch, ListwiseLossResult>(Name, NeedsReference, Formula), IListwisePreferenceLoss;
