// Status distribution bar on the plan overview; plotly.js is served locally from the plotly package.
(function () {
  var el = document.getElementById("status-chart");
  var data = JSON.parse(document.getElementById("status-data").textContent);
  var colors = getComputedStyle(document.documentElement);
  var palette = data.statuses.map(function (s) { return colors.getPropertyValue("--" + s).trim() || "#888"; });
  Plotly.newPlot(el, [{
    type: "bar", orientation: "h", y: data.labels, x: data.values,
    marker: { color: palette }, text: data.values, textposition: "auto", hoverinfo: "y+x"
  }], {
    margin: { l: 110, r: 10, t: 10, b: 30 }, height: 220,
    yaxis: { autorange: "reversed" }, xaxis: { dtick: 5 }
  }, { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["toImage"] });
})();
