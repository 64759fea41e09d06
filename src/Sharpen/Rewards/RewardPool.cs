namespace Sharpen.Rewards;

/// <summary>The rewards of one batch and how many went wrong, for logging.</summary>
/// <param name="Results">One result per input, in input order.</param>
/// <param name="ParseFailures">Samples with <see cref="RewardStatus.ParseFailure"/>.</param>
/// <param name="Unscorable">Samples with <see cref="RewardStatus.Unscorable"/>.</param>
/// <param name="Errors">Samples with <see cref="RewardStatus.Error"/> (a reward function threw).</param>
/// <param name="FirstError">The first exception's type and message, or null.</param>
public sealed record RewardBatch(IReadOnlyList<RewardResult> Results, int ParseFailures, int Unscorable, int Errors, string? FirstError)
{
    /// <summary>The reward values in input order (null = unscorable).</summary>
    public double?[] Values => Results.Select(r => r.Value).ToArray();
}

/// <summary>
/// Scores a batch with one reward function on the thread pool, off the calling thread, with at most
/// <see cref="MaxDegreeOfParallelism"/> samples in flight, keeping input order. An exception inside a reward function
/// becomes that sample's <see cref="RewardStatus.Error"/> (null value) and is counted, never thrown to the training
/// loop. A <see cref="WeightedSum"/> is scored component by component, so a batched component (a reward model) gets
/// one call per batch while the others run in parallel per sample.
/// </summary>
public sealed class RewardPool
{
    readonly IRewardFunction function;

    /// <summary>A pool for <paramref name="function"/>.</summary>
    /// <param name="function">The reward function (thread-safe).</param>
    /// <param name="maxDegreeOfParallelism">Samples scored at once (default <see cref="Environment.ProcessorCount"/>).</param>
    public RewardPool(IRewardFunction function, int? maxDegreeOfParallelism = null)
    {
        if (maxDegreeOfParallelism is < 1) throw new ArgumentOutOfRangeException(nameof(maxDegreeOfParallelism), "must be ≥ 1");
        (this.function, MaxDegreeOfParallelism) = (function, maxDegreeOfParallelism ?? Environment.ProcessorCount);
    }

    /// <summary>The largest number of samples scored at the same time.</summary>
    public int MaxDegreeOfParallelism { get; }

    /// <summary>Scores <paramref name="inputs"/>; throws <see cref="OperationCanceledException"/> when cancelled.</summary>
    public async Task<RewardBatch> ScoreAsync(IReadOnlyList<RewardInput> inputs, CancellationToken cancellationToken = default)
    {
        var errors = new ErrorLog();
        var results = await ScoreAll(function, inputs, errors, cancellationToken).ConfigureAwait(false);
        int Count(RewardStatus s) => results.Count(r => r.Status == s);
        return new RewardBatch(results, Count(RewardStatus.ParseFailure), Count(RewardStatus.Unscorable), Count(RewardStatus.Error), errors.First);
    }

    /// <summary>Scores <paramref name="inputs"/>, blocking until done (the work still runs on the thread pool).</summary>
    public RewardBatch Score(IReadOnlyList<RewardInput> inputs, CancellationToken cancellationToken = default) =>
        ScoreAsync(inputs, cancellationToken).GetAwaiter().GetResult();

    async Task<RewardResult[]> ScoreAll(IRewardFunction f, IReadOnlyList<RewardInput> inputs, ErrorLog errors, CancellationToken ct)
    {
        if (f is WeightedSum sum)
        {
            var parts = new RewardResult[sum.Components.Count][];
            for (int k = 0; k < parts.Length; k++)
                parts[k] = await ScoreAll(sum.Components[k].Function, inputs, errors, ct).ConfigureAwait(false);
            return Enumerable.Range(0, inputs.Count).Select(i => sum.Combine(parts.Select(p => p[i]).ToArray())).ToArray();
        }
        if (f is IBatchedRewardFunction batched)
            return await Task.Run(() => ScoreBatchGuarded(batched, inputs, errors), ct).ConfigureAwait(false);

        var results = new RewardResult[inputs.Count];
        int next = -1;
        void Worker()
        {
            for (int i; (i = Interlocked.Increment(ref next)) < inputs.Count;)
            {
                ct.ThrowIfCancellationRequested();
                results[i] = ScoreGuarded(f, inputs[i], errors);
            }
        }
        var workers = Enumerable.Range(0, Math.Min(MaxDegreeOfParallelism, inputs.Count)).Select(_ => Task.Run(Worker, ct));
        await Task.WhenAll(workers).ConfigureAwait(false);
        return results;
    }

    static RewardResult ScoreGuarded(IRewardFunction f, RewardInput input, ErrorLog errors)
    {
        try
        {
            return f.Score(input);
        }
        catch (Exception e)
        {
            errors.Record(e);
            return RewardResult.Error();
        }
    }

    static RewardResult[] ScoreBatchGuarded(IBatchedRewardFunction f, IReadOnlyList<RewardInput> inputs, ErrorLog errors)
    {
        try
        {
            var results = f.ScoreBatch(inputs);
            if (results.Count != inputs.Count)
                throw new InvalidOperationException($"{f.Name} returned {results.Count} results for {inputs.Count} inputs");
            return results.ToArray();
        }
        catch (Exception e)
        {
            errors.Record(e);
            return inputs.Select(_ => RewardResult.Error()).ToArray();
        }
    }

    sealed class ErrorLog
    {
        string? first;

        public string? First => first;

        public void Record(Exception e) => Interlocked.CompareExchange(ref first, $"{e.GetType().Name}: {e.Message}", null);
    }
}
