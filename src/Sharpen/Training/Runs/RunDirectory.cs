namespace Sharpen.Training;

/// <summary>
/// Housekeeping of a run directory (docs/runs.md): run names that stay inside runs_dir, the stale files an interrupted
/// process leaves behind, and the previous run that a <c>--fresh</c> start keeps in <c>.previous/</c> until the new run
/// has written its first checkpoint. Everything but <see cref="ValidateName"/> runs while holding the run's <see cref="RunLock"/>.
/// </summary>
public static class RunDirectory
{
    /// <summary>Where a <c>--fresh</c> start keeps the run it replaces, inside the run directory.</summary>
    public const string PreviousFolder = ".previous";

    /// <summary>Checks that <paramref name="name"/> is one folder name, so the run directory stays inside runs_dir.</summary>
    /// <exception cref="ConfigException">Empty, <c>.</c> or <c>..</c>, a path separator, an absolute path or a control character.</exception>
    public static void ValidateName(string name)
    {
        var why = name.Length == 0 ? "is empty"
            : name is "." or ".." ? "is not a folder name"
            : name.IndexOfAny(['/', '\\']) >= 0 || Path.IsPathRooted(name) ? "is a path"
            : name.Any(char.IsControl) ? "contains a control character"
            : null;
        if (why is not null)
            throw new ConfigException($"name '{name}' {why}: a run name is one folder name inside runs_dir (no '/', '\\' or '..')", "name");
    }

    /// <summary>
    /// Repairs what an interrupted process left in <paramref name="runDir"/>: unfinished checkpoint folders
    /// (<see cref="Checkpoint.CleanStale"/>), <c>final.tmp-*</c> folders and <c>*.tmp</c> files; and a <see cref="PreviousFolder"/>,
    /// which is deleted when the run has a complete checkpoint and moved back otherwise (the --fresh start that replaced
    /// it stopped before its first checkpoint). Notes go to <paramref name="log"/>.
    /// </summary>
    public static void Repair(string runDir, TextWriter log)
    {
        var stale = Checkpoint.CleanStale(runDir).ToList();
        foreach (var d in Directory.GetDirectories(runDir, "final.tmp-*"))
        {
            Directory.Delete(d, recursive: true);
            stale.Add(d);
        }
        foreach (var f in Directory.GetFiles(runDir, "*.tmp"))
        {
            File.Delete(f);
            stale.Add(f);
        }
        if (stale.Count > 0) log.WriteLine($"removed what an interrupted run left behind: {string.Join(", ", stale.Select(s => Path.GetRelativePath(runDir, s)))}");
        if (!Directory.Exists(Path.Combine(runDir, PreviousFolder))) return;
        if (Checkpoint.List(runDir).Count > 0) DropPrevious(runDir);
        else
        {
            RestorePrevious(runDir);
            log.WriteLine($"restored the previous run of {runDir}: the --fresh start that replaced it stopped before its first checkpoint");
        }
    }

    /// <summary>
    /// Moves everything of the run in <paramref name="runDir"/> into <see cref="PreviousFolder"/>, its checkpoints first — all
    /// but the lock and the reference cache, which the new run has already checked against its own data and model.
    /// </summary>
    /// <returns>False when there was nothing to move.</returns>
    public static bool MoveAside(string runDir)
    {
        var entries = Entries(runDir);
        if (entries.Count == 0) return false;
        var previous = Path.Combine(runDir, PreviousFolder);
        Directory.CreateDirectory(previous);
        foreach (var e in entries.OrderBy(e => Path.GetFileName(e) == Checkpoint.Folder ? 0 : 1)) Move(e, Path.Combine(previous, Path.GetFileName(e)));
        Durable.SyncDirectory(runDir);
        return true;
    }

    /// <summary>
    /// Puts the run kept in <see cref="PreviousFolder"/> back in place of what <paramref name="runDir"/> holds now (a
    /// replacement without a complete checkpoint), its checkpoints last.
    /// </summary>
    public static void RestorePrevious(string runDir)
    {
        var previous = Path.Combine(runDir, PreviousFolder);
        foreach (var e in Entries(runDir))
            if (Directory.Exists(e)) Directory.Delete(e, recursive: true);
            else File.Delete(e);
        foreach (var e in Entries(previous).OrderBy(e => Path.GetFileName(e) == Checkpoint.Folder ? 1 : 0)) Move(e, Path.Combine(runDir, Path.GetFileName(e)));
        Directory.Delete(previous, recursive: true);
        Durable.SyncDirectory(runDir);
    }

    /// <summary>Deletes <see cref="PreviousFolder"/>, once the run that replaced it has a complete checkpoint.</summary>
    public static void DropPrevious(string runDir)
    {
        var previous = Path.Combine(runDir, PreviousFolder);
        if (Directory.Exists(previous)) Directory.Delete(previous, recursive: true);
    }

    // The run's own entries: everything but the lock, the kept previous run and the reference cache.
    static List<string> Entries(string dir) =>
        Directory.GetFileSystemEntries(dir)
            .Where(e => Path.GetFileName(e) is not (RunLock.FileName or PreviousFolder or ReferenceCache.FileName))
            .ToList();

    static void Move(string from, string to)
    {
        if (Directory.Exists(from)) Directory.Move(from, to);
        else File.Move(from, to, overwrite: true);
    }
}
