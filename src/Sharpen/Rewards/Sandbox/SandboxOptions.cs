namespace Sharpen.Rewards.Sandbox;

/// <summary>
/// Where <see cref="PythonSandbox"/> finds its tools and which user ids it runs programs as. The defaults are Debian's
/// paths (packages <c>bubblewrap</c>, <c>util-linux</c>, <c>python3-minimal</c>, <c>dash</c>; <c>./sharpen</c> installs them).
/// </summary>
public sealed record SandboxOptions
{
    /// <summary>The defaults.</summary>
    public static SandboxOptions Default { get; } = new();

    /// <summary>A POSIX shell on the host, used only to open the seccomp filter as fd 3 and exec bubblewrap (package <c>dash</c>).</summary>
    public string ShellPath { get; init; } = "/bin/sh";

    /// <summary>bubblewrap, run as root on the host: namespaces (pid, net, ipc, uts, mount), the read-only file view, the seccomp filter.</summary>
    public string BwrapPath { get; init; } = "/usr/bin/bwrap";

    /// <summary>setpriv, run inside the sandbox: drops root for the sandbox uid, clears groups and capabilities, sets no_new_privs. Must lie under /usr.</summary>
    public string SetprivPath { get; init; } = "/usr/bin/setpriv";

    /// <summary>prlimit, run inside the sandbox: sets the resource limits (soft = hard) before Python starts. Must lie under /usr.</summary>
    public string PrlimitPath { get; init; } = "/usr/bin/prlimit";

    /// <summary>The Python interpreter, run with -I -S -B (isolated, no site-packages, no bytecode files). Must lie under /usr.</summary>
    public string PythonPath { get; init; } = "/usr/bin/python3";

    /// <summary>
    /// First of the user ids reserved for sandboxes (default 2,000,000,000). A run holds one slot s of
    /// [0, <see cref="UidSlots"/>) for itself: its programs run as <see cref="UidBase"/> + s and the checkers of its assert
    /// tests as <see cref="UidBase"/> + <see cref="UidSlots"/> + s, so RLIMIT_NPROC counts only the run's own processes
    /// (the program's apart from the checker's) and "no process of these uids is left" is an exact check. Nothing else
    /// on the machine may use the 2 × <see cref="UidSlots"/> ids from <see cref="UidBase"/> on.
    /// </summary>
    public int UidBase { get; init; } = 2_000_000_000;

    /// <summary>How many runs may hold a slot (two uids) at once, across all processes on the machine (default 64).</summary>
    public int UidSlots { get; init; } = 64;

    /// <summary>Folder of the lock files (one per slot) through which processes share the uid range.</summary>
    public string LockDirectory { get; init; } = Path.Combine(Path.GetTempPath(), "sharpen-sandbox-uids");
}
