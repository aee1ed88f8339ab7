/* A run: Overview, Charts, System, Logs, Files, Artifacts and Media tabs (the tab is the URL
   fragment), actions in the Overview, live updates while the run is running. */
"use strict";

const runId = decodeURIComponent(location.pathname.replace(/^\/runs\//, ""));
const api = `/api/runs/${encodeURIComponent(runId)}`;
const TABS = ["overview", "charts", "system", "logs", "files", "artifacts", "media"];
const POLL_MS = 2000;
const ui = {};
let run = null;
const live = { logOffset: 0, charts: new Map(), system: new Map(), history: null, systemData: null };

function currentTab() {
  const wanted = (location.hash.slice(1) || new URLSearchParams(location.search).get("tab") || "overview").toLowerCase();
  return TABS.includes(wanted) ? wanted : "overview";
}

function build() {
  ui.badge = W.el("span", { id: "run-state" });
  ui.title = W.el("h1", { id: "run-name" });
  ui.tabs = W.el("nav", { class: "tabs" }, TABS.map((t) => W.el("a", { href: `#${t}`, "data-tab": t, id: `tab-${t}`,
    text: t[0].toUpperCase() + t.slice(1) })));
  ui.panes = {};
  TABS.forEach((t) => { ui.panes[t] = W.el("section", { class: "tab", id: `pane-${t}` }); });
  ui.main = W.el("main", {}, W.el("div", { class: "run-head" }, ui.title, ui.badge), ui.tabs, Object.values(ui.panes));
  document.body.append(ui.main);
  window.addEventListener("hashchange", showTab);
}

function showTab() {
  const tab = currentTab();
  ui.tabs.querySelectorAll("a").forEach((a) => a.classList.toggle("active", a.dataset.tab === tab));
  Object.entries(ui.panes).forEach(([name, pane]) => pane.classList.toggle("active", name === tab));
  if (tab === "charts" && !live.history) loadCharts("history");
  if (tab === "system" && !live.systemData) loadCharts("system");
  if (tab === "logs" && !ui.log) loadLogs();
  if (tab === "files") renderFiles();
  if (tab === "artifacts") renderArtifacts();
  if (tab === "media") renderMedia();
}

async function loadRun() {
  try {
    run = await W.get(api);
  } catch (err) {
    ui.title.textContent = "Run not found";
    ui.main.append(W.el("p", { class: "message err", text: err.message }));
    return false;
  }
  document.title = `${run.name} · wbrun`;
  if (!ui.bar) {
    ui.bar = true;
    W.topBar([W.el("a", { href: "/", text: "Projects" }), "/",
      W.el("a", { href: `/projects/${encodeURIComponent(run.project)}`, text: run.project }), "/",
      W.el("span", { text: run.name })]);
  }
  ui.title.textContent = run.name;
  ui.badge.replaceChildren(W.badge(run.state));
  renderOverview();
  return true;
}

function fact(key, value) {
  return [W.el("div", { class: "k", text: key }), W.el("div", { "data-fact": key }, value === null || value === undefined ? "" : value)];
}

function renderOverview() {
  const m = run.metadata || {};
  const git = m.git || {};
  const hw = [m.cpu_count_logical ? `${m.cpu_count_logical} CPU` : null, m.memory && m.memory.total ? W.fmtSize(m.memory.total) + " RAM" : null,
    m.gpu ? (Array.isArray(m.gpu) ? m.gpu.map((g) => g.name || JSON.stringify(g)).join(", ") : JSON.stringify(m.gpu)) : null].filter(Boolean).join(" · ");
  const outputs = (run.artifacts.outputs || []).map((a) => a.ref).join(", ");
  const facts = W.el("div", { class: "card facts", id: "overview-facts" },
    fact("Author", run.author), fact("Run path", run.path), fact("Name", run.name), fact("ID", run.id),
    fact("State", W.badge(run.state)), fact("Description", run.notes || ""),
    fact("Tags", (run.tags || []).map((t) => W.el("span", { class: "tag", text: t }))),
    fact("Start time", W.fmtTime(run.created)), fact("Duration", W.fmtDuration(run.runtime)),
    fact("Runtime", run.runtime === null ? "" : `${run.runtime} s`),
    fact("Command", W.el("span", { class: "mono", text: run.command_line })),
    fact("Exit code", run.exit_code === null ? "" : String(run.exit_code)),
    fact("Host", run.host), fact("OS", m.os || ""),
    fact("Python", [m.python, m.executable].filter(Boolean).join(" · ")),
    fact("Git repository", git.remote || git.url || ""), fact("Git commit", git.commit || ""),
    fact("System hardware", hw), fact("wbrun version", m.wbrun_version || ""),
    fact("Group", run.group || ""), fact("Job type", run.job_type || ""),
    fact("Artifact outputs", outputs), fact("Directory", W.el("span", { class: "mono", text: run.dir })));
  const kv = (title, object, id) => W.el("div", { class: "card" }, W.el("h2", { style: "padding:10px 12px 0", text: title }),
    W.el("table", { class: "kv", id }, W.el("tbody", {}, flatten(object).map(([k, v]) =>
      W.el("tr", {}, W.el("td", { text: k }), W.el("td", { text: W.fmtValue(v) }))))));
  // the action bar is rebuilt only when the state changes, so a poll never wipes what is typed
  if (!ui.actions || ui.actionsState !== run.state) { ui.actions = actions(); ui.actionsState = run.state; }
  ui.panes.overview.replaceChildren(ui.actions, W.el("div", { class: "overview" }, facts,
    W.el("div", { class: "stack" }, kv("Config", run.config, "config-table"), kv("Summary", run.summary, "summary-table"))));
}

function flatten(object, prefix) {
  const out = [];
  for (const [k, v] of Object.entries(object || {})) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v)) out.push(...flatten(v, key));
    else out.push([key, v]);
  }
  return out;
}

