/* trtlens dashboard: vanilla JS + SVG, no dependencies, nothing fetched but this server's /api.
 *
 * Every panel fetches /api/<panel>?from=&to=&model= and draws into its section; when done the
 * section carries data-state="ready" and data-points="<values drawn>" (the browser test reads them).
 * A report (trtlens report) embeds the answers as window.TRTLENS_DATA and nothing is fetched. */
"use strict";

const EMBEDDED = window.TRTLENS_DATA || null;
const COLORS = ["#3949ab", "#e53935", "#43a047", "#fb8c00", "#8e24aa", "#00897b", "#6d4c41", "#546e7a", "#d81b60", "#7cb342"];
const SVGNS = "http://www.w3.org/2000/svg";
const RANGES = { "5m": 300e3, "15m": 900e3, "1h": 3600e3, "6h": 21600e3, "24h": 86400e3, "7d": 604800e3 };

const $ = (sel, root = document) => root.querySelector(sel);
const state = { model: "", range: "15m", from: null, to: null, refresh: 10, timer: null, trace: null };

function el(tag, attrs = {}, ...kids) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined) continue;
    if (k === "text") n.textContent = v; else if (k === "on") for (const [e, f] of Object.entries(v)) n.addEventListener(e, f);
    else n.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined) n.append(k);
  return n;
}
function svg(tag, attrs = {}) {
  const n = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) n.setAttribute(k, v);
  return n;
}
const fmt = {
  ms: (v) => v === null || v === undefined ? "–" : v >= 1000 ? (v / 1000).toFixed(2) + " s" : v.toFixed(v < 10 ? 2 : 1) + " ms",
  pct: (v) => v === null || v === undefined ? "–" : (v * 100).toFixed(1) + "%",
  num: (v) => v === null || v === undefined ? "–" : Number.isInteger(v) || Math.abs(v) >= 100 ? Math.round(v).toLocaleString() : (+v).toFixed(2),
  bytes: (v) => { if (v === null || v === undefined) return "–"; const u = ["B", "KiB", "MiB", "GiB", "TiB"]; let i = 0; while (Math.abs(v) >= 1024 && i < 4) { v /= 1024; i++; } return v.toFixed(i ? 1 : 0) + " " + u[i]; },
  time: (t) => new Date(t).toLocaleTimeString([], { hour12: false }),
  datetime: (t) => new Date(t).toLocaleString([], { hour12: false }),
};

/* ------------------------------------------------------------------ charts */

function niceMax(v) { if (!(v > 0)) return 1; const p = Math.pow(10, Math.floor(Math.log10(v))); for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p; return 10 * p; }

/* series: [{name, color, points: [{x, y}], dash}] ; opts: {yFmt, threshold, height, xMin, xMax, yMax} */
function lineChart(series, opts = {}) {
  const W = opts.width || 640, H = opts.height || 200, L = 56, R = 10, T = 10, B = 22;
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": opts.label || "chart" });
  const all = series.flatMap((x) => x.points.filter((p) => p.y !== null && p.y !== undefined));
  const xs = all.map((p) => p.x);
  const xMin = opts.xMin ?? Math.min(...xs), xMax = opts.xMax ?? Math.max(...xs);
  let yMax = Math.max(...all.map((p) => p.y), opts.threshold || 0, opts.yMax || 0);
  yMax = niceMax(yMax);
  const X = (x) => L + (xMax > xMin ? (x - xMin) / (xMax - xMin) : 0.5) * (W - L - R);
  const Y = (y) => T + (1 - y / yMax) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const y = (yMax * i) / 4;
    s.append(svg("line", { x1: L, x2: W - R, y1: Y(y), y2: Y(y), class: i ? "grid" : "axis" }));
    const t = svg("text", { x: L - 4, y: Y(y) + 3, "text-anchor": "end" }); t.textContent = (opts.yFmt || fmt.num)(y); s.append(t);
  }
  for (let i = 0; i <= 4; i++) {
    const x = xMin + ((xMax - xMin) * i) / 4;
    const t = svg("text", { x: X(x), y: H - 6, "text-anchor": "middle" }); t.textContent = fmt.time(x); s.append(t);
  }
  if (opts.threshold) {
    s.append(svg("line", { x1: L, x2: W - R, y1: Y(opts.threshold), y2: Y(opts.threshold), class: "threshold" }));
    const t = svg("text", { x: W - R, y: Y(opts.threshold) - 3, "text-anchor": "end", fill: "#c62828" });
    t.textContent = "threshold " + (opts.yFmt || fmt.num)(opts.threshold); s.append(t);
  }
  let drawn = 0;
  for (const ser of series) {
    let d = "", pen = false;
    for (const p of ser.points) {
      if (p.y === null || p.y === undefined) { pen = false; continue; }
      d += (pen ? "L" : "M") + X(p.x).toFixed(1) + "," + Y(p.y).toFixed(1); pen = true; drawn++;
    }
    if (d) s.append(svg("path", { d, stroke: ser.color, "stroke-width": ser.width || 1.6, fill: "none", class: ser.dash ? "trend" : "series", "data-series": ser.name }));
    const lone = ser.points.filter((p) => p.y !== null && p.y !== undefined);
    if (lone.length === 1) s.append(svg("circle", { cx: X(lone[0].x), cy: Y(lone[0].y), r: 3, fill: ser.color }));
  }
  s.dataset.points = drawn;
  return s;
}

