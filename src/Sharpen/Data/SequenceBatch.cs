namespace Sharpen.Data;

using Sharpen.Torch;

/// <summary>
/// A padded batch of token sequences on the CPU, as the collators make it. Row layouts: see <see cref="Collate"/>.
/// The batch owns its tensors (unless a <see cref="TensorScope"/> open at creation owns them) and disposes them.
/// </summary>
public sealed class SequenceBatch : IDisposable
{
    /// <summary>Token ids, padding filled with the pad id. [B, T] int64.</summary>
    public Tensor Ids { get; }

    /// <summary>True on real tokens, false on padding. [B, T] bool.</summary>
    public Tensor AttentionMask { get; }

    /// <summary>
    /// Aligned with <see cref="Ids"/>: true where token t is a target of the loss (predicted from the logits at t − 1).
    /// The first token of every sequence is never a target, since nothing before it predicts it. [B, T] bool.
    /// </summary>
    public Tensor LossMask { get; }

    /// <summary>
    /// Position of each token within its own sequence (0 at its first token; 0 on padding), or null when positions are
    /// simply 0..T−1. Set for packed and left-padded batches. [B, T] int64.
    /// </summary>
    public Tensor? PositionIds { get; }

    /// <summary>
    /// For packed batches: which example of its row each token belongs to (1, 2, … from the left; 0 on padding), else
    /// null. [B, T] int64. See <see cref="BlockCausalMask"/>.
    /// </summary>
    public Tensor? SegmentIds { get; }

    /// <summary>Real (non-padding) tokens in the batch.</summary>
    public long Tokens { get; }

    /// <summary>Tokens where <see cref="LossMask"/> is true.</summary>
    public long LossTokens { get; }

    /// <summary>Rows B.</summary>
    public int Rows => (int)Ids.Size(0);

    /// <summary>Padded length T.</summary>
    public int Length => (int)Ids.Size(1);

    /// <summary>A batch from its tensors (ownership passes to it) and counts.</summary>
    public SequenceBatch(Tensor ids, Tensor attentionMask, Tensor lossMask, Tensor? positionIds, Tensor? segmentIds, long tokens, long lossTokens)
    {
        Ids = ids;
        AttentionMask = attentionMask;
        LossMask = lossMask;
        PositionIds = positionIds;
        SegmentIds = segmentIds;
        Tokens = tokens;
        LossTokens = lossTokens;
    }

    /// <summary>
    /// The attention mask that keeps packed examples apart: [b, i, j] is true when tokens i and j of row b belong to
    /// the same example and j ≤ i. Without it (the plain <see cref="AttentionMask"/>) a packed token also attends to the
    /// earlier examples of its row. For unpacked batches: the causal mask restricted to real tokens. [B, T, T] bool.
    /// </summary>
    public Tensor BlockCausalMask()
    {
        using var scope = new TensorScope();
        var segments = SegmentIds ?? AttentionMask.To(DType.Int64);          // [B, T]
        var same = segments.Unsqueeze(2).Eq(segments.Unsqueeze(1));          // [B, T, T]
        var real = AttentionMask.Unsqueeze(2) & AttentionMask.Unsqueeze(1);  // [B, T, T]
        var causal = Tensor.Ones([Length, Length], DType.Bool).Tril();       // [T, T]
        return scope.Keep(same & real & causal);
    }

    /// <summary>Disposes the tensors.</summary>
    public void Dispose()
    {
        Ids.Dispose();
        AttentionMask.Dispose();
        LossMask.Dispose();
        PositionIds?.Dispose();
        SegmentIds?.Dispose();
    }
}
