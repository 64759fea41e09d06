namespace Sharpen.Training;

using System.Text.Json;
using Sharpen.Torch;
using Sharpen.Torch.NN;
using Sharpen.Torch.Optim;

/// <summary>
/// Complete, atomic checkpoints (docs/runs.md): <c>checkpoints/step-N/</c> holds the trained weights
/// (<c>model.safetensors</c>), the optimiser state (<c>optimizer.safetensors</c>) and <c>trainer_state.json</c>
/// (step, schedule step, RNG state, the trainer's own state such as the data cursor, NaN counters).
/// <para>
/// <c>trainer_state.json</c> is the checkpoint's marker: it is written last, after the tensors are on disk, so a folder
/// counts as complete only when it holds the marker. A checkpoint is written into <c>.tmp-step-N/</c> and renamed into
/// place; removing one (rotation, replacement) starts by deleting its marker. A crash between any two file operations
/// therefore leaves either a complete checkpoint or a folder that does not count (and <see cref="CleanStale"/> removes).
/// </para>
/// </summary>
public static class Checkpoint
{
    /// <summary>Folder of the run's checkpoints.</summary>
    public const string Folder = "checkpoints";

    /// <summary>The marker of a complete checkpoint, written last: the trainer state.</summary>
    public const string MarkerFile = "trainer_state.json";

    /// <summary>
    /// An empty file a complete checkpoint gets once it is known good: the step after it, run on its weights, was healthy
    /// (see <see cref="TrainingLoop"/>). It is not part of the checkpoint's completeness; a crash before it is written only
    /// leaves the checkpoint unconfirmed.
    /// </summary>
    public const string GoodFile = "good";

    /// <summary>Prefix of the checkpoints a diverged run set aside (newer than its last good checkpoint): <c>diverged-step-N</c>.</summary>
    public const string DivergedPrefix = "diverged-";

    /// <summary>Prefix of checkpoints that failed to load and were set aside when resume fell back: <c>unloadable-step-N</c>.</summary>
    public const string UnloadablePrefix = "unloadable-";

    const string StepPrefix = "step-";
    const string TmpPrefix = ".tmp-step-";

    /// <summary>The trainer-level state saved beside weights and optimiser.</summary>
    /// <param name="Step">Optimiser steps done.</param>
    /// <param name="ScheduleStep">The learning-rate schedule's step.</param>
    /// <param name="RngState">The global generator's state, base64.</param>
    /// <param name="TrainerState">The trainer's <see cref="ITrainStep.SaveState"/> text.</param>
    /// <param name="NonFiniteInARow">Non-finite steps in a row when saved (informational: a resumed segment counts from 0).</param>
    /// <param name="NonFiniteTotal">Non-finite (skipped) steps so far.</param>
    public sealed record State(long Step, long ScheduleStep, string RngState, string TrainerState, int NonFiniteInARow, long NonFiniteTotal);

    /// <summary>A checkpoint read into memory: its folder, trainer state, weights and optimiser tensors (disposed with it).</summary>
    public sealed class Loaded(string dir, State state, Dictionary<string, Tensor> weights, Dictionary<string, Tensor> optimizer) : IDisposable
    {
        /// <summary>The checkpoint folder.</summary>
        public string Dir { get; } = dir;
        /// <summary>Its trainer state.</summary>
        public State State { get; } = state;
        /// <summary>Model state dict.</summary>
        public Dictionary<string, Tensor> Weights { get; } = weights;
        /// <summary>Optimiser state dict.</summary>
        public Dictionary<string, Tensor> Optimizer { get; } = optimizer;

        /// <summary>Frees the tensors.</summary>
        public void Dispose()
        {
            foreach (var t in Weights.Values.Concat(Optimizer.Values)) t.Dispose();
        }
    }

    static readonly AsyncLocal<Action<string>?> Hook = new();

    /// <summary>
    /// Test hook: called (on this async flow only) after each file operation of <see cref="Save"/> and of checkpoint
    /// removal, with a short description of it. A test throws from it to simulate a crash between two operations.
    /// </summary>
    public static Action<string>? AfterFileOperation
    {
        get => Hook.Value;
        set => Hook.Value = value;
    }

    static void Done(string operation) => Hook.Value?.Invoke(operation);

    /// <summary>The folder of step <paramref name="step"/>'s checkpoint in <paramref name="runDir"/>.</summary>
    public static string StepDir(string runDir, long step) => Path.Combine(runDir, Folder, StepPrefix + step);