function legend(items) {
  return el("div", { class: "legend" }, ...items.map(([name, color]) => el("span", {}, el("i", { style: `background:${color}` }), name)));
}

/* heatmap: columns = time, rows = latency buckets (low at the bottom); cell colour = requests */
function heatmap(times, matrix, bounds, opts = {}) {
  const rows = bounds.length + 1, W = 640, H = opts.height || 180, L = 56, R = 10, T = 6, B = 22;
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart heatmap", role: "img", "aria-label": "latency heatmap" });
  let lo = rows, hi = -1, max = 0;
  matrix.forEach((col) => col.forEach((n, i) => { if (n > 0) { lo = Math.min(lo, i); hi = Math.max(hi, i); max = Math.max(max, n); } }));
  if (hi < 0) { s.dataset.points = 0; return s; }
  lo = Math.max(0, lo - 1); hi = Math.min(rows - 1, hi + 1);
  const nr = hi - lo + 1, cw = (W - L - R) / Math.max(1, times.length), ch = (H - T - B) / nr;
  let cells = 0;
  matrix.forEach((col, c) => col.forEach((n, i) => {
    if (i < lo || i > hi || n <= 0) return;
    const a = 0.12 + 0.88 * Math.log1p(n) / Math.log1p(max);
    const r = svg("rect", { x: L + c * cw, y: T + (hi - i) * ch, width: Math.max(1, cw - 0.5), height: Math.max(1, ch - 0.5), fill: `rgba(229,57,53,${a.toFixed(3)})` });
    const tip = svg("title"); tip.textContent = `${fmt.time(times[c])}  ${i ? "> " + bounds[i - 1] : "≤ " + bounds[0]}${i < bounds.length ? " … " + bounds[i] : ""} ms: ${n} requests`;
    r.append(tip); s.append(r); cells++;
  }));
  for (let i = lo; i <= hi; i++) {
    const t = svg("text", { x: L - 4, y: T + (hi - i) * ch + ch / 2 + 3, "text-anchor": "end" });
    t.textContent = i < bounds.length ? "≤" + bounds[i] + "ms" : ">" + bounds[bounds.length - 1] + "ms"; s.append(t);
  }
  for (let k = 0; k <= 4; k++) {
    const c = Math.min(times.length - 1, Math.round(((times.length - 1) * k) / 4));
    const t = svg("text", { x: L + c * cw + cw / 2, y: H - 6, "text-anchor": "middle" }); t.textContent = fmt.time(times[c]); s.append(t);
  }
  s.dataset.points = cells;
  return s;
}

