namespace Sharpen.Torch.Optim;

/// <summary>
/// A set of parameters that share a learning rate and weight decay (for example: no decay on
/// norms and biases). Values left null take the optimiser's defaults when the group is handed to it.
/// </summary>
public sealed class ParamGroup
{
    readonly double? lr, weightDecay;

    /// <summary>A group of <paramref name="params"/>; a null <paramref name="lr"/> or <paramref name="weightDecay"/> means the optimiser's default.</summary>
    public ParamGroup(IEnumerable<Tensor> @params, double? lr = null, double? weightDecay = null)
    {
        Params = @params.ToArray();
        this.lr = lr;
        this.weightDecay = weightDecay;
        Lr = BaseLr = lr ?? double.NaN;
        WeightDecay = weightDecay ?? double.NaN;
    }

    /// <summary>The parameters, in order.</summary>
    public IReadOnlyList<Tensor> Params { get; }

    /// <summary>Learning rate used by the next step (a schedule sets it to <see cref="BaseLr"/> · multiplier).</summary>
    public double Lr { get; set; }

    /// <summary>Weight-decay coefficient (decoupled for AdamW, added to the gradient for SGD).</summary>
    public double WeightDecay { get; set; }

    /// <summary>The learning rate a schedule multiplies (the configured peak).</summary>
    public double BaseLr { get; set; }

    /// <summary>Fills the values left null with the optimiser's defaults.</summary>
    internal void Resolve(double defaultLr, double defaultWeightDecay)
    {
        Lr = BaseLr = lr ?? defaultLr;
        WeightDecay = weightDecay ?? defaultWeightDecay;
        if (!(Lr >= 0)) throw new ArgumentOutOfRangeException(nameof(Lr), Lr, "learning rate must be ≥ 0");
        if (!(WeightDecay >= 0)) throw new ArgumentOutOfRangeException(nameof(WeightDecay), WeightDecay, "weight decay must be ≥ 0");
    }
}
