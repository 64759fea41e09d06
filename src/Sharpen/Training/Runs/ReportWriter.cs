using System.Globalization;
using System.Net;
using System.Text;

namespace Sharpen.Training;

/// <summary>
/// Writes <c>report.html</c> for a run directory: one self-contained page (inline CSS and SVG, nothing fetched
/// from the network) with a chart per metric group against step, a first/last/best summary table, and the
/// resolved <c>config.yaml</c>. Charts: loss (every metric named *loss*, train and eval), rewards and margins,
/// accuracy, learning rate, grad norm, tokens/s, then one chart for each other metric. Each <c>config.resume-S.yaml</c> follows the config.
/// </summary>
public static class ReportWriter
{
    /// <summary>The report's file name inside a run directory.</summary>
    public const string FileName = "report.html";

    /// <summary>The resolved config's file name inside a run directory.</summary>
    public const string ConfigFileName = "config.yaml";

    /// <summary>A chart that gathers every metric whose lower-cased name matches.</summary>
    sealed record Group(string Title, Func<string, bool> Matches);

    static readonly Group[] Groups =
    [
        new("Loss", n => n.Contains("loss")),
        new("Rewards and margins", n => n.Contains("reward") || n.Contains("margin")),
        new("Accuracy", n => n.Contains("accuracy") || n == "acc" || n.EndsWith("_acc")),
        new("Learning rate", n => n == "lr" || n.EndsWith("_lr") || n.Contains("learning_rate")),
        new("Grad norm", n => n.Contains("grad_norm")),
        new("Tokens/s", n => n.Contains("tokens_per_s") || n.Contains("throughput")),
    ];

    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Reads <c>metrics.jsonl</c> and <c>config.yaml</c> from <paramref name="runDir"/> (either may be
    /// missing) and writes <c>report.html</c> there, replacing any earlier one atomically.</summary>
    /// <returns>The report's path.</returns>
    /// <exception cref="DirectoryNotFoundException"><paramref name="runDir"/> does not exist.</exception>
    public static string Write(string runDir)
    {
        if (!Directory.Exists(runDir)) throw new DirectoryNotFoundException($"run directory not found: {runDir}");
        var metricsPath = Path.Combine(runDir, MetricsWriter.FileName);
        var configPath = Path.Combine(runDir, ConfigFileName);
        var records = File.Exists(metricsPath) ? MetricsReader.Read(metricsPath) : [];
        var config = File.Exists(configPath) ? File.ReadAllText(configPath) : null;
        var resumed = RunConfigs.Resumed(runDir).Select(x => (x.Step, File.ReadAllText(x.Path))).ToList();
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(runDir)));
        var path = Path.Combine(runDir, FileName);
        File.WriteAllText(path + ".tmp", Render(name, records, config, resumed));
        File.Move(path + ".tmp", path, overwrite: true);
        return path;
    }

    /// <summary>The report page for run <paramref name="runName"/>; <paramref name="resumed"/> holds the configs of segments resumed with changes.</summary>
    static string Render(string runName, IReadOnlyList<MetricsRecord> records, string? config, IReadOnlyList<(long Step, string Yaml)> resumed)
    {
        // (name, split) → points in step order; names in order of first appearance, train before eval.
        var series = records
            .SelectMany(r => r.Values.Select(kv => (kv.Key, r.Split, Point: (r.Step, kv.Value))))
            .GroupBy(x => (Name: x.Key, x.Split))
            .Select(g => (g.Key.Name, g.Key.Split, Points: g.Select(x => x.Point).OrderBy(p => p.Step).ToList()))
            .OrderBy(s => s.Split == "train" ? 0 : 1)
            .ToList();

        var html = new StringBuilder();
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>")
            .Append(E($"Sharpen run: {runName}")).Append("</title>\n<style>").Append(Css).Append("</style>\n</head>\n<body>\n");
        html.Append("<h1>Sharpen run: ").Append(E(runName)).Append("</h1>\n");
        if (records.Count > 0)
            html.Append(Inv, $"<p class=\"meta\">{records.Count} metric records, steps {records.Min(r => r.Step)}–{records.Max(r => r.Step)}, ")
                .Append(ProgressBar.FormatDuration(records.Max(r => r.Time) - records.Min(r => r.Time))).Append(" of wall time.</p>\n");
        else html.Append("<p class=\"meta\">No metrics recorded yet.</p>\n");

        html.Append("<h2>Charts</h2>\n<div class=\"charts\">\n");
        var drawable = series.Where(s => s.Points.Any(p => SvgChart.Drawable(p.Value))).ToList();
        var charted = new HashSet<string>();
        foreach (var g in Groups)
        {
            var members = drawable.Where(s => g.Matches(s.Name.ToLowerInvariant()) && !charted.Contains(s.Name)).ToList();
            if (members.Count == 0) continue;
            html.Append(Chart(g.Title, members.Select(s => new ChartSeries($"{s.Split} {s.Name}", s.Points)).ToList()));
            foreach (var s in members) charted.Add(s.Name);
        }
        foreach (var name in drawable.Select(s => s.Name).Distinct().Where(n => !charted.Contains(n)).ToList())
        {
            html.Append(Chart(name, drawable.Where(s => s.Name == name).Select(s => new ChartSeries($"{s.Split} {s.Name}", s.Points)).ToList()));
            charted.Add(name);
        }
        html.Append("</div>\n");

        html.Append("<h2>Summary</h2>\n<table>\n<thead><tr><th>metric</th><th>split</th><th>points</th><th>first</th><th>last</th><th>best</th><th>best at step</th></tr></thead>\n<tbody>\n");
        foreach (var (name, split, points) in series.OrderBy(s => s.Name, StringComparer.Ordinal).ThenBy(s => s.Split == "train" ? 0 : 1))
        {
            var best = Best(name, points);
            html.Append("<tr><td>").Append(E(name)).Append("</td><td>").Append(E(split)).Append("</td><td>").Append(points.Count)
                .Append("</td><td>").Append(FormatValue(points[0].Value)).Append("</td><td>").Append(FormatValue(points[^1].Value))
                .Append("</td><td>").Append(best is { } b ? FormatValue(b.Value) : "—")
                .Append("</td><td>").Append(best is { } c ? c.Step.ToString(Inv) : "—").Append("</td></tr>\n");
        }
        html.Append("</tbody>\n</table>\n");

        html.Append("<h2>Config</h2>\n<pre>").Append(config != null ? E(config) : "(no config.yaml in the run directory)").Append("</pre>\n");
        foreach (var (step, yaml) in resumed)
            html.Append(Inv, $"<h2>Config from step {step} on (resumed with changes)</h2>\n<pre>").Append(E(yaml)).Append("</pre>\n");
        return html.Append("</body>\n</html>\n").ToString();
    }

    static string Chart(string title, List<ChartSeries> series) =>
        "<figure>" + SvgChart.Render(title, series) + "</figure>\n";

    /// <summary>The best point of a metric: the lowest for losses, KL, perplexity and errors, the highest for
    /// rewards, accuracies, margins and throughput; null when the name says neither.</summary>
    static (long Step, double Value)? Best(string name, List<(long Step, double Value)> points)
    {
        var words = name.ToLowerInvariant().Split(['_', '/', '.', '-', ' ']);
        bool lower = words.Any(w => w is "loss" or "kl" or "perplexity" or "ppl" or "error");
        bool higher = words.Any(w => w is "reward" or "rewards" or "accuracy" or "acc" or "margin" or "margins" or "throughput")
            || name.Contains("per_s");
        var finite = points.Where(p => double.IsFinite(p.Value)).ToList();
        if (finite.Count == 0 || !(lower || higher)) return null;
        return lower ? finite.MinBy(p => p.Value) : finite.MaxBy(p => p.Value);
    }

    /// <summary>A value as the summary table shows it: 6 significant digits, invariant culture.</summary>
    public static string FormatValue(double v) => E(v.ToString("G6", Inv));

    static string E(string s) => WebUtility.HtmlEncode(s);

    const string Css = """
        body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1500px; padding: 0 1rem; color: #222; }
        h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
        .meta { color: #666; }
        .charts { display: flex; flex-wrap: wrap; gap: 1rem; }
        figure { margin: 0; border: 1px solid #e4e4e4; border-radius: 4px; padding: 4px; }
        table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
        th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
        th:first-child, td:first-child, td:nth-child(2) { text-align: left; }
        pre { background: #f6f6f6; padding: 1rem; overflow-x: auto; }
        """;
}
