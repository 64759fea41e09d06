namespace Sharpen.Training;

/// <summary>
/// The `online:` section (method: online; docs/algorithms.md §2, §3, §5.3, §6). One iteration samples prompts_per_step prompts,
/// generates n_samples completions each, scores them, computes advantages, and then makes ppo_epochs passes over the
/// batch in minibatches of minibatch_size completions; every minibatch is one optimiser step of the shared loop, so
/// train.max_steps = iterations × ppo_epochs × (prompts_per_step·n_samples / minibatch_size).
/// </summary>
public sealed class OnlineSection
{
    [Option("prompts and verifier: builtin:addition, builtin:multiplication, builtin:countdown or builtin:sorting (numbers of up to data.digits digits; data.builtin_size training problems, seeded by train.seed)")] public string Task { get; set; } = "builtin:addition";
    [Option("G: completions sampled per prompt")] public int NSamples { get; set; } = 8;
    [Option("prompts per iteration (a rollout batch has prompts_per_step × n_samples completions)", Unit = "prompts")] public int PromptsPerStep { get; set; } = 16;
    [Option("passes over each rollout batch", Unit = "epochs")] public int PpoEpochs { get; set; } = 1;
    [Option("completions per optimiser step (0: the whole rollout batch); split over train.grad_accum_steps micro-batches (train.micro_batch_size is not used)", Unit = "completions")] public int MinibatchSize { get; set; } = 0;
    [Option("L_max: most tokens generated per completion, end token included", Unit = "tokens")] public int MaxNewTokens { get; set; } = 8;
    [Option("sampling temperature; the trainer's log-probs use the same temperature (logits / T)")] public double Temperature { get; set; } = 1.0;
    [Option("nucleus sampling mass (1: off); the mismatch correction accounts for the truncated distribution")] public double TopP { get; set; } = 1.0;

    [Option("advantage estimator: gae (needs critic), grpo, rloo, reinforce_pp, reinforce_pp_baseline or remax (greedy baseline generated each iteration)")] public string Estimator { get; set; } = "grpo";
    [Option("grpo: std normalisation: group (GRPO), none (Dr. GRPO) or batch (LitePPO)")] public string GrpoScale { get; set; } = "group";
    [Option("gae, reinforce_pp: whiten advantages over the batch's loss tokens")] public bool Whiten { get; set; } = true;
    [Option("γ: per-token discount (gae, reinforce_pp)")] public double Gamma { get; set; } = 1.0;
    [Option("λ: GAE's bias–variance trade-off")] public double Lam { get; set; } = 0.95;

    [Option("policy loss: ppo_clip, gspo (forces seq_mean_token_mean aggregation), cispo or reinforce")] public string PolicyLoss { get; set; } = "ppo_clip";
    [Option("ε_low: ratio clipped below at 1 − ε_low (ppo_clip, gspo)")] public double ClipLow { get; set; } = 0.2;
    [Option("ε_high: ratio clipped above at 1 + ε_high (0.28: DAPO's clip-higher)")] public double ClipHigh { get; set; } = 0.2;
    [Option("dual-clip constant c > 1: for A < 0 the ppo_clip loss is capped at −c·A (0: off)")] public double DualClip { get; set; } = 3.0;
    [Option("cispo: upper bound ε_max of the detached ratio")] public double CispoMax { get; set; } = 5.0;
    [Option("loss aggregation: token_mean, token_sum, seq_mean_token_mean, seq_mean_token_sum or seq_mean_token_sum_norm (K = max_new_tokens)")] public string Aggregation { get; set; } = "token_mean";

    [Option("KL estimator against the reference (the starting policy): k1, k2 or k3")] public string KlEstimator { get; set; } = "k3";
    [Option("β: KL coefficient (0: no reference model is loaded)")] public double KlCoef { get; set; } = 0.0;
    [Option("where the KL goes: reward (r_t −= β·kl(π_old, π_ref), no gradient), loss (+β·kl(π_θ, π_ref) per token) or none (measured only)")] public string KlIn { get; set; } = "loss";
    [Option("adaptive KL controller target (arXiv 1909.08593), nats per token (0: fixed β)")] public double KlTarget { get; set; } = 0.0;
    [Option("adaptive KL controller horizon", Unit = "completions")] public double KlHorizon { get; set; } = 10000;
    [Option("entropy bonus c_H: the loss gets −c_H·mean entropy of the loss tokens")] public double EntropyCoef { get; set; } = 0.0;

    [Option("critic: none, or shared (a value head on the policy's trunk, trained with the clipped value loss)")] public string Critic { get; set; } = "none";
    [Option("weight of the value loss in the total loss")] public double ValueCoef { get; set; } = 0.5;
    [Option("ε_v: value predictions clipped to V_old ± ε_v in the value loss (0: unclipped)")] public double ValueClip { get; set; } = 0.2;

    [Option("rollout/training mismatch correction: sequence_mask (MIS), sequence_truncate, token_mask (IcePop), token_truncate (TIS) or none; |ℓ_old − ℓ_roll| is logged either way")] public string Correction { get; set; } = "sequence_mask";
    [Option("C_min: lower bound of the rollout importance weight")] public double CorrectionMin { get; set; } = 0.0;
    [Option("C_max: upper bound of the rollout importance weight")] public double CorrectionMax { get; set; } = 3.0;

    [Option("DAPO dynamic sampling: drop groups whose rewards are all equal and sample more prompts to refill the batch")] public bool DynamicSampling { get; set; } = false;
    [Option("dynamic sampling: most generation rounds per iteration; a batch still short after them is filled with dropped groups", Unit = "rounds")] public int MaxGenRounds { get; set; } = 4;
    [Option("leave completions that hit max_new_tokens out of the loss (their rewards still count in group statistics)")] public bool MaskTruncated { get; set; } = false;
    [Option("DAPO overlong penalty buffer L_buf: completions longer than max_new_tokens − L_buf lose up to overlong_factor reward (0: off)", Unit = "tokens")] public int OverlongBuffer { get; set; } = 0;
    [Option("DAPO overlong penalty at max_new_tokens")] public double OverlongFactor { get; set; } = 1.0;

    [Option("held-out prompts scored by greedy accuracy at evaluation (0: no evaluation)", Unit = "prompts")] public int EvalPrompts { get; set; } = 200;
    [Option("completions of each iteration appended to samples.jsonl in the run directory (0: none)", Unit = "completions")] public int LogSamples { get; set; } = 4;
}
