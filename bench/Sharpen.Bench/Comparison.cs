using System.Diagnostics;
using System.Globalization;

namespace Sharpen.Bench;

using Torch = Sharpen.Torch.Torch;

/// <summary>
/// Runs a benchmark's Sharpen worker (this program with --worker) and its Python PyTorch script in
/// separate processes, alternating which goes first, <c>reps</c> times, and prints the median of
/// each figure and the ratio Sharpen/Python. Both sides use the same libtorch and thread count.
/// </summary>
sealed class Comparison
{
    /// <summary>One process to run: a label, the executable, its arguments and environment changes (null value: unset).</summary>
    sealed record Side(string Label, string File, string[] Arguments, Dictionary<string, string?> Env);

    readonly int reps;
    readonly int threads;
    readonly string pythonDir;
    readonly string python = Environment.GetEnvironmentVariable("SHARPEN_BENCH_PYTHON") is { Length: > 0 } p ? p : "/usr/bin/python3";

    public Comparison(int reps, int threads)
    {
        this.reps = reps;
        this.threads = threads;
        pythonDir = FindPythonDir();
        PrintMachine();
    }

    /// <summary>Benchmark (a): µs per <c>c = a + b</c> on 1-element tensors.</summary>
    public void OpOverhead()
    {
        Console.WriteLine($"\n## op-overhead: 1M `c = a + b`, 1-element float32 CPU tensors, {threads} threads (µs/op, median of {reps})");
        var r = Alternate(Sharpen("op-overhead"), Python("op_overhead.py"));
        Table("µs/op",
            ("`using var c = a + b;` (dispose each)", r["sharpen.dispose"], r["python.add"]),
            ("`var c = a + b;` in a TensorScope per 1000 ops", r["sharpen.scope"], r["python.add"]));
        Console.WriteLine("target: ratio ≤ 0.5");
    }

