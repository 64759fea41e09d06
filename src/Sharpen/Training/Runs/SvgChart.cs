using System.Globalization;
using System.Net;
using System.Text;

namespace Sharpen.Training;

/// <summary>One line of a chart: a legend label and its (step, value) points in step order.</summary>
/// <param name="Label">Legend text, e.g. <c>eval loss</c>.</param>
/// <param name="Points">Points sorted by step.</param>
sealed record ChartSeries(string Label, IReadOnlyList<(long Step, double Value)> Points);

/// <summary>
/// A line chart against step as an inline SVG string: title, grid, axes with "nice" ticks (1, 2, 5 × 10^k),
/// one coloured polyline per series (with point markers when a series is short) and a legend.
/// Series longer than the plot is wide are thinned to the minimum and maximum of each pixel column,
/// so spikes stay visible; non-finite (and absurdly large) values are not drawn.
/// </summary>
static class SvgChart
{
    const int Width = 720;
    const int PlotLeft = 70, PlotRight = Width - 16, PlotTop = 34;
    const int PlotHeight = 200;
    const int MarkerMaxPoints = 60;
    static readonly string[] Palette =
        ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The SVG element of a chart titled <paramref name="title"/> with <paramref name="series"/>.</summary>
    public static string Render(string title, IReadOnlyList<ChartSeries> series)
    {
        var finite = series.SelectMany(s => s.Points).Where(p => Drawable(p.Value)).ToList();
        var (x0, x1, xTicks) = Axis(finite.Min(p => p.Step), finite.Max(p => p.Step), integer: true);
        var (y0, y1, yTicks) = Axis(finite.Min(p => p.Value), finite.Max(p => p.Value), integer: false);
        int plotBottom = PlotTop + PlotHeight;
        double X(double step) => PlotLeft + (step - x0) / (x1 - x0) * (PlotRight - PlotLeft);
        double Y(double v) => plotBottom - (v - y0) / (y1 - y0) * PlotHeight;

        const int legendItemWidth = 170;
        int perRow = (PlotRight - PlotLeft) / legendItemWidth;
        int legendRows = (series.Count + perRow - 1) / perRow;
        int height = plotBottom + 44 + 18 * legendRows;

        var svg = new StringBuilder();
        svg.Append(Inv, $"<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" viewBox=\"0 0 {Width} {height}\" width=\"{Width}\" height=\"{height}\" role=\"img\" font-family=\"system-ui, sans-serif\" font-size=\"11\">");
        svg.Append("<title>").Append(E(title)).Append("</title>");
        svg.Append(Inv, $"<text class=\"chart-title\" x=\"{PlotLeft}\" y=\"20\" font-size=\"14\" font-weight=\"600\">{E(title)}</text>");

        svg.Append("<g class=\"grid\" stroke=\"#e8e8e8\">");
        foreach (var t in yTicks)
            svg.Append(Inv, $"<line x1=\"{PlotLeft}\" x2=\"{PlotRight}\" y1=\"{Y(t):0.#}\" y2=\"{Y(t):0.#}\"/>");
        foreach (var t in xTicks)
            svg.Append(Inv, $"<line x1=\"{X(t):0.#}\" x2=\"{X(t):0.#}\" y1=\"{PlotTop}\" y2=\"{plotBottom}\"/>");
        svg.Append("</g>");

        svg.Append("<g class=\"axes\" fill=\"#444\">");
        svg.Append(Inv, $"<line x1=\"{PlotLeft}\" x2=\"{PlotRight}\" y1=\"{plotBottom}\" y2=\"{plotBottom}\" stroke=\"#444\"/>");
        svg.Append(Inv, $"<line x1=\"{PlotLeft}\" x2=\"{PlotLeft}\" y1=\"{PlotTop}\" y2=\"{plotBottom}\" stroke=\"#444\"/>");
        double yStep = yTicks.Length > 1 ? yTicks[1] - yTicks[0] : 1;
        foreach (var t in yTicks)
            svg.Append(Inv, $"<text class=\"tick\" x=\"{PlotLeft - 6}\" y=\"{Y(t) + 4:0.#}\" text-anchor=\"end\">{E(TickLabel(t, yStep))}</text>");
        double xStep = xTicks.Length > 1 ? xTicks[1] - xTicks[0] : 1;
        foreach (var t in xTicks)
            svg.Append(Inv, $"<text class=\"tick\" x=\"{X(t):0.#}\" y=\"{plotBottom + 16}\" text-anchor=\"middle\">{E(TickLabel(t, xStep))}</text>");
        svg.Append(Inv, $"<text class=\"axis-label\" x=\"{(PlotLeft + PlotRight) / 2}\" y=\"{plotBottom + 34}\" text-anchor=\"middle\">step</text>");
        svg.Append("</g>");

        for (int i = 0; i < series.Count; i++)
        {
            var color = Palette[i % Palette.Length];
            var pts = Thin(series[i].Points.Where(p => Drawable(p.Value)).ToList(), PlotRight - PlotLeft);
            svg.Append(Inv, $"<g class=\"series\" stroke=\"{color}\" fill=\"{color}\">");
            svg.Append("<polyline fill=\"none\" stroke-width=\"1.5\" points=\"");
            foreach (var (s, v) in pts) svg.Append(Inv, $"{X(s):0.#},{Y(v):0.#} ");
            svg.Append("\"/>");
            if (pts.Count <= MarkerMaxPoints)
                foreach (var (s, v) in pts) svg.Append(Inv, $"<circle cx=\"{X(s):0.#}\" cy=\"{Y(v):0.#}\" r=\"2.5\"/>");
            svg.Append("</g>");

            int lx = PlotLeft + i % perRow * legendItemWidth, ly = plotBottom + 50 + i / perRow * 18;
            svg.Append(Inv, $"<g class=\"legend\"><line x1=\"{lx}\" x2=\"{lx + 20}\" y1=\"{ly - 4}\" y2=\"{ly - 4}\" stroke=\"{color}\" stroke-width=\"3\"/>");
            svg.Append(Inv, $"<text x=\"{lx + 26}\" y=\"{ly}\" fill=\"#444\">{E(series[i].Label)}</text></g>");
        }
        return svg.Append("</svg>").ToString();
    }

