namespace Sharpen.Bench;

/// <summary>Minimal reading of "--name value" options.</summary>
static class Args
{
    /// <summary>The integer after <paramref name="name"/>, or <paramref name="fallback"/> when absent.</summary>
    public static int Int(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        if (i < 0) return fallback;
        if (i + 1 >= args.Length || !int.TryParse(args[i + 1], out var v) || v < 1)
            throw new ArgumentException($"{name} needs a positive integer");
        return v;
    }
}
