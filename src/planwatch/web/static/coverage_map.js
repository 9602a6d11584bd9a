// Coverage maps (生活圈覆盖地图) with plotly.js served locally: no tiles, lon/lat drawn as a plain
// scatter with an equal-distance aspect. The points come from the page's JSON twin under /api.
(function () {
  var el = document.getElementById("coverage-map");
  if (!el) { return; }
  var cfg = JSON.parse(document.getElementById("map-config").textContent);
  var L = cfg.labels;
  var GREY = "#a9b0b8";
  var SCALE = [[0, "#1a9850"], [0.5, "#fee08b"], [1, "#d73027"]]; // the threshold sits in the middle

  function webgl() {
    try {
      var canvas = document.createElement("canvas");
      return !!(canvas.getContext("webgl") || canvas.getContext("experimental-webgl"));
    } catch (e) { return false; }
  }

  function pick(cols, idx) {
    var out = {};
    Object.keys(cols).forEach(function (k) { out[k] = idx.map(function (i) { return cols[k][i]; }); });
    return out;
  }

  function costText(cost, unit) {
    return cost === null ? L.unreachable : (Math.round(cost * 10) / 10) + " " + unit;
  }

  function hover(o, unit) {
    return o.cost.map(function (c, i) {
      return L.cost + ": " + costText(c, unit) + "<br>" + L.population + ": " + Math.round(o.population[i] || 0) +
        "<br>" + o.division[i];
    });
  }

  function draw(m) {
    var o = m.origins, T = m.threshold, unit = m.unit;
    var covered = [], gap = [], far = [];
    for (var i = 0; i < o.lon.length; i++) {
      if (o.lon[i] === null || o.lat[i] === null) { continue; }
      var c = o.cost[i];
      if (c !== null && c <= T) { covered.push(i); }
      else if (c !== null && c <= 2 * T) { gap.push(i); }
      else { far.push(i); }
    }
    var type = o.lon.length > 8000 && webgl() ? "scattergl" : "scatter";
    var traces = [];
    var index = {};
    function origins(name, idx, colour, extra) {
      var s = pick(o, idx);
      var trace = {
        type: type, mode: "markers", name: name + " (" + idx.length + ")", x: s.lon, y: s.lat,
        text: hover(s, unit), hoverinfo: "text", marker: { size: 5, opacity: 0.85 }
      };
      if (colour === "scale") {
        trace.marker.color = s.cost;
        trace.marker.colorscale = SCALE;
        trace.marker.cmin = 0;
        trace.marker.cmax = 2 * T;
      } else {
        trace.marker.color = colour;
      }
      Object.keys(extra || {}).forEach(function (k) { trace[k] = extra[k]; });
      return trace;
    }
    if (cfg.mode === "siting") {
      index.covered = traces.length;
      traces.push(origins(L.covered, covered, "#9ecae1", { visible: "legendonly" }));
      index.uncovered = traces.length;
      traces.push(origins(L.uncovered, gap.concat(far), "#d73027"));
    } else {
      // grey first, the covered last: the points that matter most are drawn on top
      traces.push(origins(L.far, far, GREY));
      var gaps = origins(L.gap, gap, "scale");
      gaps.marker.showscale = true;
      gaps.marker.colorbar = { title: { text: unit }, thickness: 12, len: 0.6 };
      traces.push(gaps);
      index.covered = traces.length;
      traces.push(origins(L.covered, covered, "scale"));
    }
    var f = m.facilities;
    traces.push({
      type: type, mode: "markers", name: L.facilities + " (" + f.lon.length + ")", x: f.lon, y: f.lat,
      text: f.name.map(function (n, i) { return n + "<br>" + f.type[i]; }), hoverinfo: "text",
      marker: { size: 6, symbol: "diamond-open", color: "#1d2733", opacity: 0.7, line: { width: 1.2 } }
    });
    if (cfg.sites) {
      traces.push({
        type: "scatter", mode: "markers+text", name: L.sites + " (" + cfg.sites.length + ")",
        x: cfg.sites.map(function (s) { return s.lon; }), y: cfg.sites.map(function (s) { return s.lat; }),
        text: cfg.sites.map(function (s) { return String(s.order); }), textposition: "middle center",
        textfont: { color: "#fff", size: 10 },
        hovertext: cfg.sites.map(function (s) { return "#" + s.order + " " + s.id; }), hoverinfo: "text",
        marker: { size: 18, color: "#2f6fb0", line: { color: "#fff", width: 1.5 } }
      });
    }
    var lo = Infinity, hi = -Infinity;
    o.lat.forEach(function (v) { if (v !== null) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    var mid = lo <= hi ? (lo + hi) / 2 : 30;
    var layout = {
      height: 640, margin: { l: 50, r: 10, t: 30, b: 40 }, hovermode: "closest",
      legend: { orientation: "h", y: -0.08 },
      xaxis: { title: { text: L.lon }, showgrid: false, zeroline: false },
      // one degree of latitude is longer on the ground than one of longitude by 1/cos(latitude)
      yaxis: { title: { text: L.lat }, showgrid: false, zeroline: false, scaleanchor: "x",
               scaleratio: 1 / Math.cos(mid * Math.PI / 180) },
      annotations: m.simulated ? [{ text: L.simulated, xref: "paper", yref: "paper", x: 1, y: 1.04,
                                    showarrow: false, font: { color: "#7a5a00" } }] : []
    };
    return Plotly.newPlot(el, traces, layout, { displaylogo: false, responsive: true }).then(function () {
      el.setAttribute("data-origins", String(o.lon.length));
      el.setAttribute("data-covered", String(covered.length));
      el.setAttribute("data-gaps", String(gap.length + far.length));
      el.setAttribute("data-facilities", String(f.lon.length));
      el.setAttribute("data-state", "drawn");
      toggles(index);
    });
  }

  function toggles(index) {
    var gapsOnly = document.getElementById("gaps-only");
    if (gapsOnly) {
      gapsOnly.addEventListener("change", function () {
        Plotly.restyle(el, { visible: gapsOnly.checked ? false : true }, [index.covered]);
      });
    }
    var showCovered = document.getElementById("show-covered");
    if (showCovered) {
      showCovered.addEventListener("change", function () {
        Plotly.restyle(el, { visible: showCovered.checked ? true : "legendonly" }, [index.covered]);
      });
    }
  }

  fetch(cfg.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
    .then(draw)
    .catch(function () {
      el.textContent = L.failed;
      el.setAttribute("data-state", "failed");
    });
})();