    /// <summary>Axis bounds widened to whole tick steps, and the ticks, about five of them.</summary>
    static (double Lo, double Hi, double[] Ticks) Axis(double lo, double hi, bool integer)
    {
        if (hi == lo)
        {
            double pad = lo == 0 ? 1 : Math.Abs(lo) * 0.1;
            (lo, hi) = (lo - pad, hi + pad);
        }
        double step = NiceStep((hi - lo) / 5);
        if (integer) step = Math.Max(1, step);
        double a = Math.Floor(lo / step) * step, b = Math.Ceiling(hi / step) * step;
        int n = (int)Math.Round((b - a) / step);
        var ticks = Enumerable.Range(0, n + 1).Select(k => a + k * step).ToArray();
        return (a, b, ticks);
    }

    /// <summary>The smallest of 1, 2, 5 × 10^k at least <paramref name="raw"/>.</summary>
    static double NiceStep(double raw)
    {
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double f = raw / mag;
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
    }

    static string TickLabel(double v, double step)
    {
        if (Math.Abs(v) < step * 1e-6) return "0";
        double a = Math.Abs(v);
        if (a >= 1e6 || a < 1e-3) return v.ToString("0.##e+0", Inv);
        int decimals = Math.Clamp(-(int)Math.Floor(Math.Log10(step)), 0, 6);
        return v.ToString("F" + decimals, Inv);
    }

    /// <summary>At most about 2 × <paramref name="columns"/> points: the first, the last, and in each of
    /// <paramref name="columns"/> equal step ranges the lowest and highest point, in step order.</summary>
    static List<(long Step, double Value)> Thin(List<(long Step, double Value)> pts, int columns)
    {
        if (pts.Count <= 2 * columns) return pts;
        long first = pts[0].Step, span = Math.Max(1, pts[^1].Step - first);
        var keep = new SortedSet<int> { 0, pts.Count - 1 };
        int bucketStart = 0;
        while (bucketStart < pts.Count)
        {
            long bucket = (pts[bucketStart].Step - first) * columns / span;
            int lo = bucketStart, hi = bucketStart, i = bucketStart;
            for (; i < pts.Count && (pts[i].Step - first) * columns / span == bucket; i++)
            {
                if (pts[i].Value < pts[lo].Value) lo = i;
                if (pts[i].Value > pts[hi].Value) hi = i;
            }
            keep.Add(lo);
            keep.Add(hi);
            bucketStart = i;
        }
        return keep.Select(i => pts[i]).ToList();
    }

    /// <summary>Whether a value is drawn: finite and small enough that axis arithmetic cannot overflow.</summary>
    internal static bool Drawable(double v) => Math.Abs(v) < 1e300;

    static string E(string s) => WebUtility.HtmlEncode(s);
}
