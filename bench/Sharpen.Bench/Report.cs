using System.Globalization;

namespace Sharpen.Bench;

/// <summary>How a worker reports a figure: one line "result &lt;name&gt; &lt;value&gt;" on stdout.</summary>
static class Report
{
    /// <summary>Prints one named figure in the format the comparison runner parses.</summary>
    public static void Result(string name, double value) =>
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"result {name} {value:F4}"));

    /// <summary>The median of <paramref name="xs"/>.</summary>
    public static double Median(IEnumerable<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>Seconds elapsed since <paramref name="start"/> (a Stopwatch timestamp).</summary>
    public static double Seconds(long start) =>
        (System.Diagnostics.Stopwatch.GetTimestamp() - start) / (double)System.Diagnostics.Stopwatch.Frequency;
}