    /// <summary>Benchmark (b): ms per MLP training step.</summary>
    public void Mlp()
    {
        Console.WriteLine($"\n## mlp: 1024→1024→1024 ReLU MLP, batch 256, MSE, AdamW, {threads} threads (ms/step, median of {reps}; OPENBLAS_CORETYPE={Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") ?? "unset"})");
        var r = Alternate(Sharpen("mlp"), Python("mlp.py"));
        Table("ms/step", ("forward + backward + AdamW step", r["sharpen.step"], r["python.step"]));
        Console.WriteLine("target: ratio ≤ 1.0");
    }

    /// <summary>
    /// Benchmark (c): the MLP step with OpenBLAS's own CPU detection, with OPENBLAS_CORETYPE=SkylakeX,
    /// and with =Haswell (AVX2 kernels) as a control showing whether the BLAS kernels matter at all.
    /// </summary>
    public void OpenBlasCoreType() => MlpByEnvironment("openblas: the mlp step by OPENBLAS_CORETYPE",
    [
        ("OPENBLAS_CORETYPE unset", new() { ["OPENBLAS_CORETYPE"] = null }),
        ("OPENBLAS_CORETYPE=SkylakeX", new() { ["OPENBLAS_CORETYPE"] = "SkylakeX" }),
        ("OPENBLAS_CORETYPE=Haswell", new() { ["OPENBLAS_CORETYPE"] = "Haswell" }),
    ]);

    /// <summary>
    /// The MLP step under process settings that change libtorch's CPU runtime, not Sharpen:
    /// OpenMP threads sleeping instead of spinning while OpenBLAS's own threads run the GEMMs,
    /// and glibc malloc keeping freed tensor memory instead of returning it to the kernel.
    /// </summary>
    public void RuntimeEnvironment()
    {
        const string mmap = "MALLOC_MMAP_THRESHOLD_", trim = "MALLOC_TRIM_THRESHOLD_";
        MlpByEnvironment("mlp-env: the mlp step by OpenMP wait policy and malloc thresholds",
        [
            ("defaults", new() { ["OMP_WAIT_POLICY"] = null, [mmap] = null, [trim] = null }),
            ("OMP_WAIT_POLICY=passive", new() { ["OMP_WAIT_POLICY"] = "passive", [mmap] = null, [trim] = null }),
            ("OMP_WAIT_POLICY=passive, MALLOC_MMAP_THRESHOLD_=256 MiB, MALLOC_TRIM_THRESHOLD_=1 GiB",
                new() { ["OMP_WAIT_POLICY"] = "passive", [mmap] = "268435456", [trim] = "1073741824" }),
        ]);
    }

    /// <summary>Runs both sides of the mlp benchmark under each environment; prints a row per environment and the ratios to the first.</summary>
    void MlpByEnvironment(string title, (string Name, Dictionary<string, string?> Env)[] configs)
    {
        Console.WriteLine($"\n## {title}, {threads} threads (ms/step, median of {reps})");
        var sides = new List<Side>();
        for (var i = 0; i < configs.Length; i++)
        {
            sides.Add(Sharpen("mlp", configs[i].Env, $"env{i}"));
            sides.Add(Python("mlp.py", configs[i].Env, $"env{i}"));
        }
        for (var i = 0; i < configs.Length; i++) Console.WriteLine($"  env{i}: {configs[i].Name}");
        var r = Alternate([.. sides]);
        Table("ms/step", [.. configs.Select((c, i) => (c.Name, r[$"sharpen-env{i}.step"], r[$"python-env{i}.step"]))]);
        for (var i = 1; i < configs.Length; i++)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{configs[i].Name} / {configs[0].Name}: Sharpen {r[$"sharpen-env{i}.step"] / r["sharpen-env0.step"]:F3}, PyTorch {r[$"python-env{i}.step"] / r["python-env0.step"]:F3}"));
    }

    /// <summary>
    /// Where Sharpen's per-op time goes: the Sharpen layers (OverheadBreakdown) and, when
    /// SHARPEN_BENCH_FLOOR names the built bench/cpp/op_floor.cpp, libtorch's own cost from C++.
    /// </summary>
    public void Breakdown()
    {
        Console.WriteLine($"\n## breakdown of the per-op time (µs/call, median of {reps})");
        var sides = new List<Side> { Sharpen("breakdown"), Python("op_overhead.py") };
        if (Environment.GetEnvironmentVariable("SHARPEN_BENCH_FLOOR") is { Length: > 0 } floor)
            sides.Add(new Side("cpp", floor, [threads.ToString(CultureInfo.InvariantCulture)], new()));
        var r = Alternate([.. sides]);
        foreach (var (name, value) in r)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name,-45} | {value,8:F4} |"));
    }

    /// <summary>The SFT-step benchmark (issue "Offline post-training"): ms per step of the quickstart-size model.</summary>
    public void Sft()
    {
        Console.WriteLine($"\n## sft: one SFT step, quickstart-size Llama (2 × 128, vocab 18), batch 32 × 12 tokens, {threads} threads (ms/step, median of {reps})");
        var r = Alternate(Sharpen("sft"), Python("sft_step.py"));
        Table("ms/step", ("forward + backward + clip + AdamW", r["sharpen.step"], r["python.step"]));
        Console.WriteLine("target: ratio ≤ 0.8");
    }

    /// <summary>
    /// The GRPO-step benchmark (issue "Online RL"): one step of the quickstart model, 16 prompts × 8 samples, up to
    /// 6 new tokens; ms per step and its split into generation, rewards and update.
    /// </summary>
    public void Grpo()
    {
        Console.WriteLine($"\n## grpo: one GRPO step, quickstart Llama (2 × 128), 16 prompts × 8 samples, ≤ 6 new tokens, {threads} threads (ms, median of {reps})");
        var task = Path.Combine(Path.GetTempPath(), "sharpen-bench-grpo-task.json");
        GrpoStep.WriteTask(task);
        var r = Alternate(Sharpen("grpo"), Python("grpo_step.py", new() { ["SHARPEN_BENCH_TASK"] = task }));
        Table("ms",
            ("step (generation + rewards + update)", r["sharpen.step"], r["python.step"]),
            ("generation (KV cache, temperature 1)", r["sharpen.generate"], r["python.generate"]),
            ("rewards (decode + exact-sum verifier)", r["sharpen.reward"], r["python.reward"]),
            ("update (ℓ^old, advantages, PPO-clip, backward, clip, AdamW)", r["sharpen.update"], r["python.update"]));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"mean completion length (tokens): Sharpen {r["sharpen.response_length"]:F2}, PyTorch {r["python.response_length"]:F2}"));
        Console.WriteLine("target: ratio ≤ 0.7 (step)");
    }

    /// <summary>
    /// The decode benchmark (issue "Models"): a random 4-layer, 256-wide Llama (GQA 4/2 heads, vocab 512) saved as
    /// a checkpoint, KV-cached greedy decoding of 16 prompts × 128 new tokens on each side; tokens/s, and whether
    /// both sides produced the same greedy tokens.
    /// </summary>
    public void Decode()
    {
        Console.WriteLine($"\n## decode: 4 layers × 256 wide, batch 16, 16-token prompts, 128 new tokens, greedy, {threads} threads (tokens/s, median of {reps})");
        var dir = Path.Combine(Path.GetTempPath(), "sharpen-bench-decode-model");
        var config = new global::Sharpen.Models.ModelConfig
        {
            VocabSize = 512, HiddenSize = 256, IntermediateSize = 704, NumHiddenLayers = 4,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 512,
        };
        Torch.Seed(0);
        using (var model = new global::Sharpen.Models.CausalLM(config)) global::Sharpen.Models.HfCheckpoint.Save(model, config, dir);
        string csTokens = Path.Combine(dir, "tokens-sharpen.json"), pyTokens = Path.Combine(dir, "tokens-python.json");
        var r = Alternate(
            Sharpen("decode", new() { ["SHARPEN_BENCH_MODEL"] = dir, ["SHARPEN_BENCH_TOKENS_OUT"] = csTokens }),
            Python("decode.py", new() { ["SHARPEN_BENCH_MODEL"] = dir, ["SHARPEN_BENCH_TOKENS_OUT"] = pyTokens }));
        Table("tokens/s", ("greedy decode, KV cache", r["sharpen.tokens_per_s"], r["python.tokens_per_s"]));
        var same = System.Text.Json.JsonDocument.Parse(File.ReadAllText(csTokens)).RootElement.GetRawText()
                   == System.Text.Json.JsonDocument.Parse(File.ReadAllText(pyTokens)).RootElement.GetRawText();
        Console.WriteLine($"greedy tokens identical on both sides: {(same ? "yes" : "NO")}");
        Console.WriteLine("target: Sharpen ≥ 1.5 × Python tokens/s (here the ratio column is Sharpen/Python; higher is better)");
    }

    Side Sharpen(string worker, Dictionary<string, string?>? env = null, string? tag = null)
    {
        var self = Environment.ProcessPath ?? throw new InvalidOperationException("cannot locate this program");
        var args = new List<string>();
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") args.Add(typeof(Comparison).Assembly.Location);
        args.AddRange(["--worker", worker, "--threads", threads.ToString(CultureInfo.InvariantCulture)]);
        return new Side(tag is null ? "sharpen" : $"sharpen-{tag}", self, [.. args], env ?? new());
    }

    Side Python(string script, Dictionary<string, string?>? env = null, string? tag = null) =>
        new(tag is null ? "python" : $"python-{tag}", python,
            [Path.Combine(pythonDir, script), threads.ToString(CultureInfo.InvariantCulture)], env ?? new());

    /// <summary>Runs the sides reps times, rotating their order each time; returns the median of every figure, keyed "label.name".</summary>
    SortedDictionary<string, double> Alternate(params Side[] sides)
    {
        var figures = new Dictionary<string, List<double>>();
        for (var rep = 0; rep < reps; rep++)
            for (var k = 0; k < sides.Length; k++)
            {
                var side = sides[(k + rep) % sides.Length];
                foreach (var (name, value) in RunSide(side))
                {
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  run {rep + 1}/{reps} {side.Label}.{name} = {value:F4}"));
                    var key = $"{side.Label}.{name}";
                    if (!figures.TryGetValue(key, out var list)) figures[key] = list = [];
                    list.Add(value);
                }
            }
        Console.WriteLine($"  load average after the runs: {File.ReadAllText("/proc/loadavg").Trim()}");
        var medians = new SortedDictionary<string, double>();
        foreach (var (key, list) in figures) medians[key] = Report.Median(list);
        return medians;
    }

    static IEnumerable<(string Name, double Value)> RunSide(Side side)
    {
        var psi = new ProcessStartInfo(side.File) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in side.Arguments) psi.ArgumentList.Add(a);
        foreach (var (k, v) in side.Env)
            if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        using var proc = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {side.File}");
        var stderr = proc.StandardError.ReadToEndAsync();
        var stdout = proc.StandardOutput.ReadToEnd();
        proc.WaitForExit();
        if (proc.ExitCode != 0)
            throw new InvalidOperationException($"{side.Label} ({side.File} {string.Join(' ', side.Arguments)}) exited with {proc.ExitCode}:\n{stdout}{stderr.Result}");
        var results = new List<(string, double)>();
        foreach (var line in stdout.Split('\n'))
        {
            var parts = line.Trim().Split(' ');
            if (parts.Length == 3 && parts[0] == "result")
                results.Add((parts[1], double.Parse(parts[2], CultureInfo.InvariantCulture)));
            else if (line.Trim().Length > 0)
                Console.WriteLine($"  [{side.Label}] {line.Trim()}");
        }
        return results;
    }

    static void Table(string unit, params (string Row, double Sharpen, double Python)[] rows)
    {
        Console.WriteLine($"| case | Sharpen ({unit}) | PyTorch ({unit}) | Sharpen/PyTorch |");
        Console.WriteLine("|---|---:|---:|---:|");
        foreach (var (row, s, p) in rows)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {row} | {s:F3} | {p:F3} | {s / p:F2} |"));
    }

    static string FindPythonDir()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "bench", "python");
            if (File.Exists(Path.Combine(candidate, "op_overhead.py"))) return candidate;
        }
        throw new DirectoryNotFoundException("bench/python not found above the current directory; run from the repository (bench/run.sh does)");
    }

    void PrintMachine()
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown";
        var info = Torch.Info;
        // The BLAS actually loaded, as the dynamic linker resolved it (for example OpenBLAS via libblas.so.3).
        var blas = File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
            .FirstOrDefault(p => p.Contains("blas", StringComparison.OrdinalIgnoreCase)) ?? "none loaded";
        Console.WriteLine($"# machine: {Environment.ProcessorCount} cores, {cpu}; libtorch {info.Version}; BLAS {blas}; .NET {Environment.Version}; Python {python}");
        Console.WriteLine($"# load average before: {File.ReadAllText("/proc/loadavg").Trim()} (other processes on the machine add noise; figures are medians)");
    }
}
