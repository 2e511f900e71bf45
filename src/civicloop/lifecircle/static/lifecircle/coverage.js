/* Coverage chart (Apache ECharts) from the page's json_script "lc-coverage-chart": the
 * share of households reaching all required kinds, per area. The table above carries the
 * same numbers for screen readers and for anyone without JavaScript. */
(function () {
  "use strict";

  function colour(v) {
    if (v === null || v === undefined) return "#9e9e9e";
    return v >= 90 ? "#1a7f37" : v >= 60 ? "#f9a825" : "#b3261e";
  }

  function draw() {
    var source = document.getElementById("lc-coverage-chart");
    var el = document.getElementById("lc-chart");
    if (!source || !el || !window.echarts) return;
    var d = JSON.parse(source.textContent);
    var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    el.style.height = Math.max(12, 2 * d.labels.length + 4) + "rem";
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    window.addEventListener("resize", function () { chart.resize(); });
    chart.setOption({
      animation: !still,
      grid: { left: 8, right: 48, top: 8, bottom: 8, containLabel: true },
      xAxis: { type: "value", min: 0, max: 100 },
      yAxis: { type: "category", data: d.labels, inverse: true },
      series: [{
        type: "bar",
        data: d.values.map(function (v) { return { value: v === null ? 0 : v, itemStyle: { color: colour(v) } }; }),
        label: { show: true, position: "right", formatter: function (p) { var v = d.values[p.dataIndex]; return v === null ? "—" : v + "%"; } }
      }]
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
})();