function actions() {
  if (W.readOnly()) return W.el("p", { class: "muted", text: "Read-only server: actions are off." });
  const message = W.el("span", { class: "message", id: "action-message" });
  const doing = (fn) => async () => {
    message.className = "message"; message.textContent = "…";
    try { await fn(); message.textContent = "saved"; await loadRun(); } catch (err) { message.className = "message err"; message.textContent = err.message; }
  };
  const tagInput = W.el("input", { type: "text", id: "tag-input", placeholder: "tag" });
  const noteInput = W.el("input", { type: "text", id: "note-input", placeholder: "notes", value: run.notes || "" });
  const nameInput = W.el("input", { type: "text", id: "name-input", placeholder: "name", value: run.name });
  return W.el("div", { class: "card", style: "padding:10px 12px;margin-bottom:12px" }, W.el("div", { class: "actions" },
    tagInput, W.el("button", { id: "tag-add", text: "Add tag", onclick: doing(() => W.post(`${api}/tag`, { tags: [tagInput.value] })) }),
    W.el("button", { id: "tag-remove", text: "Remove tag", onclick: doing(() => W.post(`${api}/untag`, { tags: [tagInput.value] })) }),
    noteInput, W.el("button", { id: "note-save", text: "Save notes", onclick: doing(() => W.post(`${api}/notes`, { notes: noteInput.value })) }),
    nameInput, W.el("button", { id: "rename", text: "Rename", onclick: doing(() => W.post(`${api}/rename`, { name: nameInput.value })) }),
    run.state === "running" ? W.el("button", { id: "stop", class: "danger", text: "Stop run", onclick: doing(() => W.post(`${api}/stop`)) }) : null,
    run.state !== "running" ? W.el("button", { id: "delete", class: "danger", text: "Delete", onclick: async () => {
      if (!confirm("Move this run to the trash?")) return;
      try { await W.post(`${api}/delete`); message.textContent = "moved to the trash"; ui.main.append(W.el("button", { id: "restore", text: "Restore", onclick: doing(() => W.post(`${api}/restore`)) })); }
      catch (err) { message.className = "message err"; message.textContent = err.message; }
    } }) : null,
    message));
}