/* bars: [{label, value}] vertical */
function barChart(bars, opts = {}) {
  const W = 640, H = opts.height || 160, L = 44, R = 8, T = 8, B = 30;
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart bars", role: "img", "aria-label": opts.label || "bars" });
  const max = niceMax(Math.max(...bars.map((b) => b.value), 0));
  const bw = (W - L - R) / Math.max(1, bars.length);
  s.append(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "axis" }));
  const t0 = svg("text", { x: L - 4, y: T + 8, "text-anchor": "end" }); t0.textContent = fmt.num(max); s.append(t0);
  let drawn = 0;
  bars.forEach((b, i) => {
    const h = (b.value / max) * (H - T - B);
    if (b.value > 0) {
      const r = svg("rect", { x: L + i * bw + 1, y: H - B - h, width: Math.max(1, bw - 2), height: h, fill: opts.color || "#5c6bc0" });
      const tip = svg("title"); tip.textContent = `${b.label}: ${b.value}`; r.append(tip); s.append(r); drawn++;
    }
    const t = svg("text", { x: L + i * bw + bw / 2, y: H - B + 12, "text-anchor": "middle" }); t.textContent = b.label; s.append(t);
  });
  s.dataset.points = drawn;
  return s;
}

function table(head, rows) {
  return el("table", {}, el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { class: h.num ? "num" : null, text: h.t || h })))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c, i) => el("td", { class: head[i].num ? "num" : null }, c instanceof Node ? c : String(c ?? "–")))))));
}

/* ------------------------------------------------------------------ data */

function rangeParams() {
  if (state.range === "custom" && state.from && state.to) return { from: state.from, to: state.to };
  const to = Date.now(); return { from: to - (RANGES[state.range] || RANGES["15m"]), to };
}

async function fetchPanel(name, extra = {}) {
  if (EMBEDDED) {
    const key = extra.request_id ? `trace:${extra.request_id}` : extra.a ? "build_diff" : name;
    if (!(key in EMBEDDED)) throw new Error(`not in this report (${key})`);
    return EMBEDDED[key];
  }
  const p = new URLSearchParams({ ...(state.frozen || rangeParams()), ...(state.model ? { model: state.model } : {}), ...extra });
  const r = await fetch(`api/${name}?${p}`, { headers: { Accept: "application/json" } });
  const body = await r.json().catch(() => ({ error: `HTTP ${r.status}` }));
  if (!r.ok) throw new Error(body.error || `HTTP ${r.status}`);
  return body;
}

async function render(name, draw, extra) {
  const sec = document.getElementById(`panel-${name}`);
  const body = $(".body", sec);
  sec.dataset.state = "loading";
  try {
    const data = await fetchPanel(name, extra);
    const nodes = draw(data);
    body.replaceChildren(...nodes);
    const pts = [...body.querySelectorAll("[data-points]")].reduce((a, n) => a + (+n.dataset.points || 0), 0)
      + [...body.querySelectorAll("tbody tr")].length;
    sec.dataset.points = pts;
    sec.dataset.state = "ready";
    if (!pts && !body.querySelector(".empty")) body.append(el("p", { class: "empty", text: "No data in this time range." }));
  } catch (e) {
    body.replaceChildren(el("p", { class: "error", text: `Could not load: ${e.message}` }));
    sec.dataset.state = "error";
  }
}

/* a series keeps its colour across panels, refreshes and reports: picked from a hash of its name */
const seriesColor = (k) => { let h = 2166136261; for (const c of String(k)) h = Math.imul(h ^ c.charCodeAt(0), 16777619) >>> 0; return COLORS[h % COLORS.length]; };
const empty = (t) => el("p", { class: "empty", text: t });

/* ------------------------------------------------------------------ panels */

function drawTraffic(d) {
  const keys = Object.keys(d.series);
  if (!keys.length) return [empty("No windows in this time range.")];
  const qps = lineChart(keys.map((k) => ({ name: k, color: seriesColor(k), points: d.series[k].points.map((p) => ({ x: p.t, y: p.requests ? p.qps : 0 })) })), { label: "QPS", yFmt: fmt.num, width: 1280, height: 240 });
  const out = [el("h3", { text: `QPS (requests / ${d.interval_ms / 1000} s interval)` }), qps, legend(keys.map((k) => [k, seriesColor(k)]))];
  const grid = el("div", { class: "row" });
  for (const k of keys.slice(0, 8)) {
    const s = d.series[k];
    grid.append(el("div", {}, el("h3", { text: `${k}: requests per latency bucket` }), heatmap(s.points.map((p) => p.t), s.heatmap, d.bounds_ms)));
  }
  out.push(grid);
  return out;
}

