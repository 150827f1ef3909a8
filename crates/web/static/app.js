// Draws the overview chart from the JSON the page carries: revenue (bars' worth as a line)
// and orders per day. No build step; uPlot is vendored beside this file.
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("overview-chart");
  if (!el || typeof uPlot === "undefined") return;
  const data = JSON.parse(document.getElementById(el.dataset.seriesId).textContent);
  const width = Math.max(320, el.clientWidth || 640);
  new uPlot({
    width, height: 260,
    series: [
      { label: data.day_label },
      { label: data.revenue_label, stroke: "#0a7c66", width: 2, scale: "money",
        value: (u, v) => v == null ? "" : data.money_prefix + v.toLocaleString(document.documentElement.lang) + data.money_suffix },
      { label: data.orders_label, stroke: "#5b6478", width: 1.5, scale: "count" },
    ],
    axes: [{}, { scale: "money", size: 90 }, { scale: "count", side: 1, size: 50, grid: { show: false } }],
  }, [data.days, data.revenue, data.orders], el);
});
