namespace Sharpen.Rewards;

/// <summary>One term w_k·r_k of a <see cref="WeightedSum"/>.</summary>
/// <param name="Function">The reward function r_k.</param>
/// <param name="Weight">Its weight w_k.</param>
/// <param name="Name">Its key in the details (default the function's name); must be unique within the sum.</param>
public sealed record RewardComponent(IRewardFunction Function, double Weight, string? Name = null)
{
    /// <summary>The key of this component's details.</summary>
    public string Key => Name ?? Function.Name;
}

/// <summary>
/// R = Σ_k w_k·r_k over several reward functions (docs/algorithms.md §5: sources compose by weighted sum with per-component
/// logging). Details hold each component's raw value under its key ("math", "overlong", …) and its own details as
/// "key/detail". A component with a null value makes R null unless <c>nullAsZero</c>, which counts it as 0. The
/// status is the most severe among the components (Error &gt; Unscorable &gt; ParseFailure &gt; Scored), so counts
/// still see a failed part even when <c>nullAsZero</c> keeps the value.
/// </summary>
public sealed class WeightedSum : IRewardFunction
{
    /// <summary>The terms, in order.</summary>
    public IReadOnlyList<RewardComponent> Components { get; }

    readonly bool nullAsZero;

    /// <summary>A sum of <paramref name="components"/>.</summary>
    /// <param name="components">The terms; keys must be unique.</param>
    /// <param name="nullAsZero">Count a null component as 0 instead of making the sum null (default false).</param>
    /// <param name="name">The sum's own name (default "weighted_sum").</param>
    public WeightedSum(IEnumerable<RewardComponent> components, bool nullAsZero = false, string name = "weighted_sum")
    {
        Components = components.ToArray();
        var duplicate = Components.GroupBy(c => c.Key).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null) throw new ArgumentException($"reward component '{duplicate.Key}' appears twice; give one a Name");
        (this.nullAsZero, Name) = (nullAsZero, name);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public RewardResult Score(RewardInput input) => Combine(Components.Select(c => c.Function.Score(input)).ToArray());

    /// <summary>Combines the components' results for one sample (<paramref name="parts"/>[k] from component k).</summary>
    public RewardResult Combine(IReadOnlyList<RewardResult> parts)
    {
        if (parts.Count != Components.Count) throw new ArgumentException($"expected {Components.Count} component results, got {parts.Count}");
        var details = new Dictionary<string, double>();
        double sum = 0;
        bool isNull = false;
        var status = RewardStatus.Scored;
        for (int k = 0; k < parts.Count; k++)
        {
            var (key, part) = (Components[k].Key, parts[k]);
            if (part.Value is double v) { details[key] = v; sum += Components[k].Weight * v; }
            else isNull |= !nullAsZero;
            foreach (var (name, value) in part.Details) details[$"{key}/{name}"] = value;
            status = (RewardStatus)Math.Max((int)status, (int)part.Status);
        }
        if (isNull && status is RewardStatus.Scored or RewardStatus.ParseFailure) status = RewardStatus.Unscorable;
        return new RewardResult(isNull ? null : sum, details, status);
    }
}
