// Draws the Analytics charts from the JSON each section carries: the retention curve, the
// distribution of customer value (bars) and the purchase model's predictions against actual
// purchases. No build step; uPlot is vendored beside this file.
document.addEventListener("DOMContentLoaded", () => {
  if (typeof uPlot === "undefined") return;
  const lang = document.documentElement.lang;
  const data = (el) => JSON.parse(document.getElementById(el.dataset.seriesId).textContent);
  const width = (el) => Math.max(260, Math.min(el.clientWidth || 640, 1100));
  const number = (v) => (v == null ? "" : v.toLocaleString(lang));
  // Category axes: whole positions only, labelled by the page.
  const categories = (labels) => ({
    splits: () => labels.map((_, i) => i),
    values: (u, splits) => splits.map((i) => labels[i] ?? ""),
    rotate: labels.length > 6 ? -35 : 0,
    size: labels.length > 6 ? 16 + 4.2 * Math.max(...labels.map((l) => l.length)) : 40,
  });
  // Counts start from nothing, whatever they reach.
  const fromZero = { range: (u, min, max) => [0, Math.max(1, max) * 1.1] };
  const charts = [];

  const curve = document.getElementById("retention-chart");
  if (curve) {
    const d = data(curve);
    if (d && d.x.length) {
      charts.push([curve, (w) => new uPlot({
        width: w, height: 240,
        scales: { x: { time: false }, y: { range: [0, 100] } },
        series: [
          { label: d.x_label, value: (u, v) => number(v) },
          { label: d.average_label, stroke: "#0a7c66", width: 2, points: { show: true }, value: (u, v) => v == null ? "" : number(v) + "%" },
          { label: d.weighted_label, stroke: "#5b6478", width: 1.5, dash: [6, 4], value: (u, v) => v == null ? "" : number(v) + "%" },
        ],
        axes: [{ label: d.x_label }, { values: (u, vals) => vals.map((v) => number(v) + "%"), size: 55 }],
      }, [d.x, d.average, d.weighted], curve)]);
    }
  }

  const value = document.getElementById("value-chart");
  if (value) {
    const d = data(value);
    if (d && d.counts.length) {
      const x = d.counts.map((_, i) => i);
      charts.push([value, (w) => new uPlot({
        width: w, height: 260,
        scales: { x: { time: false, range: [-0.5, x.length - 0.5] }, y: fromZero },
        series: [
          { label: d.x_label, value: (u, v) => v == null ? "" : d.labels[v] },
          { label: d.y_label, fill: "rgba(10,124,102,0.55)", stroke: "#0a7c66",
            paths: uPlot.paths.bars({ size: [0.8, 80] }), points: { show: false }, value: (u, v) => number(v) },
        ],
        axes: [categories(d.short), { values: (u, vals) => vals.map(number), size: 55 }],
      }, [x, d.counts], value)]);
    }
  }

  const backtest = document.getElementById("backtest-chart");
  if (backtest) {
    const d = data(backtest);
    if (d && d.labels.length) {
      const x = d.labels.map((_, i) => i);
      charts.push([backtest, (w) => new uPlot({
        width: w, height: 260,
        scales: { x: { time: false, range: [-0.5, x.length - 0.5] }, y: fromZero },
        series: [
          { label: d.x_label, value: (u, v) => v == null ? "" : d.labels[v] },
          { label: d.actual_label, fill: "rgba(91,100,120,0.35)", stroke: "#5b6478",
            paths: uPlot.paths.bars({ size: [0.7, 60] }), points: { show: false }, value: (u, v) => number(v) },
          { label: d.predicted_label, stroke: "#0a7c66", width: 2, points: { show: true }, value: (u, v) => number(v) },
        ],
        axes: [categories(d.labels), { values: (u, vals) => vals.map(number), size: 55 }],
      }, [x, d.actual, d.predicted], backtest)]);
    }
  }

  const drawn = charts.map(([el, make]) => [el, make(width(el))]);
  let pending = null;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(() => drawn.forEach(([el, plot]) => plot.setSize({ width: width(el), height: plot.height })), 150);
  });
});
