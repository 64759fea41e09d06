namespace Sharpen.Data;

using System.Text.Json;
using System.Text.Json.Nodes;

/// <summary>
/// Where an <see cref="EpochSampler"/> stands: the current <paramref name="Epoch"/> and the <paramref name="Position"/>
/// of the next global batch in that epoch's order. Saved in checkpoints so a resumed run draws the same batches.
/// </summary>
public sealed record SamplerState(int Epoch, int Position)
{
    /// <summary>The state as JSON: <c>{"epoch": …, "position": …}</c>.</summary>
    public string ToJson() => new JsonObject { ["epoch"] = Epoch, ["position"] = Position }.ToJsonString();

    /// <summary>Reads a state written by <see cref="ToJson"/>.</summary>
    /// <exception cref="DataFormatException">A field is missing or not an integer.</exception>
    public static SamplerState FromJson(string json)
    {
        JsonObject o;
        try
        {
            o = JsonNode.Parse(json) as JsonObject ?? throw new DataFormatException(null, "a sampler state must be a JSON object");
        }
        catch (JsonException e)
        {
            throw new DataFormatException(null, $"invalid JSON: {e.Message}");
        }
        var f = new JsonFields(o);
        int Required(string name) => f.OptionalInt(name) ?? throw f.Error(name, "is missing");
        return new SamplerState(Required("epoch"), Required("position"));
    }
}

/// <summary>
/// Draws batches of example indices epoch after epoch. Each epoch is a permutation of 0..<see cref="Count"/>−1 seeded
/// by (seed, epoch), so runs repeat exactly and epochs differ. A global batch is <c>batchSize × worldSize</c>
/// consecutive indices of that order and rank r takes the r-th slice, so the ranks of one step never share an
/// example. An epoch's last indices that do not fill a global batch are left out (a different few each epoch) and the
/// next batch starts the next epoch. <see cref="State"/> is the exact-resume cursor.
/// </summary>
public sealed class EpochSampler
{
    readonly ulong seed;
    readonly bool shuffle;
    int[] order;

    /// <summary>Examples in the data set.</summary>
    public int Count { get; }

    /// <summary>This process's rank, 0..<see cref="WorldSize"/>−1.</summary>
    public int Rank { get; }

    /// <summary>Processes sharing each global batch.</summary>
    public int WorldSize { get; }

    /// <summary>The current epoch (0-based).</summary>
    public int Epoch { get; private set; }

    /// <summary>Position of the next global batch within the current epoch's order.</summary>
    public int Position { get; private set; }

    /// <summary>A sampler over <paramref name="count"/> examples; with <paramref name="shuffle"/> false every epoch is 0..count−1 in order.</summary>
    public EpochSampler(int count, ulong seed, int rank = 0, int worldSize = 1, bool shuffle = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(worldSize);
        if (rank < 0 || rank >= worldSize) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"rank must lie in 0..{worldSize - 1}");
        Count = count;
        this.seed = seed;
        this.shuffle = shuffle;
        Rank = rank;
        WorldSize = worldSize;
        order = Order(0);
    }

    /// <summary>The resume cursor; setting it moves the sampler to that epoch and position.</summary>
    public SamplerState State
    {
        get => new(Epoch, Position);
        set
        {
            if (value.Epoch < 0 || value.Position < 0 || value.Position > Count)
                throw new ArgumentOutOfRangeException(nameof(value), value, $"a state needs epoch ≥ 0 and position in 0..{Count}");
            if (value.Epoch != Epoch) order = Order(value.Epoch);
            Epoch = value.Epoch;
            Position = value.Position;
        }
    }

    /// <summary>Global batches of <paramref name="batchSize"/> per rank in one epoch.</summary>
    public int BatchesPerEpoch(int batchSize) => Count / (batchSize * WorldSize);

    /// <summary>This rank's <paramref name="batchSize"/> indices of the next global batch; advances the cursor.</summary>
    /// <exception cref="ArgumentException">One global batch is larger than the data set.</exception>
    public int[] NextBatch(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        var global = batchSize * WorldSize;
        if (global > Count)
            throw new ArgumentException($"a global batch of {batchSize} × {WorldSize} ranks is larger than the {Count} examples", nameof(batchSize));
        if (Position + global > Count)
        {
            Epoch++;
            Position = 0;
            order = Order(Epoch);
        }
        var slice = order.AsSpan(Position + Rank * batchSize, batchSize).ToArray();
        Position += global;
        return slice;
    }

    /// <summary>
    /// A seeded split of 0..<paramref name="n"/>−1 into train and eval indices (each ascending), with
    /// round(n·<paramref name="evalFraction"/>) eval indices.
    /// </summary>
    public static (int[] Train, int[] Eval) Split(int n, double evalFraction, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (evalFraction is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(evalFraction), evalFraction, "must lie in [0, 1]");
        var p = new SplitMix64(seed).Permutation(n);
        var evalCount = (int)Math.Round(n * evalFraction);
        var eval = p[..evalCount];
        var train = p[evalCount..];
        Array.Sort(eval);
        Array.Sort(train);
        return (train, eval);
    }

    int[] Order(int epoch)
    {
        if (!shuffle) return Enumerable.Range(0, Count).ToArray();
        return new SplitMix64(SplitMix64.Combine(seed, (ulong)epoch)).Permutation(Count);
    }
}
