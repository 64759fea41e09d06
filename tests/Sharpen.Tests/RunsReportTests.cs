using System.Globalization;
using System.Text.RegularExpressions;
using Sharpen.Training;

namespace Sharpen.Tests;

/// <summary>ReportWriter: a self-contained report.html with the right charts, summary values and escaped config.</summary>
public sealed class RunsReportTests : IDisposable
{
    readonly DirectoryInfo dir = Directory.CreateTempSubdirectory("sharpen-runs-report-");

    public void Dispose() => dir.Delete(recursive: true);

    const int Steps = 3000;
    const int SpikeStep = 1234;

    static double Loss(int s) => s == SpikeStep ? 9.0 : 2.0 * Math.Exp(-s / 800.0) + 0.1 * Math.Sin(s);
    static double Reward(int s) => -1 + 2.0 * s / Steps;

    /// <summary>A run directory like a trainer leaves it: metrics.jsonl and config.yaml.</summary>
    string MakeRun()
    {
        var runDir = Path.Combine(dir.FullName, "dpo-<tiny>");
        using (var w = new MetricsWriter(runDir, clock: () => 1_700_000_000))
            for (int s = 1; s <= Steps; s++)
            {
                w.Log(s, "train", new Dictionary<string, double>
                {
                    ["loss"] = Loss(s),
                    ["reward"] = Reward(s),
                    ["accuracy"] = s / (double)Steps,
                    ["lr"] = 1e-4 * Math.Min(1, s / 100.0),
                    ["grad_norm"] = 1 + s % 7,
                    ["tokens_per_s"] = 5000 + s % 13,
                    ["score<&>"] = s * 0.5,
                });
                if (s % 500 == 0) w.Log(s, "eval", new Dictionary<string, double> { ["loss"] = 3000.0 / s });
            }
        File.WriteAllText(Path.Combine(runDir, "config.yaml"), "name: \"<script>alert('x')</script> & co\"\nseed: 42\n");
        return runDir;
    }

    static string G6(double v) => v.ToString("G6", CultureInfo.InvariantCulture);

    static List<(string Title, string Svg)> Charts(string html) =>
        Regex.Matches(html, "<svg.*?</svg>", RegexOptions.Singleline)
            .Select(m => (Regex.Match(m.Value, "<title>(.*?)</title>").Groups[1].Value, m.Value)).ToList();

    [Fact]
    public void Report_HasAChartPerMetricGroupWithTitlesLegendsAndTicks()
    {
        var html = File.ReadAllText(ReportWriter.Write(MakeRun()));
        var charts = Charts(html);
        Assert.Equal(["Loss", "Rewards and margins", "Accuracy", "Learning rate", "Grad norm", "Tokens/s", "score&lt;&amp;&gt;"],
            charts.Select(c => c.Title));
        var loss = charts[0].Svg;
        Assert.Contains(">train loss</text>", loss);
        Assert.Contains(">eval loss</text>", loss);
        Assert.Equal(2, Regex.Matches(loss, "<polyline").Count);
        Assert.Contains(">step</text>", loss);
        Assert.All(charts, c => Assert.True(Regex.Matches(c.Svg, "class=\"tick\"").Count >= 4));
        Assert.Contains("<h1>Sharpen run: dpo-&lt;tiny&gt;</h1>", html);
    }

    [Fact]
    public void Report_IsSelfContainedAndEscapesTheConfig()
    {
        var html = File.ReadAllText(ReportWriter.Write(MakeRun()));
        Assert.Contains("<pre>name: &quot;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co&quot;\nseed: 42\n</pre>", html);
        Assert.DoesNotContain("<script", html);
        var withoutXmlns = html.Replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
        Assert.DoesNotContain("http://", withoutXmlns);
        Assert.DoesNotContain("https://", withoutXmlns);
        Assert.DoesNotContain("<link", html);
        Assert.DoesNotContain("url(", html);
        Assert.DoesNotContain("@import", html);
    }