// ---- charts and system charts -------------------------------------------------------------
async function loadCharts(kind) {
  const pane = ui.panes[kind === "system" ? "system" : "charts"];
  const store = kind === "system" ? live.system : live.charts;
  const path = `${api}/${kind === "system" ? "system" : "history"}`;
  const known = kind === "system" ? live.systemData : live.history;
  const params = { max_points: 2000 };
  const appending = known && known.lastX !== null && known.lastX !== undefined;
  if (appending) params.after_step = known.lastX;
  let answer;
  try { answer = await W.get(path, params); } catch (err) { pane.replaceChildren(W.el("p", { class: "message err", text: err.message })); return; }
  const data = appending ? known : { series: {}, titles: {} };
  for (const [key, s] of Object.entries(answer.series)) {
    const old = data.series[key];
    data.series[key] = appending && old && !s.full
      ? { x: old.x.concat(s.x), y: old.y.concat(s.y), sampled: old.sampled || s.sampled, x_key: s.x_key } : s;
  }
  data.keys = answer.keys; data.lastX = answer.last_x; data.titles = answer.titles || {}; data.x = answer.x;
  if (kind === "system") live.systemData = data; else live.history = data;
  if (!data.keys.length) {
    pane.replaceChildren(W.el("div", { class: "card empty", text: kind === "system" ? "No system samples." : "No metrics logged yet." }));
    store.clear();
    return;
  }
  if (pane.querySelector(".empty")) pane.replaceChildren();
  let grid = pane.querySelector(".charts");
  if (!grid) { grid = W.el("div", { class: "charts" }); pane.replaceChildren(grid); }
  const color = W.colorOf(run.id);
  for (const key of data.keys) {
    const s = data.series[key];
    if (!s) continue;
    const chart = store.get(key);
    if (chart) {
      chart.plot.setData([s.x, s.y]);
      chart.box.dataset.points = String(s.x.length);
      continue;
    }
    const holder = W.el("div", {});
    const title = data.titles[key] || key;
    const box = W.el("div", { class: "chart", "data-metric": key, "data-points": String(s.x.length), "data-series": "1",
      "data-x": s.x_key || data.x },
      W.el("h3", { title }, title, s.sampled ? W.el("span", { class: "sampled", text: "downsampled: min/max kept" }) : null), holder);
    grid.append(box);
    const plot = W.lineChart(holder, title, [{ label: run.name, color, x: s.x, y: s.y }], { xLabel: s.x_key || data.x });
    store.set(key, { plot, box });
  }
}

// ---- logs -----------------------------------------------------------------------------
async function loadLogs() {
  if (!ui.log) {
    ui.log = W.el("pre", { class: "log", id: "log" });
    ui.panes.logs.replaceChildren(
      W.el("div", { class: "actions", style: "margin-bottom:8px" },
        W.el("a", { href: `${api}/files/output.log`, download: "output.log", id: "log-download", text: "Download output.log" })),
      ui.log);
  }
  for (let i = 0; i < 50; i++) {
    let chunk;
    try { chunk = await W.get(`${api}/logs`, { offset: live.logOffset }); } catch (err) { return; }
    const stick = ui.log.scrollTop + ui.log.clientHeight >= ui.log.scrollHeight - 4;
    const frag = document.createDocumentFragment();
    for (const line of chunk.lines) {
      for (const [text, cls] of line) frag.append(cls ? W.el("span", { class: cls, text }) : document.createTextNode(text));
      frag.append("\n");
    }
    ui.log.append(frag);
    if (stick) ui.log.scrollTop = ui.log.scrollHeight;
    live.logOffset = chunk.next_offset;
    if (!chunk.more) break;
  }
}

// ---- files and artifacts ----------------------------------------------------------------
function renderFiles() {
  const rows = run.files.map((f) => W.el("tr", { "data-file": f.path },
    W.el("td", {}, W.el("a", { href: `${api}/files/${f.path.split("/").map(encodeURIComponent).join("/")}`, text: f.path })),
    W.el("td", { text: W.fmtSize(f.size) })));
  ui.panes.files.replaceChildren(W.el("div", { class: "card" }, W.el("table", { class: "plain", id: "files-table" },
    W.el("thead", {}, W.el("tr", {}, W.el("th", { text: "File" }), W.el("th", { text: "Size" }))), W.el("tbody", {}, rows))),
    W.el("p", {}, "Full history: ", W.el("a", { href: `${api}/history?format=csv`, text: "CSV" }), " · ",
      W.el("a", { href: `${api}/history?format=json`, text: "JSON lines" })));
}

