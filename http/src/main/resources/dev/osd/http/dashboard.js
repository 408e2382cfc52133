// The OSD dashboard: polls /v1/dashboard, /v1/drafts and /cluster and draws line charts on canvases (no
// libraries: the page works on a machine with no network). Each chart's element reports what it drew, for the
// browser test: data-points (points drawn), data-state (drawn / empty), data-x-labels and data-y-labels (the
// tick labels, '|'-separated), data-css-width and data-card-width (the canvas's and its card's widths on the
// page, CSS pixels).
(function () {
  'use strict';
  // one colour per draft, the same in every chart and in the table: given on first sight, never reassigned
  var DRAFT_PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf',
    '#bcbd22', '#7f7f7f'];
  var OTHER_PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#b279a2', '#9d755d', '#e45756'];
  var MODE_COLORS = { on: '#2ca02c', off: '#7f7f7f' };
  var draftColors = {};
  var kindColors = {};

  function colorFrom(map, palette, name) {
    if (!(name in map)) {
      map[name] = palette[Object.keys(map).length % palette.length];
    }
    return map[name];
  }
  function draftColor(name) { return colorFrom(draftColors, DRAFT_PALETTE, name); }
  function kindColor(name) { return colorFrom(kindColors, OTHER_PALETTE, name); }
  // a query class that is also a draft's name takes the draft's colour; any other (none: no class matched) its own
  var classColors = {};
  function classColor(name) {
    return name in draftColors ? draftColors[name] : colorFrom(classColors, ['#555555', '#aaaaaa', '#333333'], name);
  }
  function modeColor(name) { return MODE_COLORS[name] || '#444'; }
  function knowDrafts(names) { names.slice().sort().forEach(draftColor); }

  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  // a round step (1, 2 or 5 times a power of ten) that splits max into about n parts
  function roundStep(max, n, integer) {
    var raw = max / n;
    var p = Math.pow(10, Math.floor(Math.log10(raw)));
    var f = raw / p;
    var step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p;
    return integer ? Math.max(1, Math.round(step)) : step;
  }

  function decimals(step) { return step >= 1 ? 0 : Math.min(6, Math.ceil(-Math.log10(step))); }

  var TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
  function two(n) { return (n < 10 ? '0' : '') + n; }
  function clock(ms) {
    var d = new Date(ms);
    return two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
  }

  // sizes the canvas's bitmap to its box on the page (and the screen's pixel ratio); returns the CSS size
  function fit(canvas) {
    var ratio = window.devicePixelRatio || 1;
    var w = Math.max(50, canvas.clientWidth), h = Math.max(50, canvas.clientHeight);
    var bw = Math.round(w * ratio), bh = Math.round(h * ratio);
    if (canvas.width !== bw) { canvas.width = bw; }
    if (canvas.height !== bh) { canvas.height = bh; }
    var ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { ctx: ctx, w: w, h: h };
  }

  // an exponentially weighted average over the samples that had requests, carried over the ones that had none,
  // so that a draft's acceptance is one line, not fragments between idle seconds
  function smooth(values) {
    var out = [], avg = null;
    values.forEach(function (v) {
      if (v !== null) { avg = avg === null ? v : avg + 0.3 * (v - avg); }
      out.push(v === null ? null : avg);
    });
    return out;
  }

  function format(v, unit, dec) {
    return unit === '%' ? (v * 100).toFixed(Math.max(0, dec - 2)) + ' %' : v.toFixed(dec) + unit;
  }

  function draw(spec, t, series) {
    var box = document.getElementById(spec.id);
    var canvas = box.querySelector('canvas');
    var c = fit(canvas), ctx = c.ctx, w = c.w, h = c.h;
    ctx.clearRect(0, 0, w, h);
    ctx.font = '11px system-ui, sans-serif';
    var names = Object.keys(series).sort();
    var values = {};
    var max = spec.fixedMax || 0, any = false;
    names.forEach(function (n) {
      values[n] = spec.smooth ? smooth(series[n]) : series[n];
      values[n].forEach(function (v) {
        if (v !== null) { any = true; if (v > max) { max = v; } }
      });
    });
    if (max <= 0) { max = 1; }
    // counts (versions, messages) under 4 still get four whole ticks
    if (spec.integer && max < 4) { max = 4; }
    var step = spec.fixedMax ? spec.fixedMax / 4 : roundStep(max, 4, spec.integer);
    var top = Math.ceil(max / step - 1e-9) * step;
    var dec = spec.unit === '%' ? decimals(step * 100) + 2 : decimals(step);
    var yLabels = [];
    for (var y = 0; y <= top + step / 2; y += step) { yLabels.push(format(y, spec.unit, dec)); }
    var left = 8 + Math.max.apply(null, yLabels.map(function (l) { return ctx.measureText(l).width; }));
    var right = 8, above = 8, below = 20;
    var pw = w - left - right, ph = h - above - below;
    function yOf(v) { return above + ph * (1 - v / top); }

    ctx.strokeStyle = '#e3e3e3'; ctx.fillStyle = '#666'; ctx.lineWidth = 1;
    ctx.textAlign = 'right'; ctx.textBaseline = 'middle';
    yLabels.forEach(function (label, i) {
      var gy = Math.round(yOf(i * step)) + 0.5;
      ctx.beginPath(); ctx.moveTo(left, gy); ctx.lineTo(w - right, gy); ctx.stroke();
      ctx.fillText(label, left - 4, gy);
    });

    // time runs left to right over the samples held (at least 20 s, so that the first seconds do not stretch)
    var t1 = t.length ? t[t.length - 1] : Date.now();
    var t0 = t.length ? Math.min(t[0], t1 - 20000) : t1 - 20000;
    function xOf(ms) { return left + pw * (ms - t0) / (t1 - t0); }
    var span = (t1 - t0) / 1000, tstep = TIME_STEPS[TIME_STEPS.length - 1];
    for (var k = 0; k < TIME_STEPS.length; k++) {
      if (span / TIME_STEPS[k] <= pw / 75) { tstep = TIME_STEPS[k]; break; }
    }
    var xLabels = [];
    ctx.textAlign = 'center'; ctx.textBaseline = 'top';
    for (var s = Math.ceil(t0 / 1000 / tstep) * tstep; s * 1000 <= t1; s += tstep) {
      var gx = Math.round(xOf(s * 1000)) + 0.5;
      ctx.strokeStyle = '#bbb'; ctx.beginPath(); ctx.moveTo(gx, above + ph); ctx.lineTo(gx, above + ph + 4);
      ctx.stroke();
      var label = clock(s * 1000);
      ctx.fillText(label, Math.min(Math.max(gx, left + 24), w - 26), above + ph + 6);
      xLabels.push(label);
    }
    ctx.strokeStyle = '#999'; ctx.beginPath();
    ctx.moveTo(left, above + ph + 0.5); ctx.lineTo(w - right, above + ph + 0.5); ctx.stroke();

    var points = 0, legend = [];
    names.forEach(function (n) {
      var color = spec.color(n);
      ctx.strokeStyle = color; ctx.fillStyle = color; ctx.lineWidth = 2; ctx.lineJoin = 'round';
      ctx.beginPath();
      var pen = false, last;
      values[n].forEach(function (v, j) {
        if (v === null) { return; }
        var x = xOf(t[j]), yy = yOf(v);
        if (pen) { ctx.lineTo(x, yy); } else { ctx.moveTo(x, yy); pen = true; }
        points++;
        last = v;
      });
      ctx.stroke();
      if (points > 0 && last !== undefined) {
        var lastIndex = values[n].length - 1;
        while (values[n][lastIndex] === null) { lastIndex--; }
        ctx.beginPath(); ctx.arc(xOf(t[lastIndex]), yOf(last), 2.5, 0, 2 * Math.PI); ctx.fill();
      }
      legend.push('<span data-series="' + esc(n) + '" data-color="' + color + '"><i class="swatch" style="background:' +
        color + '"></i>' + esc(n) + (last === undefined ? '' : ' ' + format(last, spec.unit, dec)) + '</span>');
    });
    if (!any) {
      ctx.fillStyle = '#999'; ctx.font = '14px system-ui, sans-serif';
      ctx.textAlign = 'center'; ctx.textBaseline = 'middle';
      ctx.fillText('waiting for traffic', left + pw / 2, above + ph / 2);
    }
    box.querySelector('.legend').innerHTML = legend.join('');
    box.setAttribute('data-points', String(points));
    box.setAttribute('data-state', any ? 'drawn' : 'empty');
    box.setAttribute('data-x-labels', xLabels.join('|'));
    box.setAttribute('data-y-labels', yLabels.join('|'));
    box.setAttribute('data-css-width', String(w));
    box.setAttribute('data-card-width', String(box.clientWidth));
  }

  var CHARTS = [
    { id: 'chart-acceptance', field: 'acceptance', unit: '%', fixedMax: 1, smooth: true, color: draftColor },
    { id: 'chart-traffic', field: 'traffic', unit: ' req/s', color: classColor },
    { id: 'chart-tpot', field: 'tpot_ms', unit: ' ms', color: modeColor },
    { id: 'chart-versions', field: 'versions', unit: '', integer: true, color: draftColor },
    { id: 'chart-queues', field: 'queues', unit: ' msgs', integer: true, color: kindColor }
  ];
  var latest = null;

  function drawAll() {
    if (!latest) { return; }
    var d = latest;
    knowDrafts(Object.keys(d.versions).concat(Object.keys(d.acceptance)));
    CHARTS.forEach(function (spec) { draw(spec, d.t, d[spec.field] || {}); });
    var served = Object.keys(d.traffic).length > 0;
    document.getElementById('status').textContent = (served ? '' : 'waiting for traffic: ') + d.t.length +
      ' samples (one a second), updated ' + new Date().toLocaleTimeString();
  }

  function renderDrafts(d) {
    knowDrafts(d.data.map(function (x) { return x.name; }));
    var rows = ['<tr><th>draft</th><th>version</th><th>requests</th><th>traffic share</th>' +
      '<th>acceptance last 20</th><th>last 100</th><th>last 500</th><th>trainer</th><th>updates</th>' +
      '<th>origin</th></tr>'];
    d.data.forEach(function (x) {
      function f(v) { return v === null || v === undefined ? '–' : v.toFixed(3); }
      var color = draftColor(x.name);
      rows.push('<tr><td data-series="' + esc(x.name) + '" data-color="' + color + '"><i class="swatch" ' +
        'style="background:' + color + '"></i>' + esc(x.name) + '</td><td>' + x.version + '</td><td>' +
        x.requests + '</td><td>' + f(x.traffic_share) + '</td><td>' + f(x.acceptance.last_20) + '</td><td>' +
        f(x.acceptance.last_100) + '</td><td>' + f(x.acceptance.last_500) + '</td><td>' + esc(x.trainer.state) +
        '</td><td>' + (x.trainer.updates === undefined ? '–' : x.trainer.updates) + '</td><td>' +
        // a draft the system spawned for a traffic cluster says why, with the figures it was decided on
        (x.spawned ? '<span title="' + esc(x.spawned.reason) + '">spawned for ' + esc(x.spawned.cluster) +
          ' (from ' + esc(x.spawned.started_from) + ')</span>' : 'configured') + '</td></tr>');
    });
    document.getElementById('drafts').innerHTML = rows.join('');
  }

  function renderCluster(c) {
    var services = c.services || {};
    var rows = ['<tr><th>member</th><th>roles</th><th>status</th><th>runs</th></tr>'];
    c.members.forEach(function (m) {
      var runs = Object.keys(services).filter(function (s) {
        return services[s].indexOf(m.address) >= 0;
      });
      rows.push('<tr><td>' + esc(m.address) + (m.address === c.self ? ' (this gateway)' : '') + '</td><td>' +
        esc(m.roles.join(', ')) + '</td><td>' + esc(m.status) + '</td><td>' + esc(runs.join(', ')) + '</td></tr>');
    });
    c.unreachable.forEach(function (a) {
      rows.push('<tr><td>' + esc(a) + '</td><td></td><td>unreachable</td><td></td></tr>');
    });
    document.getElementById('cluster').innerHTML = rows.join('');
  }

  function refresh() {
    fetch('/v1/dashboard').then(function (r) { return r.json(); }).then(function (d) {
      latest = d;
      drawAll();
    }).catch(function (e) {
      document.getElementById('status').textContent = 'cannot reach the server: ' + e;
    });
    fetch('/cluster').then(function (r) { return r.ok ? r.json() : null; }).then(function (c) {
      if (c) { renderCluster(c); }
    }).catch(function () {});
    fetch('/v1/drafts').then(function (r) { return r.ok ? r.json() : null; }).then(function (d) {
      if (d) { renderDrafts(d); }
    }).catch(function () {});
  }

  // the charts follow their cards when the window (or the layout) changes size
  if (window.ResizeObserver) {
    new ResizeObserver(function () { drawAll(); }).observe(document.querySelector('.grid'));
  } else {
    window.addEventListener('resize', drawAll);
  }
  refresh();
  setInterval(refresh, 2000);
})();
