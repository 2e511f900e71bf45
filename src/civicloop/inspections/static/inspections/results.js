/* Ranking chart (Apache ECharts) from the page's json_script block "ranking-chart".
 *
 * A picture of the ranking table on the same page, which carries the same numbers for
 * screen readers and for anyone without JavaScript.
 */
(function () {
  "use strict";

  function esc(text) {
    var format = window.echarts && window.echarts.format;
    if (format && format.encodeHTML) return format.encodeHTML(String(text));
    return String(text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  function draw() {
    var source = document.getElementById("ranking-chart");
    var el = document.getElementById("chart-ranking");
    if (!source || !el || !window.echarts) return;
    var d = JSON.parse(source.textContent);
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    el.style.height = Math.max(12, 2 * d.labels.length + 4) + "rem";
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    window.addEventListener("resize", function () { chart.resize(); });
    chart.setOption({
      animation: !still,
      grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        // The tooltip is HTML: area and unit names may come from imported data and
        // grades from a round's plan, so every piece is escaped.
        formatter: function (items) {
          var i = items[0].dataIndex;
          return esc(d.labels[i]) + ": " + esc(d.scores[i]) + " (" + esc(d.grades[i]) + ")";
        }
      },
      xAxis: { type: "value", min: 0, max: 100 },
      yAxis: { type: "category", data: d.labels, inverse: true },
      series: [{
        type: "bar",
        data: d.scores.map(Number),
        itemStyle: { color: "#12355b" },
        label: { show: true, position: "right", formatter: function (p) { return d.scores[p.dataIndex]; } }
      }]
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
