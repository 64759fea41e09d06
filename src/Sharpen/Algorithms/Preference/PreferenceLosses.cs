namespace Sharpen.Algorithms.Preference;

/// <summary>
/// The preference losses by name (docs/algorithms.md §4): pairwise in <see cref="Registry"/>, unpaired in <see cref="Unpaired"/>,
/// listwise in <see cref="Listwise"/>. Names are unique across the three, so a recipe's loss name also tells the
/// trainer which data format it needs.
/// </summary>
public static class PreferenceLosses
{
    /// <summary>Pairwise losses on (y_w ≻ y_l): DPO and its relatives, the reference-free family and the SFT term.</summary>
    public static readonly Registry<IPreferenceLoss> Registry = new Registry<IPreferenceLoss>("preference loss")
        .Add("sigmoid", new PreferenceLoss("sigmoid", true, Dpo.Sigmoid))
        .Add("ipo", new PreferenceLoss("ipo", true, Ipo.Loss))
        .Add("hinge", new PreferenceLoss("hinge", true, Hinge.Loss))
        .Add("cdpo", new PreferenceLoss("cdpo", true, LabelNoise.Conservative))
        .Add("robust", new PreferenceLoss("robust", true, LabelNoise.Robust))
        .Add("simpo", new PreferenceLoss("simpo", false, SimPo.Loss))
        .Add("orpo", new PreferenceLoss("orpo", false, Orpo.Loss))
        .Add("cpo", new PreferenceLoss("cpo", false, Cpo.Loss))
        .Add("bco_pair", new PreferenceLoss("bco_pair", true, Bco.Pair))
        .Add("sppo_hard", new PreferenceLoss("sppo_hard", true, Sppo.Hard))
        .Add("nca_pair", new PreferenceLoss("nca_pair", true, Nca.Pair))
        .Add("apo_zero", new PreferenceLoss("apo_zero", true, Apo.Zero))
        .Add("apo_down", new PreferenceLoss("apo_down", true, Apo.Down))
        .Add("exo_pair", new PreferenceLoss("exo_pair", true, Exo.Pair))
        .Add("sft", new PreferenceLoss("sft", false, Sft.Loss));

    /// <summary>Unpaired losses on (y, desirable?): KTO, BCO and APO-zero-unpaired.</summary>
    public static readonly Registry<IUnpairedPreferenceLoss> Unpaired = new Registry<IUnpairedPreferenceLoss>("unpaired preference loss")
        .Add("kto", new UnpairedPreferenceLoss("kto", true, Kto.Loss))
        .Add("bco", new UnpairedPreferenceLoss("bco", true, Bco.Unpaired))
        .Add("apo_zero_unpaired", new UnpairedPreferenceLoss("apo_zero_unpaired", true, Apo.ZeroUnpaired));

    /// <summary>Listwise losses on K scored completions per prompt: PRO and LiPO-λ.</summary>
    public static readonly Registry<IListwisePreferenceLoss> Listwise = new Registry<IListwisePreferenceLoss>("listwise preference loss")
        .Add("pro", new ListwisePreferenceLoss("pro", false, Pro.Loss))
        .Add("lipo_lambda", new ListwisePreferenceLoss("lipo_lambda", true, LiPo.Lambda));

    /// <summary>
    /// The weighted sum Σ_k w_k·L_k of registered pairwise losses (TRL's <c>loss_type</c> list with <c>loss_weights</c>),
    /// e.g. RPO = <c>Combine(["sigmoid", "sft"], [1, α])</c>. It needs the reference if any part does and reports the
    /// rewards of the first part.
    /// </summary>
    public static IPreferenceLoss Combine(IReadOnlyList<string> names, IReadOnlyList<double> weights)
    {
        if (names.Count == 0 || names.Count != weights.Count)
            throw new ArgumentException($"Combine needs one weight per loss name and at least one name; got {names.Count} names and {weights.Count} weights");
        var parts = names.Select(Registry.Get).ToArray();
        return new PreferenceLoss(string.Join("+", names), parts.Any(p => p.NeedsReference), (batch, options) =>
        {
            var results = parts.Select(p => p.Compute(batch, options)).ToArray();
            var loss = weights[0] * results[0].Loss;  // [B]
            for (var k = 1; k < results.Length; k++) loss = loss + weights[k] * results[k].Loss;
            return new(loss, results[0].ChosenRewards, results[0].RejectedRewards);
        });
    }
}
