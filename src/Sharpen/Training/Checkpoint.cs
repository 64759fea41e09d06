namespace Sharpen.Training;

using System.Text.Json;
using Sharpen.Torch;
using Sharpen.Torch.NN;
using Sharpen.Torch.Optim;

/// <summary>
/// Complete, atomic checkpoints (DESIGN §6): <c>checkpoints/step-N/</c> holds the trained weights
/// (<c>model.safetensors</c>), the optimiser state (<c>optimizer.safetensors</c>) and <c>trainer_state.json</c>
/// (step, schedule step, RNG state, the trainer's own state such as the data cursor, NaN counters).
/// A checkpoint is written to a temporary folder and renamed, so a crash leaves either the whole
/// checkpoint or none; resuming loads the newest complete one and continues exactly.
/// </summary>
public static class Checkpoint
{
    /// <summary>Folder of the run's checkpoints.</summary>
    public const string Folder = "checkpoints";

    /// <summary>The trainer-level state saved beside weights and optimiser.</summary>
    public sealed record State(long Step, long ScheduleStep, string RngState, string TrainerState, int NonFiniteInARow, long NonFiniteTotal);

    /// <summary>Writes step <paramref name="state"/>.Step's checkpoint and deletes all but the newest <paramref name="keep"/>.</summary>
    public static string Save(string runDir, Module model, Optimizer optimizer, State state, int keep)
    {
        var root = Path.Combine(runDir, Folder);
        Directory.CreateDirectory(root);
        var final = Path.Combine(root, $"step-{state.Step}");
        var tmp = Path.Combine(root, $".tmp-step-{state.Step}");
        if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
        Directory.CreateDirectory(tmp);
        SaveTensors(Path.Combine(tmp, "model.safetensors"), model.StateDict());
        SaveTensors(Path.Combine(tmp, "optimizer.safetensors"), optimizer.StateDict());
        File.WriteAllText(Path.Combine(tmp, "trainer_state.json"), JsonSerializer.Serialize(state));
        if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
        Directory.Move(tmp, final);
        foreach (var old in List(runDir).SkipLast(Math.Max(1, keep))) Directory.Delete(old, recursive: true);
        return final;
    }

    static void SaveTensors(string path, Dictionary<string, Tensor> tensors)
    {
        try { Safetensors.Save(path, tensors); }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
    }

    /// <summary>Complete checkpoints of a run, oldest first.</summary>
    public static IReadOnlyList<string> List(string runDir)
    {
        var root = Path.Combine(runDir, Folder);
        if (!Directory.Exists(root)) return [];
        return Directory.GetDirectories(root, "step-*")
            .Where(d => File.Exists(Path.Combine(d, "trainer_state.json")))
            .OrderBy(d => long.Parse(Path.GetFileName(d)["step-".Length..]))
            .ToList();
    }

    /// <summary>The newest complete checkpoint, or null.</summary>
    public static string? Latest(string runDir) => List(runDir).LastOrDefault();

    /// <summary>Loads weights and optimiser state from <paramref name="dir"/> and returns the trainer state.</summary>
    public static State Load(string dir, Module model, Optimizer optimizer)
    {
        var weights = Safetensors.Load(Path.Combine(dir, "model.safetensors"));
        var opt = Safetensors.Load(Path.Combine(dir, "optimizer.safetensors"));
        try
        {
            model.LoadStateDict(weights);
            optimizer.LoadStateDict(opt);
        }
        finally
        {
            foreach (var t in weights.Values.Concat(opt.Values)) t.Dispose();
        }
        return JsonSerializer.Deserialize<State>(File.ReadAllText(Path.Combine(dir, "trainer_state.json")))
               ?? throw new InvalidDataException($"{dir}: empty trainer_state.json");
    }
}
