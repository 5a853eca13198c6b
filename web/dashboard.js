// ragd's dashboard: renders the panels of the committed Grafana dashboard
// (the same JSON file, embedded in ragd: one source for panels) with uPlot,
// from Prometheus through ragd's read-only proxy (/dashboard/api/*).
//
// What Grafana resolves, this does too: $job and $instance (the selects),
// $__rate_interval (Grafana's rule: max(4 x scrape, step + scrape), with
// Grafana's default scrape interval of 15 s), ${datasource}. Units,
// thresholds (stat colours, threshold lines), value mappings and legend
// formats come from each panel's JSON.
//
// For tests and scripts, window.ragdDashboard holds the state ("loading",
// "ready"), the time of the first full render (renderMs, from navigation
// start), every panel's requests and what it drew, the firing alerts, and
// the last error; ragdDashboard.refresh() reloads now.
'use strict';
(() => {
  const RANGES = [['5m', 300], ['1h', 3600], ['6h', 21600], ['24h', 86400]];
  const REFRESH_MS = 10000;
  const SCRAPE_S = 15;
  const POINTS = 300; // steps per chart
  const COLORS = { green: '#56a64b', red: '#e02f44', yellow: '#f2cc0c', orange: '#ff9830',
                   blue: '#5794f2', purple: '#b877d9', 'dark-red': '#ad0317', text: '#d8d9da' };
  const PALETTE = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff9830', '#f2495c', '#5794f2', '#b877d9',
                   '#705da0', '#37872d', '#fade2a', '#447ebc', '#c15c17', '#890f02', '#0a437c'];

  const state = { range: 3600, job: '.*', instance: '.*', dash: null, views: [], timer: null, busy: false };
  const out = window.ragdDashboard = { state: 'loading', renderMs: null, panels: {}, alerts: [],
                                       error: null, updated: null, refresh: () => refresh() };
  const $ = (id) => document.getElementById(id);

  // ---- formatting ---------------------------------------------------------------
  function num(v) {
    const a = Math.abs(v);
    if (a === 0) return '0';
    if (a >= 100) return v.toFixed(0);
    if (a >= 10) return v.toFixed(1).replace(/\.0$/, '');
    if (a >= 1) return v.toFixed(2).replace(/\.?0+$/, '');
    return String(Number(v.toPrecision(3)));
  }
  function scaled(v, base, units) {
    let i = 0;
    while (Math.abs(v) >= base && i < units.length - 1) { v /= base; i++; }
    return num(v) + units[i];
  }
  function fmt(v, unit) {
    if (v === null || v === undefined) return '–';
    if (!Number.isFinite(v)) return String(v);
    switch (unit) {
      case 's':
        if (v === 0) return '0 s';
        if (Math.abs(v) >= 1) return num(v) + ' s';
        if (Math.abs(v) >= 1e-3) return num(v * 1e3) + ' ms';
        return num(v * 1e6) + ' µs';
      case 'reqps': return num(v) + ' req/s';
      case 'percent': return num(v) + '%';
      case 'percentunit': return num(v * 100) + '%';
      case 'bytes': return scaled(v, 1024, [' B', ' KiB', ' MiB', ' GiB', ' TiB']);
      case 'short': return scaled(v, 1000, ['', 'k', 'M', 'G', 'T']);
      default: return num(v);
    }
  }
  const color = (c) => COLORS[c] || c || COLORS.green;
  function thresholdColor(v, steps) {
    let c = null;
    for (const s of steps || []) if (s.value === null || s.value === undefined || v >= s.value) c = s.color;
    return color(c);
  }
  function mapped(raw, v, mappings) {
    for (const m of mappings || []) {
      if (m.type !== 'value') continue;
      for (const [k, r] of Object.entries(m.options || {}))
        if (k === raw || Number(k) === v) return r;
    }
    return null;
  }
  function legend(format, labels, expr) {
    if (format) return format.replace(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g, (m, k) => labels[k] ?? '').trim();
    const pairs = Object.entries(labels).filter(([k]) => k !== '__name__').map(([k, v]) => `${k}="${v}"`);
    return (labels.__name__ || '') + (pairs.length ? `{${pairs.join(', ')}}` : '') || expr;
  }

  // ---- Prometheus through ragd --------------------------------------------------------
  async function getJSON(url) {
    const r = await fetch(url, { cache: 'no-store' });
    let body = null;
    try { body = await r.json(); } catch (e) { /* not JSON: said below */ }
    if (!r.ok || (body && body.status === 'error')) {
      const e = body && body.error;
      const err = new Error(typeof e === 'string' ? e : e && e.message ? e.message : `HTTP ${r.status}`);
      err.status = r.status;
      err.code = e && e.code;
      throw err;
    }
    return body;
  }
  const api = (path, params) => getJSON(`/dashboard/api/${path}?` + new URLSearchParams(params));
  function resolve(expr, step) {
    const ri = Math.max(4 * SCRAPE_S, step + SCRAPE_S);
    return expr.replaceAll('$__rate_interval', `${ri}s`).replaceAll('${job}', state.job)
      .replaceAll('$job', state.job).replaceAll('${instance}', state.instance)
      .replaceAll('$instance', state.instance);
  }

  // ---- layout -----------------------------------------------------------------------------
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function place(e, g) {
    e.style.gridColumn = `${g.x + 1} / span ${g.w}`;
    e.style.gridRow = `${g.y + 1} / span ${g.h}`;
  }
  function build() {
    const grid = $('grid');
    grid.textContent = '';
    state.views = [];
    for (const p of state.dash.panels) {
      if (p.type === 'row') {
        const r = el('div', 'row', p.title);
        place(r, p.gridPos);
        grid.appendChild(r);
        continue;
      }
      const box = el('section', 'panel');
      box.dataset.title = p.title;
      box.dataset.kind = p.type;
      place(box, p.gridPos);
      const h = el('h2', null, p.title);
      if (p.description) h.title = p.description;
      const body = el('div', 'body');
      const msg = el('div', 'message', 'loading…');
      body.appendChild(msg);
      box.append(h, body);
      grid.appendChild(box);
      state.views.push({ p, box, body, msg, chart: null, nseries: -1 });
    }
  }

  // ---- panels ----------------------------------------------------------------------------------
  function say(v, text) {
    if (v.chart) { v.chart.destroy(); v.chart = null; v.nseries = -1; }
    v.body.querySelectorAll('.stats').forEach((e) => e.remove());
    v.msg.textContent = text;
    v.msg.hidden = false;
  }
  const isGpu = (p) => p.targets.some((t) => /gpu_/.test(t.expr));

  async function timeseries(v, t) {
    const p = v.p, d = p.fieldConfig.defaults, step = Math.max(1, Math.round(state.range / POINTS));
    const start = t - state.range, requests = [], series = [];
    await Promise.all(p.targets.map(async (tg, i) => {
      const q = { query: resolve(tg.expr, step), start, end: t, step };
      requests[i] = q;
      const r = await api('query_range', q);
      series[i] = r.data.result.map((s) => ({ name: legend(tg.legendFormat, s.metric, tg.expr), values: s.values }));
    }));
    const all = series.flat();
    const info = { kind: 'timeseries', requests, series: [], message: null };
    if (!all.length) return [info, null];
    const xs = [...new Set(all.flatMap((s) => s.values.map((x) => x[0])))].sort((a, b) => a - b);
    const at = new Map(xs.map((x, i) => [x, i]));
    const data = [xs];
    for (const s of all) {
      const ys = new Array(xs.length).fill(null);
      for (const [x, y] of s.values) { const n = Number(y); ys[at.get(x)] = Number.isFinite(n) ? n : null; }
      data.push(ys);
      const last = s.values.length ? s.values[s.values.length - 1][1] : null;
      info.series.push({ name: s.name, last: last === null ? null : Number(last), raw: last, points: s.values.length });
    }
    return [info, () => draw(v, all, data, d, [start, t])];
  }

  function draw(v, all, data, d, window) {
    const unit = d.unit, steps = (d.thresholds && d.thresholds.steps) || [];
    const lines = d.custom && d.custom.thresholdsStyle && d.custom.thresholdsStyle.mode === 'line'
      ? steps.filter((s) => s.value !== null && s.value !== undefined) : [];
    v.msg.hidden = true;
    v.window = window;
    if (v.chart && v.nseries === all.length) { v.chart.setData(data); return; }
    if (v.chart) v.chart.destroy();
    const box = v.body.getBoundingClientRect();
    const showLegend = all.length <= 12;
    const opts = {
      width: Math.max(100, box.width), height: Math.max(60, box.height - (showLegend ? 22 * Math.ceil(all.length / 3) + 8 : 0)),
      legend: { show: showLegend, live: false },
      cursor: { points: { show: false } },
      scales: { x: { time: true, range: () => v.window }, y: { range: (u, min, max) => {
        const lo = d.min !== undefined ? d.min : Math.min(min ?? 0, 0);
        let hi = d.max !== undefined ? d.max : max ?? 1;
        if (hi === lo) hi = lo + 1;
        return [lo, hi];
      } } },
      axes: [{ stroke: '#8e8e8e', grid: { stroke: '#2c3235' }, ticks: { stroke: '#2c3235' } },
             { stroke: '#8e8e8e', grid: { stroke: '#2c3235' }, ticks: { stroke: '#2c3235' }, size: 70,
               values: (u, vals) => vals.map((x) => fmt(x, unit)) }],
      series: [{}, ...all.map((s, i) => ({ label: s.name, stroke: PALETTE[i % PALETTE.length], width: 1,
                                            value: (u, x) => fmt(x, unit),
                                            points: { show: (u, si) => u.data[si].filter((y) => y !== null).length < 3 } }))],
      hooks: { draw: [(u) => {
        const c = u.ctx;
        for (const s of lines) {
          const y = u.valToPos(s.value, 'y', true);
          if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
          c.save();
          c.strokeStyle = color(s.color);
          c.setLineDash([6, 4]);
          c.beginPath();
          c.moveTo(u.bbox.left, y);
          c.lineTo(u.bbox.left + u.bbox.width, y);
          c.stroke();
          c.restore();
        }
      }] },
    };
    v.chart = new uPlot(opts, data, v.body);
    v.nseries = all.length;
  }

  async function stat(v, t) {
    const p = v.p, d = p.fieldConfig.defaults, requests = [], rows = [];
    await Promise.all(p.targets.map(async (tg, i) => {
      const q = { query: resolve(tg.expr, 60), time: t };
      requests[i] = q;
      const r = await api('query', q);
      const res = r.data.resultType === 'vector' ? r.data.result
        : r.data.resultType === 'scalar' ? [{ metric: {}, value: r.data.result }] : [];
      rows[i] = res.map((s) => ({ name: legend(tg.legendFormat, s.metric, tg.expr), raw: s.value[1], last: Number(s.value[1]) }));
    }));
    const all = rows.flat();
    const info = { kind: 'stat', requests, series: all.map((s) => ({ name: s.name, last: s.last, raw: s.raw, points: 1 })), message: null };
    if (!all.length) return [info, null];
    return [info, () => {
      say(v, '');
      v.msg.hidden = true;
      const wrap = el('div', 'stats');
      for (const s of all) {
        const m = mapped(s.raw, s.last, d.mappings);
        const tile = el('div', 'stat');
        tile.style.background = m && m.color ? color(m.color) : thresholdColor(s.last, d.thresholds && d.thresholds.steps);
        tile.append(el('span', 'name', s.name), el('span', 'value', m && m.text ? m.text : fmt(s.last, d.unit)));
        wrap.appendChild(tile);
      }
      v.body.appendChild(wrap);
    }];
  }

  // ---- refresh --------------------------------------------------------------------------------
  async function gpus(t) {
    try {
      const r = await api('query', { query: resolve('sum(gpu_count{job=~"$job",instance=~"$instance"})', 60), time: t });
      return r.data.result.length ? Number(r.data.result[0].value[1]) : 0;
    } catch (e) { return 0; }
  }
  async function alerts() {
    const box = $('alerts');
    try {
      const r = await api('alerts', {});
      const firing = r.data.alerts.filter((a) => a.state === 'firing');
      out.alerts = firing.map((a) => ({ name: a.labels.alertname, severity: a.labels.severity || '', instance: a.labels.instance || '' }));
      box.textContent = '';
      if (!firing.length) box.appendChild(el('span', 'muted', 'No alerts firing.'));
      for (const a of out.alerts) {
        const chip = el('span', `alert ${a.severity}`, `${a.name}${a.instance ? ' · ' + a.instance : ''}`);
        chip.title = a.severity;
        box.appendChild(chip);
      }
    } catch (e) {
      box.textContent = '';
      box.appendChild(el('span', 'muted', 'Alerts unknown: ' + e.message));
    }
  }
  function banner(text) {
    const b = $('banner');
    b.hidden = !text;
    b.textContent = text || '';
  }
  async function selects(t) {
    for (const [id, label, key] of [['job', 'job', 'job'], ['instance', 'instance', 'instance']]) {
      try {
        const r = await api('query', { query: key === 'job' ? 'count by (job) (http_requests_total)'
          : resolve('count by (instance) (http_requests_total{job=~"$job"})', 60), time: t });
        const s = $(id), keep = s.value;
        const values = r.data.result.map((x) => x.metric[label]).filter(Boolean).sort();
        s.textContent = '';
        s.appendChild(new Option('All', '.*'));
        for (const v of values) s.appendChild(new Option(v, v.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
        s.value = [...s.options].some((o) => o.value === keep) ? keep : '.*';
      } catch (e) { /* the panels say why */ }
    }
  }

  async function refresh() {
    if (state.busy) return;
    state.busy = true;
    const t = Math.floor(Date.now() / 1000);
    let failure = null;
    try {
      if (!state.config.prometheus) {
        failure = 'No Prometheus to read from: start ragd with --prometheus-url (RAGD_PROMETHEUS_URL); make run does.';
      } else {
        await selects(t);
        const ngpu = await gpus(t);
        const done = await Promise.all(state.views.map(async (v) => {
          try {
            return [v, ...(await (v.p.type === 'stat' ? stat(v, t) : timeseries(v, t)))];
          } catch (e) {
            if (e.code === 'prometheus_unavailable' || e.code === 'prometheus_not_configured' || e.status >= 502) failure = e.message;
            return [v, { kind: v.p.type, requests: [], series: [], message: 'error: ' + e.message }, null];
          }
        }));
        for (const [v, info, paint] of done) {
          if (paint) paint();
          else {
            if (!info.message) info.message = isGpu(v.p) && ngpu === 0 ? 'no GPU' : 'No data';
            say(v, failure ? 'Prometheus unavailable' : info.message === 'No data' ? 'No data yet' : info.message);
          }
          out.panels[v.p.title] = info;
        }
        await alerts();
      }
    } catch (e) {
      failure = e.message;
    }
    if (failure) {
      banner(failure.startsWith('No Prometheus') ? failure : `Prometheus is unreachable: ${failure}. The panels show its data again once it answers.`);
      for (const v of state.views) {
        if (!state.config.prometheus) say(v, 'No Prometheus');
        out.panels[v.p.title] = out.panels[v.p.title] || { kind: v.p.type, requests: [], series: [], message: 'Prometheus unavailable' };
      }
    } else banner(null);
    out.error = failure;
    out.updated = t;
    $('updated').textContent = `updated ${new Date(t * 1000).toLocaleTimeString()} · every ${REFRESH_MS / 1000} s`;
    if (out.state !== 'ready') {
      out.renderMs = Math.round(performance.now());
      out.state = 'ready';
      document.body.dataset.state = 'ready';
    }
    state.busy = false;
  }

  function controls() {
    const box = $('ranges');
    for (const [name, secs] of RANGES) {
      const b = el('button', null, name);
      b.type = 'button';
      b.setAttribute('aria-pressed', String(secs === state.range));
      b.addEventListener('click', () => {
        state.range = secs;
        box.querySelectorAll('button').forEach((x) => x.setAttribute('aria-pressed', String(x === b)));
        refresh();
      });
      box.appendChild(b);
    }
    for (const id of ['job', 'instance'])
      $(id).addEventListener('change', (e) => { state[id] = e.target.value; refresh(); });
    let pending = null;
    window.addEventListener('resize', () => {
      clearTimeout(pending);
      pending = setTimeout(() => {
        for (const v of state.views) {
          if (!v.chart) continue;
          const r = v.body.getBoundingClientRect();
          v.chart.setSize({ width: Math.max(100, r.width), height: v.chart.height });
        }
      }, 150);
    });
  }

  async function main() {
    try {
      state.config = await getJSON('/dashboard/api/config');
      state.dash = await getJSON('/dashboard/assets/' + state.config.dashboard);
    } catch (e) {
      banner('Cannot load the dashboard: ' + e.message);
      out.error = e.message;
      return;
    }
    $('title').textContent = state.dash.title;
    document.title = `${state.dash.title} — ragd`;
    const from = /^now-(\d+)([smhd])$/.exec((state.dash.time && state.dash.time.from) || '');
    if (from) state.range = Number(from[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[from[2]];
    controls();
    build();
    await refresh();
    state.timer = setInterval(refresh, REFRESH_MS);
  }
  main();
})();