    /// <summary>The step of a checkpoint folder <c>step-N</c>, or null when the name is not one.</summary>
    public static long? StepOf(string dir) =>
        Path.GetFileName(Path.TrimEndingDirectorySeparator(dir)) is var name && name.StartsWith(StepPrefix, StringComparison.Ordinal)
        && long.TryParse(name.AsSpan(StepPrefix.Length), out var step) ? step : null;

    /// <summary>Whether <paramref name="dir"/> holds a complete checkpoint (its marker).</summary>
    public static bool IsComplete(string dir) => File.Exists(Path.Combine(dir, MarkerFile));

    /// <summary>Whether checkpoint <paramref name="dir"/> is complete and known good (<see cref="GoodFile"/>).</summary>
    public static bool IsGood(string dir) => IsComplete(dir) && File.Exists(Path.Combine(dir, GoodFile));

    /// <summary>The step of the newest good checkpoint of <paramref name="runDir"/> at or before step <paramref name="upTo"/>, or null.</summary>
    public static long? NewestGood(string runDir, long upTo) =>
        List(runDir).Where(d => StepOf(d) <= upTo && IsGood(d)).Select(StepOf).LastOrDefault();

    /// <summary>Marks complete checkpoint <paramref name="dir"/> as known good; does nothing when it is gone.</summary>
    public static void MarkGood(string dir)
    {
        if (IsComplete(dir)) File.WriteAllBytes(Path.Combine(dir, GoodFile), []);
    }

    /// <summary>
    /// Writes step <paramref name="state"/>.Step's checkpoint (replacing one of that step), then removes all but the newest
    /// <paramref name="keep"/> — never the one just written nor step <paramref name="protect"/> (the last good checkpoint).
    /// </summary>
    /// <returns>The checkpoint's folder.</returns>
    public static string Save(string runDir, Module model, Optimizer optimizer, State state, int keep, long? protect = null)
    {
        var root = Path.Combine(runDir, Folder);
        Directory.CreateDirectory(root);
        Done("create checkpoints/");
        var final = StepDir(runDir, state.Step);
        var tmp = Path.Combine(root, TmpPrefix + state.Step);
        if (Directory.Exists(tmp))
        {
            Directory.Delete(tmp, recursive: true);
            Done($"delete stale {TmpPrefix}{state.Step}");
        }
        Directory.CreateDirectory(tmp);
        Done($"create {TmpPrefix}{state.Step}");
        SaveTensors(Path.Combine(tmp, "model.safetensors"), model.StateDict());
        Done("write model.safetensors");
        SaveTensors(Path.Combine(tmp, "optimizer.safetensors"), optimizer.StateDict());
        Done("write optimizer.safetensors");
        Durable.WriteAllText(Path.Combine(tmp, MarkerFile), JsonSerializer.Serialize(state));
        Done($"write {MarkerFile}");
        Durable.SyncDirectory(tmp);
        Done($"sync {TmpPrefix}{state.Step}");
        if (Directory.Exists(final)) Remove(final);
        Directory.Move(tmp, final);
        Done($"rename to {StepPrefix}{state.Step}");
        Durable.SyncDirectory(root);
        Done("sync checkpoints/");
        foreach (var old in List(runDir).SkipLast(Math.Max(1, keep)).Where(d => d != final && StepOf(d) != protect)) Remove(old);
        return final;
    }

    static void SaveTensors(string path, Dictionary<string, Tensor> tensors)
    {
        try { Safetensors.Save(path, tensors); }
        finally { foreach (var t in tensors.Values) t.Dispose(); }
    }

    /// <summary>Deletes a checkpoint folder, its marker first, so that an interrupted removal never leaves a folder that counts as complete.</summary>
    public static void Remove(string dir)
    {
        var name = Path.GetFileName(dir);
        var marker = Path.Combine(dir, MarkerFile);
        if (File.Exists(marker))
        {
            File.Delete(marker);
            Durable.SyncDirectory(dir);
            Done($"delete {name}/{MarkerFile}");
        }
        Directory.Delete(dir, recursive: true);
        Done($"delete {name}");
    }

