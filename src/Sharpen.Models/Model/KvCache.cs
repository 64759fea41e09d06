namespace Sharpen.Models;

using Sharpen.Torch;

/// <summary>
/// Key/value cache for incremental decoding: per layer, keys and values [B, Hkv, capacity, Dh]
/// preallocated once; <see cref="Length"/> positions are filled. Owned by the caller (dispose it).
/// </summary>
public sealed class KvCache : IDisposable
{
    readonly Tensor[] keys, values;

    /// <summary>Allocates room for <paramref name="capacity"/> positions of <paramref name="batch"/> sequences.</summary>
    public KvCache(ModelConfig config, long batch, long capacity, DType dtype, Device device)
    {
        Capacity = capacity;
        keys = new Tensor[config.NumHiddenLayers];
        values = new Tensor[config.NumHiddenLayers];
        long[] shape = [batch, config.KvHeads, capacity, config.HeadDim];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = TensorScope.Untrack(Tensor.Zeros(shape, dtype, device));
            values[i] = TensorScope.Untrack(Tensor.Zeros(shape, dtype, device));
        }
    }

    /// <summary>Positions filled so far (the same for every row; left padding is masked, not skipped).</summary>
    public long Length { get; private set; }

    /// <summary>Positions the cache can hold.</summary>
    public long Capacity { get; }

    /// <summary>Rows (sequences) in the cache.</summary>
    public long Batch => keys[0].Size(0);

    /// <summary>Writes k, v [B, Hkv, T, Dh] of <paramref name="layer"/> at positions Length… and returns all keys and values so far, [B, Hkv, Length+T, Dh].</summary>
    public (Tensor K, Tensor V) Append(int layer, Tensor k, Tensor v)
    {
        var t = k.Size(2);
        if (Length + t > Capacity)
            throw new InvalidOperationException($"KV cache full: {Length} + {t} positions exceed its capacity {Capacity}");
        using (Torch.NoGrad())
        {
            keys[layer].Narrow(2, Length, t).Copy_(k);
            values[layer].Narrow(2, Length, t).Copy_(v);
        }
        return (keys[layer].Narrow(2, 0, Length + t), values[layer].Narrow(2, 0, Length + t));
    }

    /// <summary>Marks <paramref name="t"/> more positions as filled (called once per forward, after every layer appended).</summary>
    public void Advance(long t) => Length += t;

    /// <summary>Keeps only the rows in <paramref name="rows"/> (int64 [B']): finished sequences stop costing compute.</summary>
    public void SelectRows(Tensor rows)
    {
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i].ReplaceWith(keys[i].IndexSelect(0, rows));
            values[i].ReplaceWith(values[i].IndexSelect(0, rows));
        }
    }

    public void Dispose()
    {
        foreach (var t in keys) t.Dispose();
        foreach (var t in values) t.Dispose();
    }
}