function attributionBox(key, a) {
  const box = el("div", { class: "attr" }, el("b", { text: `${key} tail attribution (window ${fmt.time(a.window_start_ms)})` }));
  for (const q of ["p99", "p95"]) {
    const t = a.attribution && a.attribution[q];
    if (!t) continue;
    const dom = Object.entries(t.dominant_stage_share || {}).sort((x, y) => y[1] - x[1]).map(([s, v]) => `${s} ${fmt.pct(v)}`).join(", ");
    const stages = Object.keys({ ...(t.stage_mean_ms_tail || {}), ...(t.stage_mean_ms_body || {}) });
    box.append(el("div", { text: `${q.toUpperCase()} tail (> ${fmt.ms(t.threshold_ms)}, ${t.count} requests): cold starts ${fmt.pct(t.cold_start_share)}; dominant stage ${dom || "–"}` }));
    if (stages.length) box.append(table([{ t: "stage" }, { t: "tail mean", num: 1 }, { t: "body mean", num: 1 }],
      stages.map((s) => [s, fmt.ms((t.stage_mean_ms_tail || {})[s]), fmt.ms((t.stage_mean_ms_body || {})[s])])));
  }
  if (a.exemplars && a.exemplars.length) box.append(el("div", {}, "exemplars: ", ...a.exemplars.map(exemplarLink)));
  if (a.engines && a.engines.length) box.append(el("div", { text: `engines: ${a.engines.join(", ")}` }));
  return box;
}

function drawVersions(d) {
  const keys = Object.keys(d.series);
  if (!keys.length) return [empty("No windows in this time range.")];
  const rows = keys.map((k) => {
    const pts = d.series[k].points, req = pts.reduce((a, p) => a + p.requests, 0);
    const err = pts.reduce((a, p) => a + p.errors, 0), cold = pts.reduce((a, p) => a + p.cold_starts, 0);
    const worst = (f) => Math.max(...pts.map((p) => p[f] ?? -Infinity));
    const w = (f) => (isFinite(worst(f)) ? worst(f) : null);
    return [el("span", {}, el("i", { style: `display:inline-block;width:9px;height:9px;background:${seriesColor(k)}` }), " " + k),
      req.toLocaleString(), fmt.ms(w("p50")), fmt.ms(w("p95")), fmt.ms(w("p99")), fmt.pct(req ? err / req : null), fmt.pct(req ? cold / req : null)];
  });
  const head = [{ t: "model/version" }, { t: "requests", num: 1 }, { t: "worst P50", num: 1 }, { t: "worst P95", num: 1 }, { t: "worst P99", num: 1 }, { t: "error rate", num: 1 }, { t: "cold-start rate", num: 1 }];
  const chart = (f, yFmt) => lineChart(keys.map((k) => ({ name: k, color: seriesColor(k), points: d.series[k].points.map((p) => ({ x: p.t, y: p[f] })) })), { yFmt, height: 170 });
  const pcts = el("div", { class: "row" });
  for (const [f, label] of [["p50", "P50"], ["p95", "P95"], ["p99", "P99"]]) pcts.append(el("div", {}, el("h3", { text: `${label} latency (worst window per interval)` }), chart(f, fmt.ms)));
  const rates = el("div", { class: "row" },
    el("div", {}, el("h3", { text: "error rate" }), chart("error_rate", fmt.pct)),
    el("div", {}, el("h3", { text: "cold-start rate" }), chart("cold_start_rate", fmt.pct)));
  const out = [table(head, rows), legend(keys.map((k) => [k, seriesColor(k)])), pcts, rates];
  const attr = Object.entries(d.attribution || {});
  out.push(el("h3", { text: "tail attribution" }));
  if (attr.length) for (const [k, a] of attr) out.push(attributionBox(k, a));
  else out.push(empty("No window in this range carries tail attribution."));
  return out;
}

