// Bar charts of the survey results and supply-demand pages; plotly.js is served locally.
(function () {
  var holder = document.getElementById("survey-chart-data");
  if (!holder || typeof Plotly === "undefined") { return; }
  var data = JSON.parse(holder.textContent);
  (data.charts || []).forEach(function (chart) {
    var el = document.getElementById(chart.id);
    if (!el || !chart.values.length) { return; }
    var colors = chart.values.map(function (_, i) {
      return chart.no_supply && chart.no_supply[i] ? "#c0392b" : "#2f6690";
    });
    var text = chart.text || chart.values.map(function (v) { return (Math.round(v * 10) / 10) + (chart.unit || ""); });
    var trace = chart.horizontal
      ? { type: "bar", orientation: "h", y: chart.labels, x: chart.values, text: text, marker: { color: colors } }
      : { type: "bar", x: chart.labels, y: chart.values, text: text, marker: { color: colors } };
    trace.textposition = "auto";
    trace.hoverinfo = chart.horizontal ? "y+x" : "x+y";
    var layout = chart.horizontal
      ? { margin: { l: 140, r: 10, t: 10, b: 30 }, height: Math.max(220, 26 * chart.values.length + 60), yaxis: { autorange: "reversed", automargin: true } }
      : { margin: { l: 40, r: 10, t: 10, b: 80 }, height: 300, xaxis: { automargin: true }, yaxis: { ticksuffix: chart.unit || "" } };
    Plotly.newPlot(el, [trace], layout, { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["toImage"] });
  });
})();
