namespace Sharpen.Training;

/// <summary>
/// Where a run's scalar metrics go. With data parallelism only the main process (rank 0) writes;
/// the other ranks get <see cref="NullRunLogger"/>, so trainers call <see cref="Log"/> unconditionally.
/// </summary>
public interface IRunLogger : IDisposable
{
    /// <summary>True in the process that writes the run directory (rank 0).</summary>
    bool IsMain { get; }

    /// <summary>Records <paramref name="metrics"/> (name → value) for <paramref name="step"/>.</summary>
    /// <param name="step">Optimiser step the values belong to.</param>
    /// <param name="split"><c>train</c> or <c>eval</c>.</param>
    /// <param name="metrics">Metric name → value; names are snake_case (<c>loss</c>, <c>grad_norm</c>, <c>lr</c>).</param>
    void Log(long step, string split, IReadOnlyDictionary<string, double> metrics);
}

/// <summary>The logger of non-main ranks: records nothing.</summary>
public sealed class NullRunLogger : IRunLogger
{
    /// <summary>The shared instance.</summary>
    public static readonly NullRunLogger Instance = new();

    /// <summary>Always false.</summary>
    public bool IsMain => false;

    /// <summary>Does nothing.</summary>
    public void Log(long step, string split, IReadOnlyDictionary<string, double> metrics) { }

    /// <summary>Does nothing.</summary>
    public void Dispose() { }
}
