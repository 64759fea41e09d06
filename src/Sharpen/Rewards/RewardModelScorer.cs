namespace Sharpen.Rewards;

/// <summary>
/// A learned reward model as a reward function (docs/algorithms.md §5.1): wraps a batched scorer (prompt, completion) pairs →
/// scalar rewards, so the trainer can plug in a scalar-head model without this folder depending on training code.
/// A non-finite score is an <see cref="RewardStatus.Error"/> (null); a scorer that returns the wrong count throws.
/// </summary>
/// <param name="scorer">Scores a batch of (prompt, completion) pairs, one value per pair, in order.</param>
/// <param name="batchSize">Pairs per scorer call (default 0: the whole batch in one call).</param>
public sealed class RewardModelScorer(Func<IReadOnlyList<(string Prompt, string Completion)>, double[]> scorer, int batchSize = 0)
    : IBatchedRewardFunction
{
    /// <inheritdoc/>
    public string Name => "reward_model";

    /// <inheritdoc/>
    public RewardResult Score(RewardInput input) => ScoreBatch([input])[0];

    /// <inheritdoc/>
    public IReadOnlyList<RewardResult> ScoreBatch(IReadOnlyList<RewardInput> inputs)
    {
        var results = new List<RewardResult>(inputs.Count);
        int size = batchSize > 0 ? batchSize : Math.Max(1, inputs.Count);
        foreach (var chunk in inputs.Chunk(size))
        {
            var scores = scorer(chunk.Select(x => (x.Prompt, x.Completion)).ToArray());
            if (scores.Length != chunk.Length)
                throw new InvalidOperationException($"reward model returned {scores.Length} scores for {chunk.Length} completions");
            results.AddRange(scores.Select(s => double.IsFinite(s) ? RewardResult.Scored(s) : RewardResult.Error()));
        }
        return results;
    }
}
