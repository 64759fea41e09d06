namespace Sharpen.Cli;

using System.Reflection;
using Sharpen.Torch;

/// <summary>
/// What `sharpen` prints and returns when a command ends with an exception: one line on stderr and an exit code.
/// A mistake the user can fix — bad input file, recipe key, option, missing file, full disk — is
/// <c>sharpen &lt;command&gt;: &lt;file&gt;[:line][: field]: what is wrong</c> and exit 1 (2 for command-line usage).
/// Anything else is a bug in Sharpen: one line saying so, with the full stack trace in a log file it names, and exit 70.
/// </summary>
public static class Errors
{
    /// <summary>Exit code of a user mistake in a file, recipe or environment.</summary>
    public const int UserError = 1;

    /// <summary>Exit code of a command line that cannot be understood.</summary>
    public const int Usage = 2;

    /// <summary>Exit code of an internal error, a bug (EX_SOFTWARE of sysexits.h).</summary>
    public const int Bug = 70;

    /// <summary>Writes the one line for <paramref name="error"/> raised by <paramref name="command"/> and returns the exit code.</summary>
    /// <param name="command">The sub-command's name, as typed.</param>
    /// <param name="error">The exception that ended it.</param>
    /// <param name="stderr">Where the line goes.</param>
    /// <param name="logDirectory">Folder for the crash log of a bug (default: the system's temporary folder).</param>
    public static int Report(string command, Exception error, TextWriter stderr, string? logDirectory = null)
    {
        var e = Unwrap(error);
        var code = Classify(e);
        if (code != Bug)
        {
            stderr.WriteLine($"sharpen {command}: {OneLine(UserMessage(e))}");
            return code;
        }
        var log = WriteLog(command, error, logDirectory);
        var where = log is null ? "the stack trace could not be written to a log file" : $"stack trace in {log}";
        var message = OneLine(e.Message);
        if (message.Length > 200) message = message[..200] + "…";   // the whole of it is in the log
        stderr.WriteLine($"sharpen {command}: internal error (a bug in Sharpen, please report it): {e.GetType().Name}: {message} ({where})");
        return Bug;
    }

    /// <summary>The exit code for <paramref name="e"/>: <see cref="Usage"/>, <see cref="UserError"/> or <see cref="Bug"/>.</summary>
    public static int Classify(Exception e) => Unwrap(e) switch
    {
        UsageException => Usage,
        InputException => UserError,
        // Files and the machine: missing or unreadable paths, a full disk, no memory, no native library.
        IOException or UnauthorizedAccessException or OutOfMemoryException or DllNotFoundException => UserError,
        TorchException t when IsOutOfMemory(t.Message) => UserError,
        // Checks that Sharpen makes on what it was given, with messages written for the user.
        Training.TrainingDivergedException or Rewards.Sandbox.SandboxUnavailableException or InvalidDataException => UserError,
        NotSupportedException => UserError,
        ArgumentNullException or ArgumentOutOfRangeException => Bug,   // guards of internal calls: a value Sharpen should have checked
        ArgumentException => UserError,
        _ => Bug,
    };

    static bool IsOutOfMemory(string message) =>
        message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) || message.Contains("can't allocate memory", StringComparison.OrdinalIgnoreCase);

    // The exception that says what went wrong, under the wrappers of tasks, reflection and static constructors.
    static Exception Unwrap(Exception e)
    {
        while (true)
        {
            switch (e)
            {
                case AggregateException a when a.InnerExceptions.Count > 0:
                    e = a.InnerExceptions[0];
                    break;
                case TargetInvocationException or TypeInitializationException when e.InnerException is not null:
                    e = e.InnerException;
                    break;
                default:
                    return e;
            }
        }
    }

    static string UserMessage(Exception e) => e switch
    {
        FileNotFoundException { FileName: { } f } => $"{f}: no such file",
        ArgumentException { ParamName: { } p } a => a.Message.Replace($" (Parameter '{p}')", ""),
        OutOfMemoryException => "out of memory",
        _ => e.Message,
    };

    /// <summary><paramref name="text"/> on one line: its non-blank lines, trimmed and joined by "; ".</summary>
    public static string OneLine(string text) =>
        string.Join("; ", text.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    // Writes the full error (every inner exception and stack) to sharpen-crash-<pid>.log; null if that fails too.
    static string? WriteLog(string command, Exception error, string? directory)
    {
        try
        {
            var path = Path.Combine(directory ?? Path.GetTempPath(), $"sharpen-crash-{Environment.ProcessId}.log");
            File.WriteAllText(path, $"""
                sharpen {Cli.Version} {command}, {DateTime.UtcNow:yyyy-MM-dd HH:mm:ss} UTC
                command line: {Environment.CommandLine}
                .NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}

                {error}

                """);
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