    /// <summary>Renames checkpoint <paramref name="dir"/> to <paramref name="prefix"/>step-N beside it (replacing an older one of that name), so it no longer counts.</summary>
    /// <returns>The new folder.</returns>
    public static string SetAside(string dir, string prefix)
    {
        var target = Path.Combine(Path.GetDirectoryName(dir)!, prefix + Path.GetFileName(dir));
        if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
        Directory.Move(dir, target);
        return target;
    }

    /// <summary>
    /// Removes what interrupted saves and removals left in <paramref name="runDir"/>'s checkpoints: <c>.tmp-step-N</c>
    /// folders and <c>step-N</c> folders without a marker. Call it only while holding the run's <see cref="RunLock"/>.
    /// </summary>
    /// <returns>The folders removed.</returns>
    public static IReadOnlyList<string> CleanStale(string runDir)
    {
        var root = Path.Combine(runDir, Folder);
        if (!Directory.Exists(root)) return [];
        var stale = Directory.GetDirectories(root, TmpPrefix + "*")
            .Concat(Directory.GetDirectories(root, StepPrefix + "*").Where(d => !IsComplete(d)))
            .ToList();
        foreach (var d in stale) Directory.Delete(d, recursive: true);
        return stale;
    }

    /// <summary>Complete checkpoints of a run, oldest first.</summary>
    public static IReadOnlyList<string> List(string runDir)
    {
        var root = Path.Combine(runDir, Folder);
        if (!Directory.Exists(root)) return [];
        return Directory.GetDirectories(root, StepPrefix + "*")
            .Where(d => StepOf(d) is not null && IsComplete(d))
            .OrderBy(d => StepOf(d))
            .ToList();
    }

    /// <summary>The newest complete checkpoint, or null.</summary>
    public static string? Latest(string runDir) => List(runDir).LastOrDefault();

    /// <summary>Reads checkpoint <paramref name="dir"/> into memory.</summary>
    /// <exception cref="InvalidDataException">Its trainer state is unreadable or names another step; corrupt tensor files throw what <see cref="Safetensors.Load"/> throws.</exception>
    public static Loaded Read(string dir)
    {
        var marker = Path.Combine(dir, MarkerFile);
        State state;
        try
        {
            state = JsonSerializer.Deserialize<State>(File.ReadAllText(marker)) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{marker}: not a trainer state ({e.Message})");
        }
        if (StepOf(dir) is { } step && step != state.Step)
            throw new InvalidDataException($"{marker}: holds step {state.Step}, the folder says {step}");
        var weights = Safetensors.Load(Path.Combine(dir, "model.safetensors"));
        try
        {
            return new Loaded(dir, state, weights, Safetensors.Load(Path.Combine(dir, "optimizer.safetensors")));
        }
        catch
        {
            foreach (var t in weights.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The newest complete checkpoint of <paramref name="runDir"/> that loads, or null when there is none. A newer one that
    /// fails to load is reported on <paramref name="log"/> and, once an older one has loaded, set aside as
    /// <c>unloadable-step-N</c> so it is not tried again.
    /// </summary>
    /// <exception cref="InvalidDataException">There are checkpoints but none loads (none is set aside then).</exception>
    public static Loaded? ReadNewest(string runDir, TextWriter? log)
    {
        var failed = new List<(string Dir, string Why)>();
        foreach (var dir in List(runDir).Reverse())
        {
            try
            {
                var loaded = Read(dir);
                foreach (var (bad, _) in failed) SetAside(bad, UnloadablePrefix);
                if (failed.Count > 0) log?.WriteLine($"resuming from {Path.GetFileName(dir)} instead; the newer checkpoint(s) that failed to load were renamed {UnloadablePrefix}step-N");
                return loaded;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                failed.Add((dir, e.Message));
                log?.WriteLine($"checkpoint {dir} cannot be loaded: {e.Message}");
            }
        }
        if (failed.Count > 0)
            throw new InvalidDataException($"no checkpoint in {Path.Combine(runDir, Folder)} can be loaded ({string.Join("; ", failed.Select(f => $"{Path.GetFileName(f.Dir)}: {f.Why}"))}); " +
                                           "start over with --fresh");
        return null;
    }

    /// <summary>Loads weights and optimiser state from <paramref name="dir"/> and returns the trainer state.</summary>
    public static State Load(string dir, Module model, Optimizer optimizer)
    {
        using var loaded = Read(dir);
        model.LoadStateDict(loaded.Weights);
        optimizer.LoadStateDict(loaded.Optimizer);
        return loaded.State;
    }
}