function drawColdstarts(d) {
  const keys = Object.keys(d.frequency);
  const out = [];
  if (keys.length) {
    out.push(el("h3", { text: `cold starts per ${d.interval_ms / 1000} s` }),
      lineChart(keys.map((k) => ({ name: k, color: seriesColor(k), points: d.frequency[k].map((p) => ({ x: p.t, y: p.cold_starts })) })), { height: 150 }),
      legend(keys.map((k) => [k, seriesColor(k)])));
  }
  const dist = d.distribution, labels = dist.bounds_ms.map((b) => "<" + b).concat(["≥" + dist.bounds_ms[dist.bounds_ms.length - 1]]);
  const trim = (counts) => { let lo = counts.findIndex((c) => c > 0), hi = counts.length - 1 - [...counts].reverse().findIndex((c) => c > 0); if (lo < 0) return []; return counts.slice(lo, hi + 1).map((v, i) => ({ label: labels[lo + i], value: v })); };
  const fi = trim(dist.first_inference), el_ = trim(dist.engine_load);
  out.push(el("div", { class: "row" },
    el("div", {}, el("h3", { text: `first-inference latency, ms (${dist.cold_start_traces} cold-start traces)` }), fi.length ? barChart(fi, { color: "#e53935" }) : empty("No cold-start traces.")),
    el("div", {}, el("h3", { text: "engine-load latency, ms" }), el_.length ? barChart(el_, { color: "#fb8c00" }) : empty("No engine loads."))));
  return out;
}

function drawGpu(d) {
  const keys = Object.keys(d.workers);
  if (!keys.length) return [empty("No GPU memory samples in this time range.")];
  const series = [];
  for (const k of keys) {
    const w = d.workers[k];
    series.push({ name: k, color: seriesColor("gpu:" + k), points: w.points.map((p) => ({ x: p.t, y: p.bytes })) });
    if (w.trend) series.push({ name: k + " trend", color: seriesColor("gpu:" + k), dash: 1, width: 1, points: [{ x: w.trend.from.t, y: Math.max(0, w.trend.from.bytes) }, { x: w.trend.to.t, y: Math.max(0, w.trend.to.bytes) }] });
  }
  const out = [lineChart(series, { yFmt: fmt.bytes, threshold: d.threshold_bytes, label: "GPU memory", xMin: d.from, xMax: d.to + d.horizon_ms, height: 240 }), legend(keys.map((k) => [k, seriesColor("gpu:" + k)]))];
  out.push(table([{ t: "worker" }, { t: "latest", num: 1 }, { t: "trend / min", num: 1 }, { t: `projected in ${Math.round(d.horizon_ms / 60000)} min`, num: 1 }, { t: "crosses threshold (trend)" }],
    keys.map((k) => { const w = d.workers[k], last = w.points[w.points.length - 1], t = w.trend;
      return [k, fmt.bytes(last && last.bytes), t ? fmt.bytes(t.slope_bytes_per_s * 60) : "–", t ? fmt.bytes(t.to.bytes) : "–",
        !d.threshold_bytes ? "no threshold set" : t && t.crosses_threshold_at_ms ? fmt.datetime(t.crosses_threshold_at_ms) : "not on this trend"]; })));
  return out;
}

function exemplarLink(rid) {
  return el("a", { href: `#trace=${encodeURIComponent(rid)}`, class: "exemplar", text: rid, on: { click: (e) => { e.preventDefault(); showTrace(rid); } } });
}

