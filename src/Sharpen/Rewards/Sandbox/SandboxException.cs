namespace Sharpen.Rewards.Sandbox;

/// <summary>
/// The sandbox cannot isolate programs here (a tool is missing, not running as root, not Linux, or the start-up probe
/// failed). <see cref="PythonSandbox"/> then refuses to run anything: untrusted code never runs unsandboxed.
/// </summary>
public sealed class SandboxUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A sandbox broke one of its own guarantees (a process of the sandbox uid survived the run, or its files could not be removed).</summary>
public sealed class SandboxBreachException(string message) : Exception(message);
