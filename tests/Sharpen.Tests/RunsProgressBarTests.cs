using Sharpen.Training;

namespace Sharpen.Tests;

/// <summary>ProgressBar: rate/ETA text with a fake clock, redraw throttling, redirected-output line budget.</summary>
public sealed class RunsProgressBarTests
{
    static Dictionary<string, double> M(params (string Name, double Value)[] values) =>
        values.ToDictionary(v => v.Name, v => v.Value);

    static string[] Lines(StringWriter sw) => sw.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void Redirected_LineShowsDoneRateElapsedEtaAndMetrics_ForAKnownRate()
    {
        double t = 0;
        var sw = new StringWriter();
        var bar = new ProgressBar("train", 1000, sw, () => t, interactive: false);
        bar.Report(0);
        t = 50;   // 250 steps in 50 s: 5 it/s, 750 left → 150 s
        bar.Report(250, M(("loss", 0.123456), ("reward", 2), ("kl", 1e-5), ("lr", 3e-4), ("hidden", 1)));
        var lines = Lines(sw);
        Assert.Equal(2, lines.Length);
        Assert.Equal("train 0/1000 0% elapsed 00:00 eta ? ? it/s", lines[0]);
        Assert.Equal("train 250/1000 25% elapsed 00:50 eta 02:30 5.00 it/s loss=0.1235 reward=2 kl=1E-05 lr=0.0003", lines[1]);
    }

    [Theory]
    [InlineData(10_000, 0, 100, 100, "eta 2:45:00 1.00 it/s")]          // 9900 left at 1 it/s
    [InlineData(20, 0, 30, 10, "eta 00:30 3.00 s/it")]                   // 10 left at 1/3 it/s
    [InlineData(1000, 500, 100, 700, "eta 02:30 2.00 it/s")]             // resumed at 500: 200 new in 100 s
    public void Eta_IsRemainingWorkOverTheRateOfNewWork(long total, long initial, double seconds, long done, string expected)
    {
        double t = 0;
        var sw = new StringWriter();
        var bar = new ProgressBar("x", total, sw, () => t, interactive: false, initial: initial);
        t = seconds;
        bar.Report(done);
        Assert.Contains(expected, Lines(sw)[^1]);
    }

    [Fact]
    public void Redirected_PrintsOneLinePerFivePercent_WhenProgressIsFast()
    {
        double t = 0;
        var sw = new StringWriter();
        var bar = new ProgressBar("train", 10_000, sw, () => t, interactive: false);
        for (int i = 0; i <= 10_000; i++)
        {
            t = i * 0.001;
            bar.Report(i, M(("loss", 1.0 / (i + 1))));
        }
        bar.Finish();
        var percents = Lines(sw).Select(l => l.Split(' ')[2]).ToArray();
        Assert.Equal(Enumerable.Range(0, 21).Select(k => $"{5 * k}%"), percents);
        Assert.DoesNotContain('\r', sw.ToString());
    }

    [Fact]
    public void Redirected_PrintsAtMostOneLinePerTenSeconds_WhenProgressIsSlow()
    {
        double t = 0;
        var sw = new StringWriter();
        var bar = new ProgressBar("eval", 1_000, sw, () => t, interactive: false);
        for (int i = 0; i < 600; i++)   // 600 steps at 1 step/s: 60% done in 600 s, every 5% is 50 s
        {
            t = i;
            bar.Report(i);
        }
        bar.Finish();
        var lines = Lines(sw);
        Assert.Equal(61, lines.Length);                  // t = 0, 10, …, 590, and Finish at 599
        Assert.Equal("eval 590/1000 59% elapsed 09:50 eta 06:50 1.00 it/s", lines[^2]);
        Assert.StartsWith("eval 599/1000 60%", lines[^1]);
    }

    [Fact]
    public void Terminal_RedrawsOneLineAtMostTenTimesASecond_AndEndsItOnFinish()
    {
        double t = 0;
        var sw = new StringWriter();
        var bar = new ProgressBar("train", 1000, sw, () => t, interactive: true);
        for (int i = 0; i < 1000; i++)
        {
            t = i * 0.001;
            bar.Report(i, M(("loss", 0.5)));
        }
        t = 1;
        bar.Report(1000);
        bar.Finish();
        var text = sw.ToString();
        int redraws = text.Count(c => c == '\r');
        Assert.InRange(redraws, 10, 13);                 // every 0.1 s over 1 s, the completion, and Finish
        Assert.Single(text, '\n');
        Assert.EndsWith("\n", text);
        var frames = text.TrimEnd('\n').Split('\r', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("train [========================] 1000/1000 100% elapsed 00:01 eta 00:00 1000.00 it/s loss=0.5", frames[^1].TrimEnd());
        Assert.All(frames.Skip(1), f => Assert.True(f.Length >= frames[0].TrimEnd().Length));
    }

    [Fact]
    public void Terminal_FrameHasBarCountsTimesAndRate_AndBlanksALongerPreviousFrame()
    {
        double t = 0;
        var sw = new StringWriter();
        var bar = new ProgressBar("train", 1000, sw, () => t, interactive: true);
        bar.Report(0, M(("a_long_metric_name", 123.25)));
        t = 1;   // 250 in 1 s: 250 it/s, 750 left → 3 s
        bar.Report(250, M(("loss", 0.5)));
        var frames = sw.ToString().Split('\r', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("train [>                       ] 0/1000 0% elapsed 00:00 eta ? ? it/s a_long_metric_name=123.2", frames[0]);
        const string quarter = "train [======>                 ] 250/1000 25% elapsed 00:01 eta 00:03 250.00 it/s loss=0.5";
        Assert.Equal(quarter.PadRight(frames[0].Length), frames[1]);
    }

    [Fact]
    public void UnknownTotal_ShowsCountElapsedAndRate_AndIsStillThrottled()
    {
        double t = 0;
        var sw = new StringWriter();
        var bar = new ProgressBar("gen", 0, sw, () => t, interactive: true);
        for (int i = 0; i <= 1000; i++)
        {
            t = i * 0.001;
            bar.Report(i);
        }
        var frames = sw.ToString().Split('\r', StringSplitOptions.RemoveEmptyEntries);
        Assert.InRange(frames.Length, 10, 11);
        Assert.Equal("gen 0 elapsed 00:00 ? it/s", frames[0]);
        Assert.All(frames.Skip(1), f => Assert.Matches(@"^gen \d+ elapsed 00:0[01] 1000\.00 it/s$", f.TrimEnd()));
    }

    [Theory]
    [InlineData(0, "00:00")]
    [InlineData(59.6, "01:00")]
    [InlineData(3599, "59:59")]
    [InlineData(3600, "1:00:00")]
    [InlineData(90061, "25:01:01")]
    public void FormatDuration_UsesMinutesSecondsThenHours(double seconds, string expected) =>
        Assert.Equal(expected, ProgressBar.FormatDuration(seconds));
}
