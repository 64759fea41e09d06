using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Sharpen.Training;

/// <summary>
/// Progress of a long loop. On a terminal: one line redrawn in place (at most 10 times a second) with a bar,
/// done/total, elapsed time, ETA, rate and up to four metrics. When the output is redirected (a log file, CI):
/// plain lines, one each time another 5% is done or 10 s have passed, so logs stay short.
/// </summary>
public sealed class ProgressBar
{
    const int BarWidth = 24;
    const int MaxMetrics = 4;
    const double RedrawInterval = 0.1;   // s, terminal mode
    const double LineInterval = 10.0;    // s, redirected mode
    const double LineFraction = 0.05;    // of total, redirected mode

    readonly string label;
    readonly long total;
    readonly long initial;
    readonly TextWriter output;
    readonly Func<double> clock;
    readonly bool interactive;
    readonly double start;
    double lastDrawn = double.NegativeInfinity;
    long nextLineAt;
    long lastPrinted = -1;
    int lastWidth;
    long done;
    IReadOnlyDictionary<string, double>? shown;
    bool finished;

    /// <summary>A progress bar for <paramref name="total"/> units of work.</summary>
    /// <param name="label">What is progressing ("train", "eval").</param>
    /// <param name="total">Units of work in all (steps, batches); ≤ 0 when unknown (no bar, no ETA).</param>
    /// <param name="output">Where to write; defaults to the console.</param>
    /// <param name="clock">Monotonic seconds; defaults to a stopwatch.</param>
    /// <param name="interactive">Redraw one line in place; defaults to true only for a console that is not redirected.</param>
    /// <param name="initial">Units already done before this bar started (a resumed run); the rate counts only new work.</param>
    public ProgressBar(string label, long total, TextWriter? output = null, Func<double>? clock = null,
        bool? interactive = null, long initial = 0)
    {
        this.label = label;
        this.total = total;
        this.initial = done = initial;
        this.output = output ?? Console.Out;
        this.clock = clock ?? (() => Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency);
        this.interactive = interactive ?? (output == null && !Console.IsOutputRedirected);
        start = this.clock();
        nextLineAt = initial;
    }

    /// <summary>Reports that <paramref name="done"/> units are complete, with metrics to show beside the bar.</summary>
    /// <param name="done">Units complete so far (absolute, not an increment).</param>
    /// <param name="shownMetrics">Name → value; the first four are shown.</param>
    public void Report(long done, IReadOnlyDictionary<string, double>? shownMetrics = null)
    {
        if (finished) return;
        this.done = done;
        shown = shownMetrics ?? shown;
        var now = clock();
        if (interactive)
        {
            if (now - lastDrawn < RedrawInterval && (total <= 0 || done < total)) return;
            Redraw(now, final: false);
        }
        else if (done >= nextLineAt || now - lastDrawn >= LineInterval)
            PrintLine(now);
    }

    /// <summary>Draws the final state and ends the line; later reports are ignored.</summary>
    public void Finish()
    {
        if (finished) return;
        finished = true;
        var now = clock();
        if (interactive) Redraw(now, final: true);
        else if (done != lastPrinted) PrintLine(now);
    }

    void Redraw(double now, bool final)
    {
        lastDrawn = now;
        var text = Describe(now, withBar: true);
        int width = ConsoleWidth();
        if (text.Length > width) text = text[..width];
        output.Write("\r" + text.PadRight(lastWidth));
        lastWidth = text.Length;
        if (final) output.WriteLine();
        output.Flush();
    }

    void PrintLine(double now)
    {
        lastDrawn = now;
        lastPrinted = done;
        output.WriteLine(Describe(now, withBar: false));
        output.Flush();
        long every = Math.Max(1, (long)Math.Ceiling(total * LineFraction));
        nextLineAt = total > 0 ? (done / every + 1) * every : long.MaxValue;
    }

    /// <summary>The status text: label, [bar,] done/total, percent, elapsed, ETA, rate, metrics.</summary>
    string Describe(double now, bool withBar)
    {
        var inv = CultureInfo.InvariantCulture;
        double elapsed = Math.Max(0, now - start);
        double rate = elapsed > 0 ? (done - initial) / elapsed : 0;   // units/s
        var sb = new StringBuilder(label);
        if (total > 0)
        {
            double fraction = Math.Clamp((double)done / total, 0, 1);
            if (withBar)
            {
                int filled = (int)(fraction * BarWidth);
                sb.Append(" [").Append('=', filled).Append(filled < BarWidth ? ">" : "")
                    .Append(' ', Math.Max(0, BarWidth - filled - 1)).Append(']');
            }
            sb.Append(inv, $" {done}/{total} {fraction * 100:0}%");
        }
        else sb.Append(inv, $" {done}");
        string eta = total > 0 && rate > 0 ? FormatDuration(Math.Max(0, total - done) / rate) : "?";
        sb.Append(" elapsed ").Append(FormatDuration(elapsed));
        if (total > 0) sb.Append(" eta ").Append(eta);
        sb.Append(' ').Append(rate <= 0 ? "? it/s" : rate >= 1 ? string.Format(inv, "{0:F2} it/s", rate)
            : string.Format(inv, "{0:F2} s/it", 1 / rate));
        if (shown != null)
            foreach (var (name, value) in shown.Take(MaxMetrics))
                sb.Append(' ').Append(name).Append('=').Append(value.ToString("G4", inv));
        return sb.ToString();
    }

    /// <summary>A duration as <c>mm:ss</c>, or <c>h:mm:ss</c> from one hour, rounded to the second.</summary>
    public static string FormatDuration(double seconds)
    {
        long s = (long)Math.Round(seconds);
        return s >= 3600 ? $"{s / 3600}:{s / 60 % 60:00}:{s % 60:00}" : $"{s / 60:00}:{s % 60:00}";
    }

    int ConsoleWidth()
    {
        if (output != Console.Out || Console.IsOutputRedirected) return 160;
        try
        {
            return Console.WindowWidth > 0 ? Console.WindowWidth - 1 : 160;
        }
        catch (IOException)
        {
            return 160;
        }
    }
}
