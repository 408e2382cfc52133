// The OSD dashboard: polls /v1/dashboard and /v1/drafts and draws line charts on canvases (no libraries:
// the page works on a machine with no network). Each chart's element tells how many points it drew in
// data-points, which the browser test reads.
(function () {
  'use strict';
  var COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

  function draw(id, t, series, fixedMax) {
    var box = document.getElementById(id);
    var canvas = box.querySelector('canvas');
    var ctx = canvas.getContext('2d');
    var w = canvas.width, h = canvas.height, left = 42, bottom = 18, top = 6;
    ctx.clearRect(0, 0, w, h);
    var names = Object.keys(series);
    var max = fixedMax || 0;
    names.forEach(function (n) {
      series[n].forEach(function (v) { if (v !== null && v > max) { max = v; } });
    });
    if (max <= 0) { max = 1; }
    ctx.strokeStyle = '#ccc'; ctx.fillStyle = '#666'; ctx.font = '10px sans-serif';
    for (var g = 0; g <= 4; g++) {
      var gy = top + (h - top - bottom) * g / 4;
      ctx.beginPath(); ctx.moveTo(left, gy); ctx.lineTo(w, gy); ctx.stroke();
      var label = max * (1 - g / 4);
      ctx.fillText(label >= 10 ? label.toFixed(0) : label.toFixed(2), 2, gy + 3);
    }
    if (t.length > 0) {
      ctx.fillText(Math.round((t[t.length - 1] - t[0]) / 1000) + ' s shown', left, h - 4);
    }
    var points = 0;
    var legend = [];
    names.forEach(function (n, i) {
      var color = COLORS[i % COLORS.length];
      ctx.strokeStyle = color; ctx.lineWidth = 1.5; ctx.beginPath();
      var pen = false;
      series[n].forEach(function (v, j) {
        if (v === null) { pen = false; return; }
        var x = left + (w - left - 4) * (t.length <= 1 ? 1 : j / (t.length - 1));
        var y = top + (h - top - bottom) * (1 - v / max);
        if (pen) { ctx.lineTo(x, y); } else { ctx.moveTo(x, y); pen = true; }
        ctx.fillStyle = color; ctx.fillRect(x - 1, y - 1, 2, 2);
        points++;
      });
      ctx.stroke();
      var last = series[n].filter(function (v) { return v !== null; }).pop();
      legend.push('<span><i style="background:' + color + '"></i>' + n +
        (last === undefined ? '' : ' ' + (last >= 10 ? last.toFixed(0) : last.toFixed(2))) + '</span>');
    });
    box.querySelector('.legend').innerHTML = legend.join('');
    box.setAttribute('data-points', String(points));
  }

  function renderDrafts(d) {
    var rows = ['<tr><th>draft</th><th>version</th><th>requests</th><th>traffic share</th>' +
      '<th>acceptance last 20</th><th>last 100</th><th>last 500</th><th>trainer</th><th>updates</th></tr>'];
    d.data.forEach(function (x) {
      function f(v) { return v === null || v === undefined ? '–' : v.toFixed(3); }
      rows.push('<tr><td>' + x.name + '</td><td>' + x.version + '</td><td>' + x.requests + '</td><td>' +
        f(x.traffic_share) + '</td><td>' + f(x.acceptance.last_20) + '</td><td>' + f(x.acceptance.last_100) +
        '</td><td>' + f(x.acceptance.last_500) + '</td><td>' + x.trainer.state + '</td><td>' +
        (x.trainer.updates === undefined ? '–' : x.trainer.updates) + '</td></tr>');
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
      rows.push('<tr><td>' + m.address + (m.address === c.self ? ' (this gateway)' : '') + '</td><td>' +
        m.roles.join(', ') + '</td><td>' + m.status + '</td><td>' + runs.join(', ') + '</td></tr>');
    });
    c.unreachable.forEach(function (a) {
      rows.push('<tr><td>' + a + '</td><td></td><td>unreachable</td><td></td></tr>');
    });
    document.getElementById('cluster').innerHTML = rows.join('');
  }

  function refresh() {
    fetch('/v1/dashboard').then(function (r) { return r.json(); }).then(function (d) {
      draw('chart-acceptance', d.t, d.acceptance, 1);
      draw('chart-traffic', d.t, d.traffic);
      draw('chart-tpot', d.t, d.tpot_ms);
      draw('chart-versions', d.t, d.versions);
      draw('chart-queues', d.t, d.queues);
      document.getElementById('status').textContent = d.t.length + ' samples, updated ' +
        new Date().toLocaleTimeString();
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

  refresh();
  setInterval(refresh, 2000);
})();
