namespace Sharpen.Training;

/// <summary>
/// A config that cannot be bound or is out of range: unknown key, ill-typed or invalid value, missing or malformed
/// file. The message names the key, the file and line (or the <c>--set</c> argument) and, for unknown keys, the
/// closest known key.
/// </summary>
public sealed class ConfigException(string message, string? key = null, string? file = null, int? line = null)
    : InputException(message, file, line ?? 0, key, message, null)
{
    /// <summary>The dotted key at fault, when there is one.</summary>
    public string? Key { get; } = key;
}
