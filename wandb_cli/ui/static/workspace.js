/* A project's workspace: the runs table (filter, search, sort, group, columns, cropping)
   beside one chart per metric for the selected runs.  The whole view lives in the URL. */
"use strict";

const project = decodeURIComponent(location.pathname.replace(/^\/projects\//, ""));
const url = new URLSearchParams(location.search);
const view = {
  filter: url.get("filter") || "", search: url.get("search") || "", sort: url.get("sort") || "",
  group_by: url.get("group_by") || "", columns: url.get("columns") || "",
  pinned: (url.get("pinned") || "name").split(",").filter(Boolean), crop: url.get("crop") || "middle",
  x: url.get("x") || "", smooth: url.get("smooth") || "1", logy: url.get("logy") === "1",
  sel: url.has("sel") ? url.get("sel").split(",").filter(Boolean) : null, offset: Number(url.get("offset") || 0),
};
const PAGE = 100, NAME_WIDTH = 28, DEFAULT_SELECTED = 10, POLL_MS = 2500;
const ui = {};
let page = null;            // the last /api/runs answer
const histories = new Map(); // run id -> {x, smooth, state, series: {key: {x, y}}, lastX, name}
const charts = new Map();    // metric key -> {plot, sig, box}

function saveView() {
  const params = {
    filter: view.filter, search: view.search, sort: view.sort, group_by: view.group_by,
    columns: view.columns, pinned: view.pinned.join(",") === "name" ? "" : view.pinned.join(","),
    crop: view.crop === "middle" ? "" : view.crop, x: view.x,
    smooth: view.smooth === "1" ? "" : view.smooth, logy: view.logy ? "1" : "",
    sel: view.sel === null ? null : view.sel.join(","), offset: view.offset || "",
  };
  history.replaceState(null, "", location.pathname + W.qs(params));
}

function build() {
  W.topBar([W.el("a", { href: "/", text: "Projects" }), "/", W.el("span", { text: project })]);
  document.title = `${project} · wbrun`;
  const input = (id, value, placeholder) => W.el("input", { type: "text", id, value, placeholder, class: "grow", spellcheck: "false" });
  ui.search = input("search", view.search, "Search names (regex)");
  ui.filter = input("filter", view.filter, "Filter, e.g. loss < 0.5 and config.lr = 0.01");
  ui.groupBy = input("group-by", view.group_by, "Group by, e.g. config.opt");
  ui.error = W.el("pre", { class: "filter-error", id: "filter-error" });
  ui.crop = W.el("select", { id: "crop", title: "Where long names are cropped" },
    ["start", "middle", "end"].map((m) => W.el("option", { value: m, selected: m === view.crop, text: `crop ${m}` })));
  ui.colButton = W.el("button", { id: "columns-button", text: "Columns" });
  ui.columnsPanel = W.el("div", { class: "columns-panel", id: "columns-panel" });
  ui.count = W.el("span", { id: "run-count" });
  ui.table = W.el("table", { class: "runs", id: "runs-table" });
  ui.pager = W.el("div", { class: "pager" }, ui.count);
  const runsPane = W.el("section", { class: "card runs-pane" },
    W.el("div", { class: "controls" },
      W.el("div", { class: "row" }, ui.search, ui.crop, ui.colButton),
      W.el("div", { class: "row" }, ui.filter),
      ui.error,
      W.el("div", { class: "row" }, ui.groupBy)),
    ui.columnsPanel,
    W.el("div", { class: "table-wrap" }, ui.table), ui.pager);
  ui.x = W.el("select", { id: "x-axis" });
  ui.smooth = W.el("input", { type: "range", id: "smooth", min: "1", max: "100", value: view.smooth });
  ui.logy = W.el("input", { type: "checkbox", id: "log-y", checked: view.logy });
  ui.selInfo = W.el("span", { class: "muted", id: "selected-count" });
  ui.charts = W.el("div", { class: "charts", id: "charts" });
  const chartsPane = W.el("section", { class: "card charts-pane" },
    W.el("div", { class: "controls" },
      W.el("label", {}, "x ", ui.x), W.el("label", {}, "smoothing ", ui.smooth),
      W.el("label", {}, ui.logy, " log y"), ui.selInfo),
    ui.charts);
  document.body.append(W.el("div", { class: "workspace" }, runsPane, chartsPane));

  const debounce = (fn) => { let t; return () => { clearTimeout(t); t = setTimeout(fn, 300); }; };
  const onInput = debounce(() => {
    view.search = ui.search.value; view.filter = ui.filter.value; view.group_by = ui.groupBy.value;
    view.offset = 0; saveView(); loadRuns();
  });
  [ui.search, ui.filter, ui.groupBy].forEach((box) => box.addEventListener("input", onInput));
  ui.crop.addEventListener("change", () => { view.crop = ui.crop.value; saveView(); renderTable(); });
  ui.colButton.addEventListener("click", () => ui.columnsPanel.classList.toggle("open"));
  ui.x.addEventListener("change", () => { view.x = ui.x.value; saveView(); histories.clear(); loadCharts(); });
  ui.smooth.addEventListener("change", () => { view.smooth = ui.smooth.value; saveView(); histories.clear(); loadCharts(); });
  ui.logy.addEventListener("change", () => { view.logy = ui.logy.checked; saveView(); redrawCharts(true); });
}

async function loadRuns() {
  const params = {
    project, filter: view.filter, search: view.search, sort: view.sort, group_by: view.group_by,
    columns: view.columns, offset: view.offset, limit: view.group_by ? 1000 : PAGE,
  };
  let answer;
  try {
    answer = await W.get("/api/runs", params);
  } catch (err) {
    ui.error.textContent = (err.body && err.body.text) || err.message;
    ui.table.dataset.error = "1";
    return;
  }
  ui.error.textContent = "";
  delete ui.table.dataset.error;
  page = answer;
  renderTable();
  renderColumnsPanel();
  loadCharts();
}

function selectedIds() {
  if (view.sel !== null) return view.sel;
  const newest = [...page.rows].sort((a, b) => (a.created < b.created ? 1 : -1));
  return newest.slice(0, DEFAULT_SELECTED).map((r) => r.id);
}

/* Colours follow the selection order, so the first ten selected runs never share one. */
function runColor(id) {
  const index = selectedIds().indexOf(id);
  return index < 0 ? "#c4c9d0" : W.PALETTE[index % W.PALETTE.length];
}

function toggleSelected(id) {
  const ids = new Set(selectedIds());
  if (ids.has(id)) ids.delete(id); else ids.add(id);
  view.sel = [...ids];
  saveView(); renderTable(); loadCharts();
}

function sortBy(key) {
  view.sort = view.sort === key ? `-${key}` : key;
  view.offset = 0; saveView(); loadRuns();
}

function cellFor(key, row) {
  const value = row.cells[key];
  if (key === "name") {
    return W.el("td", { title: row.name },
      W.el("a", { href: `/runs/${encodeURIComponent(row.id)}`, class: "run-link", text: W.crop(row.name, NAME_WIDTH, view.crop) }));
  }
  if (key === "state") return W.el("td", {}, W.badge(row.state));
  if (key === "tags") return W.el("td", {}, (row.tags || []).map((t) => W.el("span", { class: "tag", text: t })));
  if (key === "created" || key === "ended") return W.el("td", { text: W.fmtTime(value), title: value || "" });
  if (key === "runtime") return W.el("td", { class: "num", text: W.fmtDuration(value) });
  const text = W.fmtValue(value);
  return W.el("td", { class: typeof value === "number" ? "num" : "", title: text, text: W.crop(text, 40, view.crop) });
}

function renderTable() {
  if (!page) return;
  const selected = new Set(selectedIds());
  const columns = page.columns;
  const sortKey = view.sort.replace(/^-/, "");
  const head = W.el("tr", {}, W.el("th", { title: "Shown in the charts" }, ""),
    columns.map((key) => W.el("th", {
      class: key === sortKey ? "sorted" : "", "data-key": key, onclick: () => sortBy(key),
      text: (page.headers[key] || key) + (key === sortKey ? (view.sort.startsWith("-") ? " ↓" : " ↑") : ""),
    })));
  const runRow = (row) => W.el("tr", { "data-id": row.id, class: "run-row" },
    W.el("td", {}, W.el("input", {
      type: "checkbox", class: "eye", checked: selected.has(row.id), title: "Show in charts",
      onchange: () => toggleSelected(row.id),
    }), " ", W.el("span", { class: "swatch", style: `background:${runColor(row.id)}` })),
    columns.map((key) => cellFor(key, row)));
  const body = W.el("tbody", {});
  if (page.groups) {
    const byId = new Map(page.rows.map((r) => [r.id, r]));
    for (const group of page.groups) {
      const label = Object.entries(group.group).map(([k, v]) => `${k}: ${v === null ? "(none)" : W.fmtValue(v)}`).join(", ");
      const stats = Object.entries(group.stats).filter(([, s]) => s.n).map(([k, s]) => `${k} ${W.fmtValue(s.mean)} (${W.fmtValue(s.min)}–${W.fmtValue(s.max)})`);
      const states = Object.entries(group.states).map(([s, n]) => `${n} ${s}`).join(", ");
      body.append(W.el("tr", { class: "group-row", "data-group": label },
        W.el("td", { colspan: String(columns.length + 1), text: `${label} · ${group.count} runs · ${states}${stats.length ? " · " + stats.join(" · ") : ""}` })));
      group.runs.map((id) => byId.get(id)).filter(Boolean).forEach((row) => body.append(runRow(row)));
    }
  } else {
    page.rows.forEach((row) => body.append(runRow(row)));
  }
  ui.table.replaceChildren(W.el("thead", {}, head), body);
  pinColumns(columns);
  const first = page.total ? page.offset + 1 : 0, last = page.offset + page.rows.length;
  ui.count.textContent = `${page.total} runs` + (page.total > page.rows.length ? ` · showing ${first}–${last}` : "");
  ui.pager.replaceChildren(ui.count,
    W.el("button", { text: "‹ prev", disabled: view.offset === 0, onclick: () => { view.offset = Math.max(0, view.offset - PAGE); saveView(); loadRuns(); } }),
    W.el("button", { text: "next ›", disabled: last >= page.total || !!page.groups, onclick: () => { view.offset += PAGE; saveView(); loadRuns(); } }));
}

/* Pinned columns stick to the left edge, after the checkbox column, in table order. */
function pinColumns(columns) {
  const headers = ui.table.querySelectorAll("thead th");
  let left = headers[0] ? headers[0].offsetWidth : 0;
  const rows = ui.table.querySelectorAll("tr");
  rows.forEach((tr) => { const c = tr.children[0]; if (c && !tr.classList.contains("group-row")) { c.classList.add("pinned"); c.style.left = "0px"; } });
  columns.forEach((key, index) => {
    if (!view.pinned.includes(key)) return;
    rows.forEach((tr) => {
      if (tr.classList.contains("group-row")) return;
      const cell = tr.children[index + 1];
      if (cell) { cell.classList.add("pinned"); cell.style.left = `${left}px`; }
    });
    left += headers[index + 1] ? headers[index + 1].offsetWidth : 0;
  });
}

function renderColumnsPanel() {
  const shown = page.columns;
  const all = ["id", "name", "state", "project", "group", "tags", "notes", "created", "runtime", "host",
    ...page.keys.summary.filter((k) => !k.startsWith("_")).map((k) => `summary.${k}`),
    ...page.keys.config.map((k) => `config.${k}`)];
  const setColumns = (list) => { view.columns = list.join(","); saveView(); loadRuns(); };
  ui.columnsPanel.replaceChildren(...[...new Set([...shown, ...all])].map((key) => W.el("div", { class: "col" },
    W.el("input", { type: "checkbox", checked: shown.includes(key), "data-key": key,
      onchange: (e) => setColumns(e.target.checked ? [...shown, key] : shown.filter((k) => k !== key)) }),
    W.el("span", { text: key, title: key }),
    W.el("button", { class: "pin" + (view.pinned.includes(key) ? " on" : ""), text: "pin", onclick: () => {
      view.pinned = view.pinned.includes(key) ? view.pinned.filter((k) => k !== key) : [...view.pinned, key];
      saveView(); renderTable(); renderColumnsPanel();
    } }))));
}

// ---- charts -----------------------------------------------------------------------------
async function fetchHistory(id, row) {
  const known = histories.get(id);
  // x "" : each metric on its define_metric step metric, else _step (the server decides)
  const params = { x: view.x, max_points: 1000, smooth: view.smooth };
  if (known && known.state !== "running") return known;
  if (known && view.smooth === "1" && known.lastX !== null) params.after_step = known.lastX;
  const answer = await W.get(`/api/runs/${encodeURIComponent(id)}/history`, params);
  const entry = known && params.after_step !== undefined ? known : { series: {}, keys: [], xKeys: [] };
  for (const [key, s] of Object.entries(answer.series)) {
    const old = entry.series[key];
    entry.series[key] = old && params.after_step !== undefined && !s.full
      ? { x: old.x.concat(s.x), y: old.y.concat(s.y), sampled: old.sampled || s.sampled, xKey: s.x_key }
      : { x: s.x, y: s.y, sampled: s.sampled, xKey: s.x_key };
  }
  entry.keys = answer.keys; entry.xKeys = answer.x_keys; entry.lastX = answer.last_x;
  entry.state = answer.state; entry.name = row ? row.name : id;
  histories.set(id, entry);
  return entry;
}

async function loadCharts() {
  if (!page) return;
  const rows = new Map(page.rows.map((r) => [r.id, r]));
  const ids = selectedIds();
  ui.selInfo.textContent = `${ids.length} runs selected`;
  const entries = await Promise.all(ids.map((id) => fetchHistory(id, rows.get(id)).then((h) => [id, h]).catch(() => null)));
  const loaded = entries.filter(Boolean);
  fillXOptions(loaded);
  if (view.group_by && ids.length) {
    let grouped;
    try {
      grouped = await W.get("/api/groups/history", { runs: ids.join(","), group_by: view.group_by, x: view.x || "_step", smooth: view.smooth, max_points: 500 });
    } catch (err) { grouped = null; }
    if (grouped) {
      ui.selInfo.textContent = `${ids.length} runs selected · ${grouped.groups.length} groups (mean, min–max band)`;
      drawCharts(grouped.keys.filter((k) => k !== (view.x || "_step")), (key) => grouped.groups.map((g, index) => [g, index]).filter(([g]) => g.series[key]).map(([g, index]) => {
        const s = g.series[key];
        return { label: `${g.label} (${s.runs})`, color: W.PALETTE[index % W.PALETTE.length], x: s.x, y: s.mean, band: { lo: s.lo, hi: s.hi } };
      }), false);
      return;
    }
  }
  const metrics = [];
  loaded.forEach(([, h]) => h.keys.forEach((k) => { if (!metrics.includes(k) && k !== view.x) metrics.push(k); }));
  drawCharts(metrics, (key) => loaded.filter(([, h]) => h.series[key]).map(([id, h]) => ({
    label: h.name, color: runColor(id), x: h.series[key].x, y: h.series[key].y, sampled: h.series[key].sampled,
    xKey: h.series[key].xKey })), false);
}

function fillXOptions(loaded) {
  const keys = new Set(["", "_step", "_runtime", "_timestamp"]);
  loaded.forEach(([, h]) => h.xKeys.forEach((k) => keys.add(k)));
  const current = [...ui.x.options].map((o) => o.value).join(",");
  if (current === [...keys].join(",")) return;
  ui.x.replaceChildren(...[...keys].map((k) => W.el("option", { value: k, selected: k === view.x,
    text: k || "default (define_metric, else _step)" })));
}

let lastDraw = null;
function redrawCharts(force) { if (lastDraw) drawCharts(lastDraw[0], lastDraw[1], force); }

function drawCharts(metrics, seriesFor, force) {
  lastDraw = [metrics, seriesFor];
  if (!metrics.length) {
    charts.forEach((c) => c.plot.destroy()); charts.clear();
    ui.charts.replaceChildren(W.el("div", { class: "empty", text: selectedIds().length ? "The selected runs have no metrics yet." : "Select runs in the table to chart them." }));
    return;
  }
  if (ui.charts.querySelector(".empty")) ui.charts.replaceChildren();
  for (const [key, c] of charts) if (!metrics.includes(key)) { c.plot.destroy(); c.box.remove(); charts.delete(key); }
  for (const key of metrics) {
    const series = seriesFor(key);
    const sig = series.map((s) => s.label + (s.band ? "|band" : "")).join("\u0000") + (view.logy ? "|log" : "");
    let chart = charts.get(key);
    if (chart && chart.sig === sig && !force && !series.some((s) => s.band)) {
      const tables = series.map((s) => [s.x, s.y]);
      chart.plot.setData(tables.length === 1 ? [tables[0][0], tables[0][1]] : uPlot.join(tables));
      chart.box.dataset.points = String(series.reduce((n, s) => n + s.x.length, 0));
      continue;
    }
    if (chart) { chart.plot.destroy(); chart.box.remove(); }
    const holder = W.el("div", {});
    const xKey = view.x || (series.find((s) => s.xKey) || {}).xKey || "_step";
    const box = W.el("div", { class: "chart", "data-metric": key, "data-series": String(series.length), "data-x": xKey,
      "data-points": String(series.reduce((n, s) => n + s.x.length, 0)) },
      W.el("h3", { title: key }, key, series.some((s) => s.sampled) ? W.el("span", { class: "sampled", text: "downsampled: min/max kept" }) : null),
      holder);
    ui.charts.append(box);
    const plot = W.lineChart(holder, key, series, { logY: view.logy, xLabel: xKey });
    chart = { plot, sig, box };
    charts.set(key, chart);
  }
  // keep the cards in metric order
  metrics.forEach((key) => ui.charts.append(charts.get(key).box));
}

async function poll() {
  if (!page || document.hidden) return;
  const running = page.rows.some((r) => r.state === "running") || [...histories.values()].some((h) => h.state === "running");
  try {
    const answer = await W.get("/api/runs", {
      project, filter: view.filter, search: view.search, sort: view.sort, group_by: view.group_by,
      columns: view.columns, offset: view.offset, limit: view.group_by ? 1000 : PAGE });
    const before = JSON.stringify(page.rows.map((r) => [r.id, r.state, r.cells]));
    page = answer;
    if (JSON.stringify(page.rows.map((r) => [r.id, r.state, r.cells])) !== before) renderTable();
  } catch (err) { return; }
  if (running) loadCharts();
}

document.addEventListener("DOMContentLoaded", () => {
  build();
  loadRuns();
  setInterval(poll, POLL_MS);
});