function drawAlerts(d) {
  const alerts = d.alerts;
  if (!alerts.length) return [empty("No alerts in this time range.")];
  const lanes = [...new Set(alerts.map((a) => `${a.rule_id} · ${a.scope_key}`))];
  const W = 1280, LH = 18, L = 230, R = 10, H = lanes.length * LH + 26;
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart timeline", role: "img", "aria-label": "alerts timeline" });
  const X = (t) => L + ((t - d.from) / (d.to - d.from)) * (W - L - R);
  let drawn = 0;
  lanes.forEach((lane, i) => {
    const t = svg("text", { x: L - 6, y: i * LH + 13, "text-anchor": "end" }); t.textContent = lane.length > 44 ? lane.slice(0, 43) + "…" : lane; s.append(t);
    const mine = alerts.filter((a) => `${a.rule_id} · ${a.scope_key}` === lane).sort((a, b) => a.window_start_ms - b.window_start_ms);
    let open = null;
    const span = (a0, end) => { const r = svg("rect", { x: X(a0.window_start_ms), y: i * LH + 3, width: Math.max(3, X(end) - X(a0.window_start_ms)), height: LH - 6, fill: "#e53935", rx: 2 });
      const tip = svg("title"); tip.textContent = a0.message; r.append(tip); s.append(r); drawn++; };
    for (const a of mine) {
      if (a.state === "firing") { if (!open) open = a; }
      else if (open) { span(open, a.window_start_ms); open = null; }
      else { s.append(svg("circle", { cx: X(a.window_start_ms), cy: i * LH + 9, r: 4, fill: "#2e7d32" })); drawn++; }
    }
    if (open) span(open, d.to);
  });
  for (let k = 0; k <= 4; k++) { const x = d.from + ((d.to - d.from) * k) / 4; const t = svg("text", { x: X(x), y: H - 4, "text-anchor": "middle" }); t.textContent = fmt.time(x); s.append(t); }
  s.dataset.points = drawn;
  const rows = [...alerts].reverse().map((a) => [fmt.datetime(a.window_start_ms), el("span", { class: a.state, text: a.state }), a.rule_id, a.scope_key,
    el("div", {}, a.message, a.attribution ? attributionBox("", { attribution: a.attribution, window_start_ms: a.window_start_ms }) : null),
    a.exemplars && a.exemplars.length ? el("div", {}, ...a.exemplars.map(exemplarLink), el("small", { text: a.exemplar_source === "window" ? " (window exemplars)" : " (slowest stored traces)" })) : "–"]);
  return [s, table([{ t: "window" }, { t: "state" }, { t: "rule" }, { t: "scope" }, { t: "explanation" }, { t: "exemplar traces" }], rows)];
}

function drawTrace(d) {
  if (!d.trace) return [empty(`No stored trace ${d.request_id} in this time range.`)];
  const t = d.trace, wf = d.waterfall;
  const total = Math.max(1e-9, ...wf.map((s) => s.start_ms + s.duration_ms));
  const W = 1280, LH = 20, L = 110, R = 70, H = wf.length * LH + 10;
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart waterfall", role: "img", "aria-label": "trace waterfall" });
  wf.forEach((st, i) => {
    const x = L + (st.start_ms / total) * (W - L - R), w = Math.max(2, (st.duration_ms / total) * (W - L - R));
    const lab = svg("text", { x: L - 6, y: i * LH + 14, "text-anchor": "end" }); lab.textContent = st.stage; s.append(lab);
    s.append(svg("rect", { x, y: i * LH + 4, width: w, height: LH - 8, fill: COLORS[i % COLORS.length], rx: 2 }));
    const v = svg("text", { x: x + w + 4, y: i * LH + 14 }); v.textContent = fmt.ms(st.duration_ms); s.append(v);
  });
  s.dataset.points = wf.length;
  return [el("div", { text: `${t.request_id} · ${t.model}/${t.model_version} · worker ${t.worker_id || "–"} · ${t.status}${t.cold_start ? " · cold start" : ""} · total ${fmt.ms((t.stages || {}).total_ms)} · started ${fmt.datetime(t.start_ts_ms)}` }), s];
}

let buildPick = { a: null, b: null };
function drawBuilds(d) {
  const builds = d.builds;
  if (!builds.length) return [empty("No build documents in this time range.")];
  const models = [...new Set(builds.map((b) => b.model || "?"))];
  const chart = (f, yFmt) => lineChart(models.map((m) => ({ name: m, color: seriesColor("build:" + m), points: builds.filter((b) => (b.model || "?") === m && b.built_at_ms).map((b) => ({ x: b.built_at_ms, y: b[f] })) })), { yFmt, height: 150 });
  const out = [el("div", { class: "row" },
    el("div", {}, el("h3", { text: "fusion rate" }), chart("fusion_rate", fmt.pct)),
    el("div", {}, el("h3", { text: "INT8 coverage" }), chart("int8_coverage", fmt.pct)),
    el("div", {}, el("h3", { text: "plugin fallbacks" }), chart("fallbacks", fmt.num)),
    el("div", {}, el("h3", { text: "peak GPU memory" }), chart("peak_memory_bytes", fmt.bytes))),
  legend(models.map((m) => [m, seriesColor("build:" + m)]))];
  const pick = (which, id) => el("input", { type: "radio", name: `build-${which}`, value: id, ...(buildPick[which] === id ? { checked: "" } : {}), on: { change: () => { buildPick[which] = id; showDiff(); } } });
  if (!buildPick.b && builds.length > 1) { buildPick.a = builds[builds.length - 2].id; buildPick.b = builds[builds.length - 1].id; }
  out.push(table([{ t: "A" }, { t: "B" }, { t: "built" }, { t: "model/version" }, { t: "engine" }, { t: "fusion", num: 1 }, { t: "INT8", num: 1 }, { t: "fallbacks", num: 1 }, { t: "peak memory", num: 1 }, { t: "TensorRT" }],
    [...builds].reverse().map((b) => [pick("a", b.id), pick("b", b.id), fmt.datetime(b.built_at_ms), `${b.model || "?"}/${b.model_version || "?"}`, b.engine_id, fmt.pct(b.fusion_rate), fmt.pct(b.int8_coverage), fmt.num(b.fallbacks), fmt.bytes(b.peak_memory_bytes), b.trt_version || "–"])));
  out.push(el("div", { id: "build-diff" }));
  setTimeout(showDiff, 0);
  return out;
}

