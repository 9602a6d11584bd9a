// The city's monthly request rates (诉求考核指标) on the metrics dashboard, drawn with plotly.js
// served locally; the figures come from the page (the same ones GET /api/requests/metrics gives).
(function () {
  var el = document.getElementById("rm-chart");
  var source = document.getElementById("rm-chart-data");
  if (!el || !source) { return; }
  var d = JSON.parse(source.textContent);
  var COLOURS = {
    response: "#2f6fb0", on_time: "#1b7f3b", resolution: "#7a5a00", satisfaction: "#8e44ad", overdue: "#b3261e"
  };
  try {
    var traces = Object.keys(d.series).map(function (code) {
      return {
        x: d.months, y: d.series[code], name: d.names[code], mode: "lines+markers", connectgaps: false,
        line: { color: COLOURS[code] || "#555", width: 2, dash: d.simulated ? "dot" : "solid" },
        customdata: d.n[code], hovertemplate: "%{x}: %{y:.1f}% (N=%{customdata})<extra>" + d.names[code] + "</extra>"
      };
    });
    var title = d.labels.title + (d.simulated ? " (" + d.labels.simulated + ")" : "");
    Plotly.newPlot(el, traces, {
      title: { text: title },
      xaxis: { type: "category" },
      yaxis: { title: { text: d.labels.axis }, range: [0, 100] },
      legend: { orientation: "h" }, margin: { t: 50, r: 20 }
    }, { displaylogo: false, responsive: true }).then(function () {
      el.setAttribute("data-state", "drawn");
    });
  } catch (e) {
    el.setAttribute("data-state", "failed");
    el.textContent = String(e);
  }
})();
