using Sharpen.Data;
using Sharpen.Torch;

namespace Sharpen.Tests;

/// <summary>Padding, row layouts, sequence packing and token-budget batching.</summary>
public class DataCollateTests
{
    static long[][] Rows(Tensor t) => Split(t.ToArray<long>(), (int)t.Size(1));

    static bool[][] BoolRows(Tensor t) => Split(t.ToArray<bool>(), (int)t.Size(1));

    static T[][] Split<T>(T[] flat, int width) => flat.Chunk(width).ToArray();

    [Fact]
    public void Sft_RightPadsWithThePadIdAndNeverTargetsTheFirstToken()
    {
        using var batch = Collate.Sft([new SftExample([5, 6, 7], [false, true, true]), new SftExample([8, 9], [true, true])], padId: 0);
        Assert.Equal([2L, 3L], batch.Ids.Shape);
        Assert.Equal((DType.Int64, DType.Bool, DType.Bool), (batch.Ids.DType, batch.AttentionMask.DType, batch.LossMask.DType));
        Assert.Equal([[5L, 6, 7], [8, 9, 0]], Rows(batch.Ids));
        Assert.Equal([[true, true, true], [true, true, false]], BoolRows(batch.AttentionMask));
        Assert.Equal([[false, true, true], [false, true, false]], BoolRows(batch.LossMask));
        Assert.Null(batch.PositionIds);
        Assert.Equal((5L, 3L), (batch.Tokens, batch.LossTokens));
    }

    [Fact]
    public void Sft_LeftPadPutsPaddingFirstAndPositionsStartAtTheFirstRealToken()
    {
        using var batch = Collate.Sft([new SftExample([5, 6, 7], [false, true, true]), new SftExample([8, 9], [true, true])], padId: 99, leftPad: true);
        Assert.Equal([[5L, 6, 7], [99, 8, 9]], Rows(batch.Ids));
        Assert.Equal([[true, true, true], [false, true, true]], BoolRows(batch.AttentionMask));
        Assert.Equal([[false, true, true], [false, false, true]], BoolRows(batch.LossMask));
        Assert.Equal([[0L, 1, 2], [0, 0, 1]], Rows(batch.PositionIds!));
    }

    [Fact]
    public void Pairs_PutChosenInRows0ToBMinus1AndRejectedAfter()
    {
        PairExample[] pairs = [new([1, 2], [3], [4, 5, 6]), new([7], [8, 9], [10])];
        using var batch = Collate.Pairs(pairs, padId: 0);
        Assert.Equal([4L, 5L], batch.Ids.Shape);
        Assert.Equal([[1L, 2, 3, 0, 0], [7, 8, 9, 0, 0], [1, 2, 4, 5, 6], [7, 10, 0, 0, 0]], Rows(batch.Ids));
        Assert.Equal([[false, false, true, false, false], [false, true, true, false, false],
                      [false, false, true, true, true], [false, true, false, false, false]], BoolRows(batch.LossMask));
        Assert.Equal((13L, 7L), (batch.Tokens, batch.LossTokens));
    }

    [Fact]
    public void Lists_RowBTimesKPlusKIsPromptBWithResponseK()
    {
        ListExample[] lists = [new([1], [[2], [3, 3], [4]], [3, 2, 1]), new([5, 5], [[6], [7], [8, 8, 8]], [1, 0, -1])];
        using var batch = Collate.Lists(lists, padId: 0);
        Assert.Equal([[1L, 2, 0, 0, 0], [1, 3, 3, 0, 0], [1, 4, 0, 0, 0], [5, 5, 6, 0, 0], [5, 5, 7, 0, 0], [5, 5, 8, 8, 8]], Rows(batch.Ids));
        Assert.Equal(1 + 2 + 1 + 1 + 1 + 3, batch.LossTokens);
        Assert.Throws<ArgumentException>(() => Collate.Lists([lists[0], new([1], [[2], [3]], [1, 0])], 0));

        using var unpaired = Collate.Unpaired([new([1, 2], [3], true), new([4], [5, 6], false)], padId: 0);
        Assert.Equal([[1L, 2, 3], [4, 5, 6]], Rows(unpaired.Ids));
        Assert.Equal([[false, false, true], [false, true, true]], BoolRows(unpaired.LossMask));
    }

