namespace Sharpen.Data;

using Sharpen.Torch;

/// <summary>
/// Pads tokenised examples into <see cref="SequenceBatch"/>es (CPU tensors, int64 ids) and groups examples into
/// batches. Padding is on the right unless stated; the loss mask marks the trained tokens (completions, assistant turns).
/// </summary>
public static class Collate
{
    /// <summary>One row per example: its ids and loss mask, padded with <paramref name="padId"/> (on the left with <paramref name="leftPad"/>, which also sets position ids).</summary>
    public static SequenceBatch Sft(IReadOnlyList<SftExample> examples, int padId, bool leftPad = false) =>
        Rows(examples.Select(e => (e.Ids, e.LossMask)).ToList(), padId, leftPad);

    /// <summary>
    /// 2B rows: rows 0..B−1 are prompt + chosen, rows B..2B−1 prompt + rejected, in example order; the loss mask is on
    /// the response tokens.
    /// </summary>
    public static SequenceBatch Pairs(IReadOnlyList<PairExample> examples, int padId) =>
        Rows(examples.Select(e => Row(e.Prompt, e.Chosen)).Concat(examples.Select(e => Row(e.Prompt, e.Rejected))).ToList(), padId, false);

    /// <summary>B rows of prompt + completion with the loss mask on the completion (labels stay on the examples).</summary>
    public static SequenceBatch Unpaired(IReadOnlyList<UnpairedExample> examples, int padId) =>
        Rows(examples.Select(e => Row(e.Prompt, e.Completion)).ToList(), padId, false);

    /// <summary>
    /// B·K rows for B lists of K responses each: row b·K + k is prompt b + its k-th response (descending score order);
    /// the loss mask is on the response tokens. Every list must have the same K.
    /// </summary>
    public static SequenceBatch Lists(IReadOnlyList<ListExample> examples, int padId)
    {
        if (examples.Select(e => e.Responses.Length).Distinct().Count() > 1)
            throw new ArgumentException("every list in a batch must have the same number of responses K", nameof(examples));
        return Rows(examples.SelectMany(e => e.Responses.Select(r => Row(e.Prompt, r))).ToList(), padId, false);
    }

