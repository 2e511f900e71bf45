/* Overview charts (Apache ECharts) from the page's json_script block "overview-charts".
 *
 * The charts are a picture of the tables right below them, which carry the same numbers
 * for screen readers and for anyone without JavaScript.
 */
(function () {
  "use strict";

  function data() {
    var el = document.getElementById("overview-charts");
    return el ? JSON.parse(el.textContent) : null;
  }

  function chart(id) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) return null;
    var c = window.echarts.init(el, null, { renderer: "svg" });
    window.addEventListener("resize", function () { c.resize(); });
    return c;
  }

  function draw() {
    var d = data();
    if (!d) return;
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var states = chart("chart-states");
    if (states) {
      states.setOption({
        animation: !still,
        grid: { left: 8, right: 24, top: 8, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", data: d.states.labels, inverse: true },
        series: [{ type: "bar", data: d.states.values, itemStyle: { color: "#12355b" }, label: { show: true, position: "right" } }]
      });
    }
    var trend = chart("chart-trend");
    if (trend) {
      trend.setOption({
        animation: !still,
        grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
        tooltip: { trigger: "axis" },
        legend: { data: [d.trend.labels.received, d.trend.labels.closed] },
        xAxis: { type: "category", data: d.trend.days },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: d.trend.labels.received, type: "line", data: d.trend.received, itemStyle: { color: "#12355b" } },
          { name: d.trend.labels.closed, type: "line", data: d.trend.closed, itemStyle: { color: "#2e7d32" } }
        ]
      });
    }
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
