namespace Sharpen.Torch;

/// <summary>Kinds of device. Values are libtorch's DeviceType codes.</summary>
public enum DeviceType
{
    CPU = 0,
    CUDA = 1,
}

/// <summary>A device: CPU, or a CUDA GPU with an index (-1: the current one).</summary>
public readonly record struct Device(DeviceType Type, int Index = -1)
{
    /// <summary>The CPU.</summary>
    public static readonly Device CPU = new(DeviceType.CPU);

    /// <summary>CUDA device <paramref name="index"/>.</summary>
    public static Device CUDA(int index = 0) => new(DeviceType.CUDA, index);

    /// <summary>Parses "cpu", "cuda" or "cuda:N".</summary>
    public static Device Parse(string s) => TryParse(s) ?? throw new ArgumentException($"unknown device '{s}': expected cpu, cuda or cuda:N");

    /// <summary>Parses "cpu", "cuda" or "cuda:N"; null for anything else.</summary>
    public static Device? TryParse(string s)
    {
        var t = s.Trim().ToLowerInvariant();
        if (t == "cpu") return CPU;
        if (t == "cuda") return CUDA();
        if (t.StartsWith("cuda:") && int.TryParse(t[5..], out var i) && i >= 0) return CUDA(i);
        return null;
    }

    public override string ToString() => Type == DeviceType.CPU ? "cpu" : Index < 0 ? "cuda" : $"cuda:{Index}";
}
