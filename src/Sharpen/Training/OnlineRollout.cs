namespace Sharpen.Training;

using Sharpen.Data.Tasks;
using Sharpen.Models;
using Sharpen.Torch;

/// <summary>One generated completion of a rollout: the problem it answers, its prompt tokens and the engine's output.</summary>
/// <param name="Problem">Index of the training problem.</param>
/// <param name="Prompt">The prompt's token ids.</param>
/// <param name="Completion">Sampled tokens, behaviour log-probs ℓ^roll and finish reason.</param>
sealed record RolloutRow(int Problem, int[] Prompt, Completion Completion)
{
    /// <summary>Prompt plus completion tokens.</summary>
    public int Length => Prompt.Length + Completion.Tokens.Length;

    /// <summary>The completion ended at max_new_tokens rather than at its end token.</summary>
    public bool Truncated => Completion.Finish == FinishReason.Length;
}

/// <summary>A scored row: its verdict and its outcome reward R (verdict reward plus the overlong penalty).</summary>
sealed record ScoredRow(RolloutRow Row, Verdict Verdict, double Reward);

/// <summary>
/// One iteration's rollout batch as padded CPU tensors, owned here (outside every <see cref="TensorScope"/>) until its
/// minibatches are used up. Rows are prompt + completion, right-padded, so positions count from each prompt's first
/// token exactly as in generation. Per-token tensors are [B, T−1], aligned with next-token predictions: column t holds
/// the quantity of token t + 1, predicted from the logits at t.
/// </summary>
sealed class OnlineRollout : IDisposable
{
    /// <summary>Token ids [B, T] (int64).</summary>
    public required Tensor Ids { get; init; }

    /// <summary>True on real tokens [B, T] (bool).</summary>
    public required Tensor AttentionMask { get; init; }

    /// <summary>m: 1 on completion tokens that enter the loss [B, T−1] (float32).</summary>
    public required Tensor Mask { get; init; }

    /// <summary>ℓ^roll: the engine's log-probs of the sampled tokens [B, T−1].</summary>
    public required Tensor RolloutLogProbs { get; init; }

    /// <summary>ℓ^old: the trainer's log-probs of the same tokens before the updates [B, T−1].</summary>
    public required Tensor OldLogProbs { get; init; }

    /// <summary>ℓ^ref under the frozen reference [B, T−1], when a KL term is configured.</summary>
    public Tensor? RefLogProbs { get; init; }

    /// <summary>V_old: the critic's values before the updates [B, T−1], with a critic.</summary>
    public Tensor? OldValues { get; init; }

    /// <summary>A [B, T−1], set once rewards are in.</summary>
    public Tensor? Advantages { get; set; }

    /// <summary>Returns [B, T−1] (the critic's targets), set with the advantages.</summary>
    public Tensor? Returns { get; set; }

    /// <summary>Detached rollout importance weights w [B, T−1] (the mask itself when the correction is off).</summary>
    public Tensor? Weights { get; set; }

    /// <summary>Real tokens per row.</summary>
    public required int[] Lengths { get; init; }

    /// <summary>Loss tokens per row.</summary>
    public required int[] LossTokens { get; init; }

    /// <summary>Rows B.</summary>
    public int Rows => Lengths.Length;

    /// <summary>
    /// The rows as padded tensors: ids and attention [B, T], loss mask and ℓ^roll [B, T−1] (the mask is 0 on completions
    /// that hit max_new_tokens when <paramref name="maskTruncated"/>), with real and loss tokens per row.
    /// </summary>
    public static (Tensor Ids, Tensor Attention, Tensor Mask, Tensor RolloutLogProbs, int[] Lengths, int[] LossTokens) Pad(
        IReadOnlyList<RolloutRow> rows, int padId, bool maskTruncated)
    {
        int b = rows.Count, t = rows.Max(r => r.Length);
        var ids = new long[b * t];
        var attention = new bool[b * t];
        var mask = new float[b * (t - 1)];
        var rollout = new float[b * (t - 1)];
        var lengths = new int[b];
        var lossTokens = new int[b];
        Array.Fill(ids, padId);
        for (var i = 0; i < b; i++)
        {
            var (prompt, c) = (rows[i].Prompt, rows[i].Completion);
            var trained = !(maskTruncated && rows[i].Truncated);
            for (var j = 0; j < prompt.Length; j++) (ids[i * t + j], attention[i * t + j]) = (prompt[j], true);
            for (var k = 0; k < c.Tokens.Length; k++)
            {
                var at = prompt.Length + k;                            // token position in the row
                (ids[i * t + at], attention[i * t + at]) = (c.Tokens[k], true);
                mask[i * (t - 1) + at - 1] = trained ? 1 : 0;          // predicted from position at − 1
                rollout[i * (t - 1) + at - 1] = c.LogProbs[k];
            }
            lengths[i] = rows[i].Length;
            lossTokens[i] = trained ? c.Tokens.Length : 0;
        }
        return (Tensor.From(ids, b, t), Tensor.From(attention, b, t), Tensor.From(mask, b, t - 1), Tensor.From(rollout, b, t - 1), lengths, lossTokens);
    }

    /// <summary>Disposes the tensors.</summary>
    public void Dispose()
    {
        foreach (var t in new[] { Ids, AttentionMask, Mask, RolloutLogProbs, OldLogProbs, RefLogProbs, OldValues, Advantages, Returns, Weights })
            t?.Dispose();
    }
}
