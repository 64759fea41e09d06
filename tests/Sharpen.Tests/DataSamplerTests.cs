using Sharpen.Data;

namespace Sharpen.Tests;

/// <summary>Seeded epoch shuffling, rank sharding, the resume cursor and train/eval splits.</summary>
public class DataSamplerTests
{
    static List<int[]> Draw(EpochSampler s, int batches, int batchSize) =>
        Enumerable.Range(0, batches).Select(_ => s.NextBatch(batchSize)).ToList();

    [Fact]
    public void SameSeed_GivesTheSameBatches_EachEpochIsAPermutationAndEpochsDiffer()
    {
        var a = Draw(new EpochSampler(20, seed: 5), 8, 5);
        Assert.Equal(a, Draw(new EpochSampler(20, seed: 5), 8, 5));
        Assert.NotEqual(a, Draw(new EpochSampler(20, seed: 6), 8, 5));
        var epoch0 = a.Take(4).SelectMany(b => b).ToArray();
        var epoch1 = a.Skip(4).SelectMany(b => b).ToArray();
        Assert.Equal(Enumerable.Range(0, 20), epoch0.Order());
        Assert.Equal(Enumerable.Range(0, 20), epoch1.Order());
        Assert.NotEqual(epoch0, epoch1);
        Assert.NotEqual(Enumerable.Range(0, 20), epoch0);
        Assert.Equal(Enumerable.Range(0, 20), Draw(new EpochSampler(20, 5, shuffle: false), 4, 5).SelectMany(b => b));
    }

    [Fact]
    public void Ranks_TakeDisjointSlicesThatCoverEachGlobalBatch()
    {
        const int n = 30, world = 3, batch = 2;                     // global batch 6, 5 per epoch
        var ranks = Enumerable.Range(0, world).Select(r => new EpochSampler(n, seed: 9, rank: r, worldSize: world)).ToArray();
        var single = new EpochSampler(n, seed: 9);
        var epoch = new List<int>();
        for (var step = 0; step < 5; step++)
        {
            var slices = ranks.Select(s => s.NextBatch(batch)).ToArray();
            var global = slices.SelectMany(x => x).ToArray();
            Assert.Equal(world * batch, global.Distinct().Count());
            Assert.Equal(single.NextBatch(world * batch), global); // rank r holds the r-th slice of the global batch
            epoch.AddRange(global);
        }
        Assert.Equal(Enumerable.Range(0, n), epoch.Order());
    }

    [Fact]
    public void IncompleteGlobalBatch_IsLeftOutAndTheNextEpochBegins()
    {
        var s = new EpochSampler(10, seed: 1);
        Assert.Equal(2, s.BatchesPerEpoch(4));
        Draw(s, 2, 4);
        Assert.Equal(new SamplerState(0, 8), s.State);
        var third = s.NextBatch(4);
        Assert.Equal(new SamplerState(1, 4), s.State);
        var fresh = new EpochSampler(10, seed: 1) { State = new SamplerState(1, 0) };
        Assert.Equal(fresh.NextBatch(4), third);
        Assert.Throws<ArgumentException>(() => s.NextBatch(11));
    }

    [Fact]
    public void State_RoundTripsThroughJsonAndResumesTheIdenticalSequence()
    {
        var s = new EpochSampler(23, seed: 77, rank: 1, worldSize: 2);
        Draw(s, 7, 3);                                              // 3 global batches of 6 per epoch → epoch 2, position 6
        var json = s.State.ToJson();
        Assert.Equal("""{"epoch":2,"position":6}""", json);
        var expected = Draw(s, 6, 3);

        var resumed = new EpochSampler(23, seed: 77, rank: 1, worldSize: 2) { State = SamplerState.FromJson(json) };
        Assert.Equal(expected, Draw(resumed, 6, 3));
        Assert.Equal("epoch", Assert.Throws<DataFormatException>(() => SamplerState.FromJson("""{"position": 1}""")).Field);
    }

    [Fact]
    public void Split_IsDeterministicDisjointAndCovering()
    {
        var (train, eval) = EpochSampler.Split(101, 0.1, seed: 4);
        Assert.Equal(10, eval.Length);
        Assert.Equal(91, train.Length);
        Assert.Empty(train.Intersect(eval));
        Assert.Equal(Enumerable.Range(0, 101), train.Concat(eval).Order());
        Assert.Equal(eval, EpochSampler.Split(101, 0.1, seed: 4).Eval);
        Assert.NotEqual(eval, EpochSampler.Split(101, 0.1, seed: 5).Eval);
        Assert.NotEqual(Enumerable.Range(0, 10), eval);
    }
}