    [Fact]
    public void Pack_FirstFitKeepsEveryExampleOnceAndRestartsPositions()
    {
        // Lengths 4, 3, 5, 2, 6 into rows of 8: row 0 = {0, 1}, row 1 = {2, 3}, row 2 = {4}.
        var examples = new[] { 4, 3, 5, 2, 6 }.Select((n, i) =>
            new SftExample(Enumerable.Range(10 * (i + 1), n).ToArray(), Enumerable.Range(0, n).Select(t => t % 2 == 1).ToArray())).ToArray();
        using var batch = Collate.Pack(examples, rowLength: 8, padId: 0);
        Assert.Equal([3L, 8L], batch.Ids.Shape);
        var ids = Rows(batch.Ids);
        var positions = Rows(batch.PositionIds!);
        var segments = Rows(batch.SegmentIds!);
        var loss = BoolRows(batch.LossMask);
        Assert.Equal([[0L, 1, 2, 3, 0, 1, 2, 0], [0, 1, 2, 3, 4, 0, 1, 0], [0, 1, 2, 3, 4, 5, 0, 0]], positions);
        Assert.Equal([[1L, 1, 1, 1, 2, 2, 2, 0], [1, 1, 1, 1, 1, 2, 2, 0], [1, 1, 1, 1, 1, 1, 0, 0]], segments);

        // Rebuild the examples from the segments: each appears exactly once, ids and mask intact.
        var found = new List<(long[] Ids, bool[] Mask)>();
        for (var r = 0; r < 3; r++)
            foreach (var g in Enumerable.Range(0, 8).Where(t => segments[r][t] > 0).GroupBy(t => segments[r][t]))
                found.Add((g.Select(t => ids[r][t]).ToArray(), g.Select(t => loss[r][t]).ToArray()));
        Assert.Equal(examples.Length, found.Count);
        foreach (var e in examples)
        {
            var match = Assert.Single(found, f => f.Ids.SequenceEqual(e.Ids.Select(x => (long)x)));
            Assert.Equal(e.LossMask.Select((m, t) => t > 0 && m), match.Mask);
        }
        Assert.Equal(20L, batch.Tokens);
        Assert.Equal(examples.Sum(e => e.LossMask.Skip(1).Count(m => m)), batch.LossTokens);
        Assert.Throws<ArgumentException>(() => Collate.Pack([new SftExample(new int[9], new bool[9])], 8, 0));
    }

    [Fact]
    public void BlockCausalMask_AllowsOnlyEarlierTokensOfTheSameExample()
    {
        using var scope = new TensorScope();
        using var batch = Collate.Pack([new([1, 2, 3], [true, true, true]), new([4, 5], [true, true]), new([6, 7, 8, 9], [true, true, true, true])], 6, 0);
        var segments = Rows(batch.SegmentIds!);
        var mask = batch.BlockCausalMask();
        Assert.Equal([2L, 6L, 6L], mask.Shape);
        var m = mask.ToArray<bool>();
        for (var b = 0; b < 2; b++)
            for (var i = 0; i < 6; i++)
                for (var j = 0; j < 6; j++)
                    Assert.Equal(segments[b][i] > 0 && segments[b][i] == segments[b][j] && j <= i, m[(b * 6 + i) * 6 + j]);
    }

    [Fact]
    public void TokenBudgetBatches_StayWithinBudgetUseEveryIndexOnceAndWasteLittlePadding()
    {
        var rng = new Random(3);
        var lengths = Enumerable.Range(0, 500).Select(_ => rng.Next(1, 65)).ToArray();
        var batches = Collate.TokenBudgetBatches(lengths, maxTokens: 256, seed: 11);
        Assert.All(batches, b => Assert.True(b.Count * b.Max(i => lengths[i]) <= 256));
        Assert.Equal(Enumerable.Range(0, 500), batches.SelectMany(b => b).Order());
        long Padded(List<List<int>> bs) => bs.Sum(b => (long)b.Count * b.Max(i => lengths[i]));
        Assert.True(Padded(batches) < 1.1 * lengths.Sum(), $"padded {Padded(batches)} vs {lengths.Sum()} real tokens");
        var unsorted = Collate.TokenBudgetBatches(lengths, 256, seed: 11, window: 1);
        Assert.True(Padded(unsorted) > 1.3 * lengths.Sum(), $"unsorted: padded {Padded(unsorted)} vs {lengths.Sum()} real tokens");
        Assert.Equal(batches, Collate.TokenBudgetBatches(lengths, 256, seed: 11));
        Assert.NotEqual(batches, Collate.TokenBudgetBatches(lengths, 256, seed: 12));
        Assert.Throws<ArgumentException>(() => Collate.TokenBudgetBatches([10, 300], 256));
    }
}