    /// <summary>
    /// Sequence packing for SFT: places each example, in order, into the first row of <paramref name="rowLength"/>
    /// tokens with room for it (a new row when none has), pads the rest. Position ids restart at 0 at each example and
    /// <see cref="SequenceBatch.SegmentIds"/> numbers the examples of a row. Limitation: the plain attention mask lets a
    /// token attend to earlier examples of its row; to keep examples apart pass
    /// <see cref="SequenceBatch.BlockCausalMask"/> to the model.
    /// </summary>
    /// <exception cref="ArgumentException">An example is longer than <paramref name="rowLength"/> (truncate it with TokenizeOptions.MaxLength).</exception>
    public static SequenceBatch Pack(IReadOnlyList<SftExample> examples, int rowLength, int padId)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rowLength);
        var rows = new List<List<SftExample>>();
        var used = new List<int>();
        for (var i = 0; i < examples.Count; i++)
        {
            var n = examples[i].Ids.Length;
            if (examples[i].LossMask.Length != n) throw new ArgumentException($"example {i}: {n} ids but {examples[i].LossMask.Length} mask entries", nameof(examples));
            if (n > rowLength) throw new ArgumentException($"example {i} has {n} tokens, more than the row length {rowLength}", nameof(examples));
            var r = used.FindIndex(u => u + n <= rowLength);
            if (r < 0)
            {
                rows.Add([]);
                used.Add(0);
                r = rows.Count - 1;
            }
            rows[r].Add(examples[i]);
            used[r] += n;
        }
        var b = rows.Count;
        var ids = new long[b * rowLength];
        var attention = new bool[ids.Length];
        var loss = new bool[ids.Length];
        var positions = new long[ids.Length];
        var segments = new long[ids.Length];
        Array.Fill(ids, padId);
        long lossTokens = 0;
        for (var r = 0; r < b; r++)
        {
            var at = r * rowLength;
            for (var s = 0; s < rows[r].Count; s++)
            {
                var e = rows[r][s];
                for (var t = 0; t < e.Ids.Length; t++, at++)
                {
                    ids[at] = e.Ids[t];
                    attention[at] = true;
                    loss[at] = t > 0 && e.LossMask[t];
                    positions[at] = t;
                    segments[at] = s + 1;
                    if (loss[at]) lossTokens++;
                }
            }
        }
        return new SequenceBatch(Tensor.From(ids, b, rowLength), Tensor.From(attention, b, rowLength), Tensor.From(loss, b, rowLength),
                                 Tensor.From(positions, b, rowLength), Tensor.From(segments, b, rowLength), used.Sum(), lossTokens);
    }

    /// <summary>
    /// Groups example indices into batches whose padded size (rows × longest length) is at most
    /// <paramref name="maxTokens"/>. The indices are shuffled with <paramref name="seed"/>, sorted by length within
    /// consecutive windows of <paramref name="window"/> (so batches hold similar lengths and waste little padding), cut
    /// greedily into batches, and the batches shuffled. Every index appears in exactly one batch.
    /// </summary>
    /// <exception cref="ArgumentException">One example alone is longer than <paramref name="maxTokens"/>.</exception>
    public static List<List<int>> TokenBudgetBatches(IReadOnlyList<int> lengths, int maxTokens, ulong seed = 0, int window = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTokens);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(window);
        for (var i = 0; i < lengths.Count; i++)
            if (lengths[i] > maxTokens)
                throw new ArgumentException($"example {i} has {lengths[i]} tokens, more than the budget of {maxTokens}", nameof(lengths));
        var rng = new SplitMix64(seed);
        var order = rng.Permutation(lengths.Count);
        for (var start = 0; start < order.Length; start += window)
            Array.Sort(order, start, Math.Min(window, order.Length - start), Comparer<int>.Create((a, b) => lengths[a].CompareTo(lengths[b])));
        var batches = new List<List<int>>();
        var current = new List<int>();
        var longest = 0;
        foreach (var i in order)
        {
            var grown = Math.Max(longest, lengths[i]);
            if (current.Count > 0 && (long)(current.Count + 1) * grown > maxTokens)
            {
                batches.Add(current);
                current = [];
                grown = lengths[i];
            }
            current.Add(i);
            longest = grown;
        }
        if (current.Count > 0) batches.Add(current);
        var shuffled = batches.ToArray();
        rng.Shuffle<List<int>>(shuffled);
        return [.. shuffled];
    }

    static (int[] Ids, bool[] Mask) Row(int[] prompt, int[] response) =>
        ([.. prompt, .. response], [.. new bool[prompt.Length], .. Enumerable.Repeat(true, response.Length)]);

    /// <summary>Pads <paramref name="rows"/> to their longest length; the first real token of a row is never a target.</summary>
    static SequenceBatch Rows(List<(int[] Ids, bool[] Mask)> rows, int padId, bool leftPad)
    {
        if (rows.Count == 0) throw new ArgumentException("cannot collate an empty batch");
        var b = rows.Count;
        var t = Math.Max(1, rows.Max(r => r.Ids.Length));
        var ids = new long[b * t];
        var attention = new bool[ids.Length];
        var loss = new bool[ids.Length];
        var positions = leftPad ? new long[ids.Length] : null;
        Array.Fill(ids, padId);
        long tokens = 0, lossTokens = 0;
        for (var r = 0; r < b; r++)
        {
            var (rowIds, mask) = rows[r];
            if (mask.Length != rowIds.Length) throw new ArgumentException($"row {r}: {rowIds.Length} ids but {mask.Length} mask entries");
            var at = r * t + (leftPad ? t - rowIds.Length : 0);
            for (var k = 0; k < rowIds.Length; k++)
            {
                ids[at + k] = rowIds[k];
                attention[at + k] = true;
                loss[at + k] = k > 0 && mask[k];
                if (positions is not null) positions[at + k] = k;
                if (loss[at + k]) lossTokens++;
            }
            tokens += rowIds.Length;
        }
        return new SequenceBatch(Tensor.From(ids, b, t), Tensor.From(attention, b, t), Tensor.From(loss, b, t),
                                 positions is null ? null : Tensor.From(positions, b, t), null, tokens, lossTokens);
    }
}