function renderArtifacts() {
  const table = (role, items) => W.el("div", { class: "card", style: "margin-bottom:12px" },
    W.el("h2", { style: "padding:10px 12px 0", text: role === "inputs" ? "Input artifacts (used)" : "Output artifacts (logged)" }),
    items.length ? W.el("table", { class: "plain", id: `artifacts-${role}` },
      W.el("thead", {}, W.el("tr", {}, ["Artifact", "Type", "Aliases", "Size"].map((h) => W.el("th", { text: h })))),
      W.el("tbody", {}, items.map((a) => W.el("tr", {}, W.el("td", { class: "mono", text: a.ref }), W.el("td", { text: a.type }),
        W.el("td", {}, (a.aliases || []).map((t) => W.el("span", { class: "tag", text: t }))), W.el("td", { text: W.fmtSize(a.size || 0) })))))
      : W.el("p", { class: "muted", style: "padding:0 12px 10px", text: "None." }));
  ui.panes.artifacts.replaceChildren(table("inputs", run.artifacts.inputs || []), table("outputs", run.artifacts.outputs || []));
}

// ---- media: images by key with a step slider, tables drawn as text --------------------------
const fileUrl = (path) => `${api}/files/${path.split("/").map(encodeURIComponent).join("/")}`;

function renderMedia() {
  const media = run.media || [];
  if (!media.length) {
    ui.panes.media.replaceChildren(W.el("div", { class: "card empty", text: "This run logged no media." }));
    return;
  }
  const byKey = new Map();
  media.forEach((m) => { const k = `${m.kind}\u0000${m.key}`; if (!byKey.has(k)) byKey.set(k, []); byKey.get(k).push(m); });
  const cards = [...byKey.values()].map((items) => mediaCard(items));
  ui.panes.media.replaceChildren(W.el("div", { class: "charts", id: "media-panels" }, cards));
}

function mediaCard(items) {
  const { kind, key } = items[0];
  const body = W.el("div", { class: "media-body" });
  const caption = W.el("span", { class: "muted" });
  const show = (index) => {
    const item = items[index];
    caption.textContent = ` step ${item.step ?? "?"} (${index + 1} of ${items.length})`;
    if (kind === "image") body.replaceChildren(W.el("img", { src: fileUrl(item.path), alt: `${key} step ${item.step}`, class: "media-image" }));
    else if (kind === "table") showTable(body, item);
    else body.replaceChildren(W.el("a", { href: fileUrl(item.path), text: item.path }));
  };
  const slider = items.length > 1 ? W.el("input", { type: "range", min: "0", max: String(items.length - 1), value: String(items.length - 1) }) : null;
  if (slider) slider.addEventListener("input", () => show(Number(slider.value)));
  show(items.length - 1);
  return W.el("div", { class: "chart media", "data-media": key, "data-kind": kind, "data-count": String(items.length) },
    W.el("h3", { title: key }, key, caption), slider, body);
}

async function showTable(body, item) {
  let table;
  try { table = await W.get(fileUrl(item.path)); } catch (err) { body.replaceChildren(W.el("p", { class: "message err", text: err.message })); return; }
  const columns = Array.isArray(table.columns) ? table.columns : [];
  const rows = Array.isArray(table.data) ? table.data.slice(0, 100) : [];
  const cell = (v) => (v !== null && typeof v === "object" ? JSON.stringify(v) : W.fmtValue(v));
  body.replaceChildren(W.el("table", { class: "plain media-table" },
    W.el("thead", {}, W.el("tr", {}, columns.map((c) => W.el("th", { text: String(c) })))),
    W.el("tbody", {}, rows.map((r) => W.el("tr", {}, (Array.isArray(r) ? r : []).map((v) => W.el("td", { text: cell(v) })))))),
  (table.data || []).length > rows.length ? W.el("p", { class: "muted", text: `first 100 of ${table.data.length} rows` }) : null);
}

async function poll() {
  if (!run || run.state !== "running" || document.hidden) return;
  await loadRun();
  const tab = currentTab();
  if (live.history || tab === "charts") await loadCharts("history");
  if (live.systemData || tab === "system") await loadCharts("system");
  if (ui.log) await loadLogs();
}

document.addEventListener("DOMContentLoaded", async () => {
  build();
  if (await loadRun()) showTab();
  setInterval(poll, POLL_MS);
});
