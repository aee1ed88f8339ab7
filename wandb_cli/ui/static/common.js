/* wbrun ui: helpers shared by the pages. User text is only ever set with textContent
   (never innerHTML), so a run named <img onerror=...> is shown literally. */
"use strict";

const W = {};

W.meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
W.readOnly = () => W.meta("wbrun-read-only") === "1";

W.el = function (tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
};

W.qs = (params) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return text ? "?" + text : "";
};

W.get = async function (path, params) {
  const response = await fetch(path + W.qs(params || {}), { credentials: "same-origin" });
  const body = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) { const err = new Error(body.error || `HTTP ${response.status}`); err.body = body; throw err; }
  return body;
};

W.post = async function (path, body) {
  const response = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Wbrun-Csrf": W.meta("wbrun-csrf") },
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) throw new Error(answer.error || `HTTP ${response.status}`);
  return answer;
};

W.badge = (state) => W.el("span", { class: `badge ${state}`, "data-state": state, text: state });

W.fmtValue = function (value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(3);
    return String(Number(value.toPrecision(5)));
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (Array.isArray(value)) return value.map(W.fmtValue).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
};

W.fmtTime = function (iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
};

W.fmtDuration = function (seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
};

W.fmtSize = function (size) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = size, unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return unit ? `${value.toFixed(1)} ${units[unit]}` : `${size} B`;
};

/* Crop long text at the start, middle or end to `width` characters, with an ellipsis. */
W.crop = function (text, width, mode) {
  text = String(text);
  if (text.length <= width) return text;
  if (mode === "start") return "…" + text.slice(text.length - width + 1);
  if (mode === "end") return text.slice(0, width - 1) + "…";
  const head = Math.ceil((width - 1) / 2), tail = width - 1 - head;
  return text.slice(0, head) + "…" + (tail ? text.slice(text.length - tail) : "");
};

W.PALETTE = ["#e8a317", "#1e6fd9", "#d6336c", "#2f9e44", "#7048e8", "#0c8599", "#e8590c",
  "#5c940d", "#ae3ec9", "#1098ad", "#f03e3e", "#364fc7", "#a61e4d", "#087f5b", "#862e9c"];
W.colorOf = function (id) {
  let hash = 0;
  for (const ch of String(id)) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return W.PALETTE[hash % W.PALETTE.length];
};

/* One uPlot line chart. `series`: [{label, color, x: [...], y: [...], band: {lo, hi}}].
   Series with different x are joined on the union of their x (gaps bridged). */
W.lineChart = function (container, title, series, opts) {
  opts = opts || {};
  const tables = series.map((s) => [s.x, s.y]);
  let data;
  if (!tables.length) data = [[]];
  else if (tables.length === 1) data = [tables[0][0], tables[0][1]];
  else data = uPlot.join(tables);
  const logY = !!opts.logY;
  if (logY) data = data.map((col, i) => (i === 0 ? col : col.map((v) => (v !== null && v > 0 ? v : null))));
  const uSeries = [{ label: opts.xLabel || "x" }];
  series.forEach((s) => {
    uSeries.push({ label: s.label, stroke: s.color, width: 1.5, spanGaps: true,
      points: { show: s.x.length <= 30, size: 5 }, value: (u, v) => (v === null || v === undefined ? "—" : W.fmtValue(v)) });
  });
  const bands = [];
  series.forEach((s, i) => {
    if (!s.band) return;
    /* the band: two faint series (hi, lo) filled between, drawn under the mean */
    data.push(W.alignTo(data[0], s.x, s.band.hi), W.alignTo(data[0], s.x, s.band.lo));
    const hi = uSeries.length, lo = hi + 1;
    uSeries.push({ label: `${s.label} max`, stroke: s.color + "55", width: 0.5, spanGaps: true, points: { show: false } },
      { label: `${s.label} min`, stroke: s.color + "55", width: 0.5, spanGaps: true, points: { show: false } });
    bands.push({ series: [hi, lo], fill: s.color + "22" });
    void i;
  });
  const width = Math.max(280, container.clientWidth - 4);
  const options = {
    width, height: opts.height || 220, series: uSeries, bands,
    scales: { x: { time: false }, y: logY ? { distr: 3 } : {} },
    axes: [{ size: 32, font: "11px sans-serif" }, { size: 56, font: "11px sans-serif" }],
    cursor: { drag: { x: true, y: false, setScale: true }, points: { size: 6 } },
    legend: { live: true },
  };
  const plot = new uPlot(options, data, container);
  /* the band's edges are drawn but not listed: the legend keeps one entry per series */
  const entries = plot.root.querySelectorAll(".u-legend .u-series");
  bands.forEach((band) => band.series.forEach((i) => { if (entries[i]) entries[i].style.display = "none"; }));
  plot.root.dataset.series = String(series.length);
  container.dataset.title = title;
  return plot;
};

/* Values of (xs, ys) placed at the positions of `joined` xs (null where absent). */
W.alignTo = function (joined, xs, ys) {
  const at = new Map();
  xs.forEach((x, i) => at.set(x, ys[i]));
  return joined.map((x) => (at.has(x) ? at.get(x) : null));
};

W.topBar = function (crumbs) {
  const bar = W.el("header", { class: "top" },
    W.el("a", { class: "logo", href: "/" }, "wb", W.el("span", { text: "run" })),
    W.el("div", { class: "crumbs" }, crumbs),
    W.el("div", { class: "spacer" }),
    W.readOnly() ? W.el("span", { class: "note", text: "read-only" }) : null);
  document.body.prepend(bar);
};
