namespace Sharpen.Tests;

using System.Globalization;

/// <summary>
/// Seeds and figures of the learning tests — the tests that assert an effect of training (a loss falls, an accuracy
/// rises, one method beats another). Floating-point trajectories differ between CPU generations, so each such test
/// asserts an effect that is large against its spread over seeds, and quotes the range it was measured over.
/// <c>bench/learning_seeds.sh</c> reruns every learning test with <see cref="Offset"/> = 0..4 and prints what each
/// recorded with <see cref="Record"/>: that is how the quoted ranges are reproduced.
/// </summary>
public static class Learning
{
    /// <summary>The seed offset of this run: <c>SHARPEN_LEARNING_SEED</c> (0 when unset, the suite's own seeds).</summary>
    public static int Offset { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("SHARPEN_LEARNING_SEED"), CultureInfo.InvariantCulture, out var s) ? s : 0;

    /// <summary>A learning test's seed <paramref name="seed"/> moved by <see cref="Offset"/> (far apart, so offsets never meet).</summary>
    public static int Seed(int seed) => seed + 1009 * Offset;

    /// <summary>Appends <c>offset, test, figures</c> to the file named by <c>SHARPEN_LEARNING_LOG</c>, when set.</summary>
    public static void Record(string test, string figures)
    {
        if (Environment.GetEnvironmentVariable("SHARPEN_LEARNING_LOG") is not { Length: > 0 } path) return;
        lock (typeof(Learning)) File.AppendAllText(path, $"{Offset}\t{test}\t{figures}\n");
    }
}
