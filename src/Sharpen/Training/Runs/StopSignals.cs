using System.Runtime.InteropServices;

namespace Sharpen.Training;

/// <summary>
/// Turns the first SIGINT (Ctrl-C) or SIGTERM into a stop request: <see cref="Token"/> is cancelled, and a run given it
/// finishes its current step, writes a checkpoint and its report. A second signal ends the process at once, with
/// exit code 128 + the signal's number. Dispose to restore the default handling.
/// </summary>
public sealed class StopSignals : IDisposable
{
    readonly CancellationTokenSource stop = new();
    readonly PosixSignalRegistration[] registrations;
    readonly TextWriter notice;
    int received;

    /// <summary>Installs the handlers; a line saying what happens goes to <paramref name="notice"/> when the first signal comes.</summary>
    public StopSignals(TextWriter notice)
    {
        this.notice = notice;
        registrations = [PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle)];
    }

    /// <summary>Cancelled by the first signal.</summary>
    public CancellationToken Token => stop.Token;

    /// <summary>The number of the first signal received (2: SIGINT, 15: SIGTERM), or 0.</summary>
    public int Signal => received;

    /// <summary>The shell's exit code for a process ended by that signal: 128 + <see cref="Signal"/> (130, 143); 0 when none came.</summary>
    public int ExitCode => received == 0 ? 0 : 128 + received;

    void Handle(PosixSignalContext context)
    {
        var (number, name) = context.Signal == PosixSignal.SIGINT ? (2, "SIGINT") : (15, "SIGTERM");
        if (Interlocked.CompareExchange(ref received, number, 0) != 0)
        {
            notice.WriteLine($"{name} again: quitting now, without a checkpoint");
            Environment.Exit(128 + number);
        }
        context.Cancel = true;
        notice.WriteLine($"{name}: finishing the current step, then writing a checkpoint and the report; send it again to quit at once");
        stop.Cancel();
    }

    /// <summary>Removes the handlers.</summary>
    public void Dispose()
    {
        foreach (var r in registrations) r.Dispose();
        stop.Dispose();
    }
}
