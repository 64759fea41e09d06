namespace Sharpen.Training;

/// <summary>
/// Documents one config option (every field has a default, a unit and a one-line description).
/// <see cref="ConfigBinder.Help{T}"/> prints it; a bindable leaf property without it is a programming error.
/// </summary>
/// <param name="description">One line saying what the option does.</param>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OptionAttribute(string description) : Attribute
{
    /// <summary>One line saying what the option does.</summary>
    public string Description { get; } = description;

    /// <summary>The option's unit ("tokens", "steps", "s"…), empty when it has none.</summary>
    public string Unit { get; init; } = "";
}
