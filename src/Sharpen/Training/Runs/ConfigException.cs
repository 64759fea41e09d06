namespace Sharpen.Training;

/// <summary>
/// A config that cannot be bound: unknown key, ill-typed value, missing or malformed file. The message names
/// the key, the file and line (or the <c>--set</c> argument) and, for unknown keys, the closest known key.
/// </summary>
public sealed class ConfigException(string message, string? key = null, string? file = null, int? line = null)
    : Exception(message)
{
    /// <summary>The dotted key at fault, when there is one.</summary>
    public string? Key { get; } = key;

    /// <summary>The YAML file at fault, when the error comes from a file.</summary>
    public string? File { get; } = file;

    /// <summary>1-based line in <see cref="File"/>, when known.</summary>
    public int? Line { get; } = line;
}