async function showDiff() {
  const box = document.getElementById("build-diff");
  if (!box || !buildPick.a || !buildPick.b) return;
  try {
    const { diff } = await fetchPanel("build_diff", { a: buildPick.a, b: buildPick.b });
    const f = (name, v) => name.includes("rate") || name.includes("coverage") ? fmt.pct(v) : name.includes("bytes") ? fmt.bytes(v) : fmt.num(v);
    box.replaceChildren(el("h3", { text: `diff A → B (${diff.old} → ${diff.new})` }),
      table([{ t: "figure" }, { t: "A", num: 1 }, { t: "B", num: 1 }, { t: "change", num: 1 }],
        diff.figures.map((r) => [r.figure, f(r.figure, r.old), f(r.figure, r.new), r.change === null ? "–" : el("span", { class: !r.change ? "" : (r.change > 0) === ["fusion_rate", "int8_coverage"].includes(r.figure) ? "better" : "worse", text: (r.change > 0 ? "+" : "") + f(r.figure, r.change) + (r.change_pct === null ? "" : ` (${r.change_pct.toFixed(1)}%)`) })])),
      el("div", { text: `fallbacks added: ${diff.fallbacks_added.join(", ") || "none"}; removed: ${diff.fallbacks_removed.join(", ") || "none"}; TensorRT ${diff.versions.old || "?"} → ${diff.versions.new || "?"}` }),
      diff.stored_diff_prev ? el("details", {}, el("summary", { text: "B's stored diff against its previous build (diff_prev)" }), el("pre", { text: JSON.stringify(diff.stored_diff_prev, null, 1).slice(0, 4000) })) : null);
    box.dataset.state = "ready";
  } catch (e) { box.replaceChildren(el("p", { class: "error", text: `diff: ${e.message}` })); }
}

function drawLayers(d) {
  if (!d.layers.length) return [empty("No layer profiles in this time range.")];
  const max = Math.max(...d.layers.map((l) => l.share || 0), 1e-9);
  const bars = barChart(d.layers.map((l, i) => ({ label: String(i + 1), value: +(l.share || 0).toFixed(4) })), { color: "#7e57c2", height: 130, label: "layer share" });
  return [bars, table([{ t: "#" }, { t: "layer" }, { t: "type" }, { t: "share of GPU time" }, { t: "mean", num: 1 }, { t: "P99", num: 1 }, { t: "samples", num: 1 }, { t: "engines" }],
    d.layers.map((l, i) => [i + 1, l.layer, l.layer_type || "–", el("span", {}, el("span", { class: "bar", style: `width:${(80 * (l.share || 0)) / max}px` }), " " + fmt.pct(l.share)), fmt.ms(l.mean_ms), fmt.ms(l.p99_ms), l.count.toLocaleString(), l.engines.join(", ")]))];
}

/* ------------------------------------------------------------------ wiring */

const PANELS = { traffic: drawTraffic, versions: drawVersions, coldstarts: drawColdstarts, gpu: drawGpu, alerts: drawAlerts, builds: drawBuilds, layers: drawLayers };

