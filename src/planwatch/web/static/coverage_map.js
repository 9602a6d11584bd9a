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
      traces.push(origins(L.covered, covered, "#9ecae1", { visible: "legendonly", meta: "covered" }));
      traces.push(origins(L.uncovered, gap.concat(far), "#d73027"));
    } else {
      // grey first, the covered last: the points that matter most are drawn on top
      traces.push(origins(L.far, far, GREY));
      var gaps = origins(L.gap, gap, "scale");
      gaps.marker.showscale = true;
      gaps.marker.colorbar = { title: { text: unit }, thickness: 12, len: 0.6 };
      traces.push(gaps);
      traces.push(origins(L.covered, covered, "scale", { meta: "covered" }));
    }
    var f = m.facilities;
    traces.push({
      type: type, mode: "markers", name: L.facilities + " (" + f.lon.length + ")", x: f.lon, y: f.lat,
      text: f.name.map(function (n, i) { return n + "<br>" + f.type[i]; }), hoverinfo: "text", meta: "facilities",
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
      toggles();
      if (cfg.isochrones) { clickable(f); }
    });
  }

  // traces are found by their meta, not their place: isochrones come and go below the points
  function traceIndex(meta) {
    for (var i = 0; i < el.data.length; i++) { if (el.data[i].meta === meta) { return i; } }
    return -1;
  }

  function toggles() {
    var gapsOnly = document.getElementById("gaps-only");
    if (gapsOnly) {
      gapsOnly.addEventListener("change", function () {
        Plotly.restyle(el, { visible: gapsOnly.checked ? false : true }, [traceIndex("covered")]);
      });
    }
    var showCovered = document.getElementById("show-covered");
    if (showCovered) {
      showCovered.addEventListener("change", function () {
        Plotly.restyle(el, { visible: showCovered.checked ? true : "legendonly" }, [traceIndex("covered")]);
      });
    }
  }

  // —— isochrones (等时圈) of one facility, fetched when its marker is clicked ——
  var BANDS = ["rgba(33,113,181,0.30)", "rgba(66,146,198,0.26)", "rgba(107,174,214,0.22)",
               "rgba(158,202,225,0.20)", "rgba(198,219,239,0.18)", "rgba(222,235,247,0.16)"];
  var note = document.getElementById("isochrone-note");
  var noteText = document.getElementById("isochrone-text");
  var asked = 0; // the latest request wins when markers are clicked in quick succession
  var zoomed = false;

  function isoIndices() {
    var out = [];
    el.data.forEach(function (t, i) { if (t.meta === "isochrone") { out.push(i); } });
    return out;
  }

  function clearIsochrones(keepView) {
    asked += 1;
    var old = isoIndices();
    var done = old.length ? Plotly.deleteTraces(el, old) : Promise.resolve();
    return Promise.resolve(done).then(function () {
      if (zoomed && !keepView) {
        zoomed = false;
        return Plotly.relayout(el, { "xaxis.autorange": true, "yaxis.autorange": true });
      }
    }).then(function () {
      if (note) { note.hidden = true; }
      el.setAttribute("data-isochrones", "0");
    });
  }

  function ring(geometry) {
    // the outer rings of a (multi)polygon, separated by gaps
    var polygons = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
    var x = [], y = [];
    polygons.forEach(function (p) {
      if (!p.length || !p[0].length) { return; }
      if (x.length) { x.push(null); y.push(null); }
      p[0].forEach(function (c) { x.push(c[0]); y.push(c[1]); });
    });
    return { x: x, y: y };
  }

  function drawIsochrones(fc) {
    var features = fc.features.slice().sort(function (a, b) { return b.properties.limit - a.properties.limit; });
    var traces = [];
    features.forEach(function (feature, k) {
      var r = ring(feature.geometry);
      if (!r.x.length) { return; }
      var p = feature.properties;
      traces.push({
        type: "scatter", mode: "lines", fill: "toself", x: r.x, y: r.y, meta: "isochrone",
        name: L.iso_band + " ≤ " + Math.round(p.limit * 10) / 10 + " " + p.unit, hoverinfo: "skip",
        fillcolor: BANDS[Math.min(features.length - 1 - k, BANDS.length - 1)],
        line: { color: "rgba(33,113,181,0.7)", width: 1 }
      });
    });
    // below every point, the largest band first so the smaller ones show on top of it
    var at = traces.map(function (_, i) { return i; });
    return Promise.resolve(traces.length ? Plotly.addTraces(el, traces, at) : null).then(function () {
      return traces.length ? zoomTo(traces[0]) : null;
    }).then(function () { return traces.length; });
  }

  function zoomTo(trace) {
    // a facility's reach is a few streets of a whole city: show it with as much around it again
    var xs = trace.x.filter(function (v) { return v !== null; });
    var ys = trace.y.filter(function (v) { return v !== null; });
    var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs);
    var y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
    var pad = Math.max(x1 - x0, y1 - y0, 0.01);
    zoomed = true;
    return Plotly.relayout(el, { "xaxis.range": [x0 - pad, x1 + pad], "yaxis.range": [y0 - pad, y1 + pad] });
  }

  function showIsochrones(facilityId, name) {
    return clearIsochrones(true).then(function () {
      var mine = asked;
      var url = cfg.isochrones + encodeURIComponent(facilityId) + "/isochrones?steps=3";
      el.setAttribute("data-isochrones", "loading");
      return fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .then(function (fc) {
          if (mine !== asked) { return; }
          return drawIsochrones(fc).then(function (n) {
            noteText.textContent = L.iso_of + name + (fc.simulated ? " (" + L.simulated + ")" : "");
            note.hidden = false;
            el.setAttribute("data-isochrones", String(n));
          });
        })
        .catch(function () {
          if (mine !== asked) { return; }
          noteText.textContent = L.iso_failed + ": " + name;
          note.hidden = false;
          el.setAttribute("data-isochrones", "failed");
        });
    });
  }

  function clickable(f) {
    el.setAttribute("data-isochrones", "0");
    el.on("plotly_click", function (event) {
      var point = (event && event.points || []).filter(function (p) {
        return p.data && p.data.meta === "facilities";
      })[0];
      if (!point) { return; }
      var i = point.pointIndex !== undefined ? point.pointIndex : point.pointNumber;
      showIsochrones(f.id[i], f.name[i]);
    });
    var button = document.getElementById("isochrone-clear");
    if (button) { button.addEventListener("click", function () { clearIsochrones(false); }); }
    // the click handler's work, for scripts and tests: show one facility's isochrones by id
    window.coverageIsochrones = {
      show: function (id) { var i = f.id.indexOf(id); return showIsochrones(id, i >= 0 ? f.name[i] : id); },
      clear: function () { return clearIsochrones(false); }
    };
  }

  fetch(cfg.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
    .then(draw)
    .catch(function () {
      el.textContent = L.failed;
      el.setAttribute("data-state", "failed");
    });
})();
