// Trajectory of one target: baseline, the expected path (序时进度), actual values and the target.
(function () {
  var el = document.getElementById("target-chart");
  var d = JSON.parse(document.getElementById("chart-data").textContent);
  var years = Object.keys(d.series).map(Number).sort(function (a, b) { return a - b; });
  var actual = years.map(function (y) { return d.series[y]; });
  var traces = [{
    x: years, y: actual, name: d.labels.actual, mode: "lines+markers",
    line: { color: "#b3261e", width: 3, dash: d.simulated ? "dot" : "solid" }, marker: { size: 8 }
  }];
  if (d.per_period && d.target !== null) {
    // 每年新增 N: every year is judged against N on its own; there is no path to a deadline
    traces.push({
      x: [years[0], d.deadline], y: [d.target, d.target], name: d.labels.target,
      mode: "lines", line: { color: "#1b7f3b", width: 2 }
    });
  } else if (d.baseline !== null && d.target !== null) {
    traces.push({
      x: [d.baseline_year, d.deadline], y: [d.baseline, d.target], name: d.labels.expected,
      mode: "lines", line: { color: "#2f6fb0", dash: "dash" }
    });
    traces.push({
      x: [d.baseline_year, d.deadline], y: [d.target, d.target], name: d.labels.target,
      mode: "lines", line: { color: "#1b7f3b", width: 2 }
    });
  }
  if (d.forecast) {
    // the projection to the deadline and its 80 % interval (docs/evaluation.md §4)
    var fy = Object.keys(d.forecast.trajectory).map(Number).sort(function (a, b) { return a - b; });
    traces.push({
      x: fy, y: fy.map(function (y) { return d.forecast.trajectory[y]; }), name: d.labels.forecast,
      mode: "lines", line: { color: "#7a5a00", dash: "dot", width: 2 }
    });
    traces.push({
      x: [d.forecast.deadline], y: [d.forecast.projected], name: d.labels.interval, mode: "markers",
      marker: { color: "#7a5a00", size: 9, symbol: "diamond" },
      error_y: {
        type: "data", symmetric: false, color: "#7a5a00",
        array: [d.forecast.upper - d.forecast.projected], arrayminus: [d.forecast.projected - d.forecast.lower]
      }
    });
  }
  Plotly.newPlot(el, traces, {
    title: { text: d.labels.title },
    xaxis: { dtick: 1, title: { text: "" } },
    yaxis: { title: { text: d.labels.measure } },
    legend: { orientation: "h" }, margin: { t: 50, r: 20 }
  }, { displaylogo: false, responsive: true });
})();