function showTrace(rid) {
  state.trace = rid; state.frozen = state.frozen || rangeParams();
  if (!EMBEDDED) history.replaceState(null, "", "#" + hashOf());
  render("trace", drawTrace, { request_id: rid });
  document.getElementById("panel-trace").scrollIntoView({ behavior: "smooth", block: "nearest" });
}

async function loadModels() {
  const meta = await fetchPanel("meta");
  const sel = $("#model"), keep = state.model;
  sel.replaceChildren(el("option", { value: "", text: "all models" }), ...Object.keys(meta.models).map((m) => el("option", { value: m, text: `${m} (${meta.models[m].join(", ")})` })));
  if (keep && !(keep in meta.models)) sel.append(el("option", { value: keep, text: keep }));
  sel.value = keep;
  return meta;
}

async function refreshAll() {
  const status = $("#status");
  status.className = ""; status.textContent = "loading…";
  state.frozen = rangeParams();  // one range for every panel of this refresh (the server answers repeats from its cache)
  try { await loadModels(); } catch (e) { status.className = "error"; status.textContent = `store: ${e.message}`; }
  await Promise.all(Object.entries(PANELS).map(([n, f]) => render(n, f)));
  if (state.trace) await render("trace", drawTrace, { request_id: state.trace });
  const { from, to } = EMBEDDED ? { from: EMBEDDED.meta.from, to: EMBEDDED.meta.to } : state.frozen;
  if (!status.className) status.textContent = `${fmt.datetime(from)} – ${fmt.datetime(to)} · updated ${fmt.time(Date.now())}`;
  document.body.dataset.loaded = String(+document.body.dataset.loaded + 1 || 1);
}

function hashOf() {
  const p = new URLSearchParams({ range: state.range, refresh: state.refresh });
  if (state.model) p.set("model", state.model);
  if (state.range === "custom") { p.set("from", state.from); p.set("to", state.to); }
  if (state.trace) p.set("trace", state.trace);
  return p.toString();
}

function schedule() {
  clearInterval(state.timer);
  if (state.refresh > 0 && !EMBEDDED) state.timer = setInterval(refreshAll, state.refresh * 1000);
}

function localInput(ms) { const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000); return d.toISOString().slice(0, 19); }

function init() {
  const h = new URLSearchParams(location.hash.slice(1));
  state.range = h.get("range") || state.range;
  state.refresh = h.has("refresh") ? +h.get("refresh") : state.refresh;
  state.model = h.get("model") || "";
  state.trace = h.get("trace");
  if (state.range === "custom") { state.from = +h.get("from"); state.to = +h.get("to"); }
  if (EMBEDDED) {
    state.range = "custom"; state.from = EMBEDDED.meta.from; state.to = EMBEDDED.meta.to; state.refresh = 0;
    state.model = EMBEDDED.meta.model || ""; state.trace = EMBEDDED.trace_id || null;
    $("#controls").hidden = true;
  }
  $("#range").value = state.range; $("#refresh").value = String(state.refresh);
  $("#custom").hidden = state.range !== "custom";
  if (state.range === "custom" && state.from) { $("#from").value = localInput(state.from); $("#to").value = localInput(state.to); }
  const changed = () => { if (!EMBEDDED) history.replaceState(null, "", "#" + hashOf()); refreshAll(); schedule(); };
  $("#controls").addEventListener("submit", (e) => e.preventDefault());
  $("#model").addEventListener("change", (e) => { state.model = e.target.value; buildPick = { a: null, b: null }; changed(); });
  $("#range").addEventListener("change", (e) => {
    state.range = e.target.value; $("#custom").hidden = state.range !== "custom";
    if (state.range === "custom") { const r = { to: Date.now() }; r.from = r.to - 3600e3; state.from = r.from; state.to = r.to; $("#from").value = localInput(r.from); $("#to").value = localInput(r.to); }
    changed();
  });
  for (const id of ["from", "to"]) $("#" + id).addEventListener("change", (e) => { const v = new Date(e.target.value).getTime(); if (v) { state[id] = v; changed(); } });
  $("#refresh").addEventListener("change", (e) => { state.refresh = +e.target.value; changed(); });
  $("#reload").addEventListener("click", refreshAll);
  refreshAll(); schedule();
}

document.addEventListener("DOMContentLoaded", init);
