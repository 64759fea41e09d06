using Sharpen.Bench;

// Sharpen.Bench <benchmark> [--reps N]       runs Sharpen and Python PyTorch side by side and prints their ratio
// Sharpen.Bench --worker <name> [--threads N] one measurement in this process (used by the comparison runner)
if (args.Length >= 2 && args[0] == "--worker")
{
    var threads = Args.Int(args, "--threads", Environment.ProcessorCount);
    return args[1] switch
    {
        "op-overhead" => OpOverhead.Run(threads),
        "mlp" => Mlp.Run(threads),
        "breakdown" => OverheadBreakdown.Run(threads),
        "decode" => Decode.Run(threads),
        "sft" => SftStep.Run(threads),
        "grpo" => GrpoStep.Run(threads),
        _ => Usage($"unknown worker '{args[1]}'"),
    };
}

if (args.Length == 0 || args[0] is "-h" or "--help") return Usage(null);
var reps = Args.Int(args, "--reps", 3);
var runner = new Comparison(reps, Environment.ProcessorCount);
switch (args[0])
{
    case "tensor-core":
        runner.OpOverhead();
        runner.Mlp();
        runner.OpenBlasCoreType();
        runner.RuntimeEnvironment();
        break;
    case "op-overhead": runner.OpOverhead(); break;
    case "mlp": runner.Mlp(); break;
    case "openblas": runner.OpenBlasCoreType(); break;
    case "mlp-env": runner.RuntimeEnvironment(); break;
    case "breakdown": runner.Breakdown(); break;
    case "decode": runner.Decode(); break;
    case "sft": runner.Sft(); break;
    case "grpo": runner.Grpo(); break;
    default: return Usage($"unknown benchmark '{args[0]}'");
}
return 0;

static int Usage(string? error)
{
    if (error is not null) Console.Error.WriteLine(error);
    Console.Error.WriteLine("""
        usage: Sharpen.Bench <benchmark> [--reps N]
          tensor-core   op-overhead, mlp, openblas and mlp-env, in that order
          op-overhead   1M `c = a + b` on 1-element float32 CPU tensors: µs/op
          mlp           2-layer MLP forward + backward + AdamW step: ms/step
          openblas      the mlp benchmark with OPENBLAS_CORETYPE unset, =SkylakeX and =Haswell
          mlp-env       the mlp benchmark with OMP_WAIT_POLICY=passive and larger malloc thresholds
          breakdown     where the per-op time goes: Sharpen layer by layer, libtorch from C++, Python
          sft           one SFT step of the quickstart-size model (forward, backward, clip, AdamW): ms/step
          grpo          one GRPO step of the quickstart model (generation, rewards, update): ms/step and the split
          decode        KV-cached greedy decoding, 4 layers × 256 wide, batch 16, 128 new tokens: tokens/s
        Each side runs in its own process, alternating, --reps times (default 3); figures are medians.
        Environment: SHARPEN_BENCH_PYTHON (default /usr/bin/python3).
        """);
    return error is null ? 0 : 2;
}