    [Fact]
    public void Report_SummaryHasFirstLastAndBestOfEachMetric()
    {
        var html = File.ReadAllText(ReportWriter.Write(MakeRun()));
        string Row(string metric, string split) =>
            Regex.Match(html, $"<tr><td>{Regex.Escape(metric)}</td><td>{split}</td>.*?</tr>").Value;

        var losses = Enumerable.Range(1, Steps).Select(Loss).ToList();
        int bestLossStep = losses.IndexOf(losses.Min()) + 1;
        Assert.Equal($"<tr><td>loss</td><td>train</td><td>{Steps}</td><td>{G6(Loss(1))}</td><td>{G6(Loss(Steps))}</td>"
            + $"<td>{G6(losses.Min())}</td><td>{bestLossStep}</td></tr>", Row("loss", "train"));
        Assert.Equal("<tr><td>loss</td><td>eval</td><td>6</td><td>6</td><td>1</td><td>1</td><td>3000</td></tr>", Row("loss", "eval"));
        Assert.Equal($"<tr><td>reward</td><td>train</td><td>{Steps}</td><td>{G6(Reward(1))}</td><td>1</td><td>1</td><td>{Steps}</td></tr>",
            Row("reward", "train"));
        Assert.Equal($"<tr><td>accuracy</td><td>train</td><td>{Steps}</td><td>{G6(1.0 / Steps)}</td><td>1</td><td>1</td><td>{Steps}</td></tr>",
            Row("accuracy", "train"));
        Assert.Equal($"<tr><td>lr</td><td>train</td><td>{Steps}</td><td>1E-06</td><td>0.0001</td><td>—</td><td>—</td></tr>", Row("lr", "train"));
        Assert.Contains("<td>score&lt;&amp;&gt;</td><td>train</td>", html);
    }

    [Fact]
    public void Report_ThinsLongSeriesButKeepsTheSpikeAtItsStepAndValue()
    {
        var html = File.ReadAllText(ReportWriter.Write(MakeRun()));
        var loss = Charts(html)[0].Svg;
        var points = Regex.Match(loss, "<polyline[^>]*points=\"([^\"]*)\"").Groups[1].Value
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split(',').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray()).ToList();
        Assert.InRange(points.Count, 100, 1500);         // 3000 points thinned to about two per pixel column

        // Map the spike (step 1234, loss 9) to pixels with the chart's own tick labels.
        var ticks = Regex.Matches(loss, "<text class=\"tick\" x=\"([-\\d.]+)\" y=\"([-\\d.]+)\" text-anchor=\"(middle|end)\">([^<]+)</text>")
            .Select(m => (X: double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Y: double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture),
                Axis: m.Groups[3].Value, Label: double.Parse(m.Groups[4].Value, CultureInfo.InvariantCulture))).ToList();
        var xt = ticks.Where(t => t.Axis == "middle").ToList();
        var yt = ticks.Where(t => t.Axis == "end").ToList();
        double px = xt[0].X + (SpikeStep - xt[0].Label) / (xt[^1].Label - xt[0].Label) * (xt[^1].X - xt[0].X);
        double py = yt[0].Y - 4 + (9.0 - yt[0].Label) / (yt[^1].Label - yt[0].Label) * (yt[^1].Y - yt[0].Y);
        var top = points.MinBy(p => p[1])!;
        Assert.Equal(px, top[0], 0.1);
        Assert.Equal(py, top[1], 0.1);
        // And the lowest loss is drawn at its value.
        double lowest = Enumerable.Range(1, Steps).Min(Loss);
        double pyLow = yt[0].Y - 4 + (lowest - yt[0].Label) / (yt[^1].Label - yt[0].Label) * (yt[^1].Y - yt[0].Y);
        Assert.Equal(pyLow, points.Max(p => p[1]), 0.1);
    }

    [Fact]
    public void Report_SkipsNonFiniteValuesInChartsButShowsThemInTheSummary()
    {
        using (var w = new MetricsWriter(dir.FullName, clock: () => 0))
        {
            w.Log(1, "train", new Dictionary<string, double> { ["loss"] = 2, ["kl"] = double.NaN });
            w.Log(2, "train", new Dictionary<string, double> { ["loss"] = double.PositiveInfinity, ["kl"] = double.NaN });
            w.Log(3, "train", new Dictionary<string, double> { ["loss"] = 1e308, ["kl"] = double.NaN });
            w.Log(4, "train", new Dictionary<string, double> { ["loss"] = 1.5, ["kl"] = double.NaN });
        }
        var html = File.ReadAllText(ReportWriter.Write(dir.FullName));
        var charts = Charts(html);
        Assert.Equal(["Loss"], charts.Select(c => c.Title));
        var points = Regex.Match(charts[0].Svg, "points=\"([^\"]*)\"").Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, points.Length);
        Assert.Contains("<tr><td>kl</td><td>train</td><td>4</td><td>NaN</td><td>NaN</td><td>—</td><td>—</td></tr>", html);
        Assert.Contains("<tr><td>loss</td><td>train</td><td>4</td><td>2</td><td>1.5</td><td>1.5</td><td>4</td></tr>", html);
    }

    [Fact]
    public void Report_OfAnEmptyRunDirSaysSoAndHasNoCharts()
    {
        var html = File.ReadAllText(ReportWriter.Write(dir.FullName));
        Assert.Contains("No metrics recorded yet.", html);
        Assert.Contains("(no config.yaml in the run directory)", html);
        Assert.DoesNotContain("<svg", html);
    }
}
