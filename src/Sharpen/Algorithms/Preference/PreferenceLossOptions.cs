namespace Sharpen.Algorithms.Preference;

/// <summary>
/// Hyperparameters of the preference losses (docs/algorithms.md §4). Defaults follow TRL unless noted; a loss reads only
/// the fields it names.
/// </summary>
public sealed record PreferenceLossOptions
{
    /// <summary>
    /// β (default 0.1): the DPO temperature, i.e. the strength of the implicit KL anchor to π_ref
    /// (DPO, arXiv 2305.18290). IPO reads it as τ (target margin 1/(2β)); SimPO and CPO scale their
    /// log-prob margins by it; KTO, BCO, NCA, APO, EXO, SPPO and LiPO scale h by it.
    /// </summary>
    public double Beta { get; init; } = 0.1;

    /// <summary>
    /// ε (default 0): probability that a pair's label is flipped. cdpo, simpo and cpo use it as label smoothing
    /// (conservative DPO: the target is 1 − ε instead of 1); robust uses it as the known flip rate of the unbiased
    /// estimator (Provably Robust DPO, arXiv 2403.00409), which requires ε &lt; 0.5.
    /// </summary>
    public double LabelSmoothing { get; init; }

    /// <summary>γ (default 0.5): SimPO's target reward margin, in units of β·ℓ̄ (SimPO, arXiv 2405.14734; TRL <c>simpo_gamma</c>).</summary>
    public double SimpoGamma { get; init; } = 0.5;

    /// <summary>α (default 1.0): weight of the NLL(y_w) term in CPO (Contrastive Preference Optimization, arXiv 2401.08417).</summary>
    public double CpoAlpha { get; init; } = 1.0;

    /// <summary>λ (default 0.1): weight of ORPO's odds-ratio term against NLL(y_w) (ORPO, arXiv 2403.07691; TRL's <c>beta</c>).</summary>
    public double OrpoLambda { get; init; } = 0.1;

    /// <summary>
    /// Whether IPO averages h over completion tokens, h/|y| (default true, as TRL and the IPO authors); false uses
    /// the summed h as OpenRLHF does (IPO, arXiv 2310.12036; docs/algorithms.md §8).
    /// </summary>
    public bool IpoLengthNormalize { get; init; } = true;

    /// <summary>ε of EXO-pair (default 1e-3): the target distribution is (1 − ε, ε) over (y_w, y_l) (EXO, arXiv 2402.00856).</summary>
    public double ExoEpsilon { get; init; } = 1e-3;

    /// <summary>λ_D (default 1): KTO weight of desirable examples (KTO, arXiv 2402.01306); also weighs apo_zero_unpaired.</summary>
    public double KtoDesirableWeight { get; init; } = 1.0;

    /// <summary>λ_U (default 1): KTO weight of undesirable examples (KTO, arXiv 2402.01306); also weighs apo_zero_unpaired.</summary>
    public double KtoUndesirableWeight { get; init; } = 1.0;

    /// <summary>τ (default 1): temperature of PRO's softmax over ranked suffixes (PRO, arXiv 2306.17492; Sharpen uses one τ for every k).</summary>
    public double ProTemperature { get; init; } = 1.0;

    /// <summary>λ_SFT (default 0, off): weight of PRO's NLL(y^1) term on the best completion (PRO, arXiv 2306.17492; the paper's value is not verified here).</summary>
    public double ProSftWeight { get; init; }

    /// <summary>
    /// Whether LiPO-λ weighs each pair by its Lambda weight Δ_ij (default true); false sets Δ ≡ 1, the pair-logistic
    /// list loss, which is DPO summed over all ordered pairs (LiPO, arXiv 2402.01878).
    /// </summary>
    public bool LipoLambdaWeights { get; init; } = true;
}
