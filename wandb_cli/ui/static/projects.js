/* The projects page: name, run count, states, last activity. */
"use strict";

async function showProjects() {
  W.topBar([W.el("span", { text: "Projects" })]);
  const main = W.el("main", {});
  document.body.append(main);
  document.title = "Projects · wbrun";
  main.append(W.el("h1", { text: "Projects" }));
  let projects;
  try {
    projects = await W.get("/api/projects");
  } catch (err) {
    main.append(W.el("p", { class: "message err", text: err.message }));
    return;
  }
  if (!projects.length) {
    main.append(W.el("div", { class: "card empty", text: "No runs yet: start one with  wbrun -- python train.py" }));
    return;
  }
  const rows = projects.map((p) => W.el("tr", { "data-project": p.name },
    W.el("td", {}, W.el("a", { href: "/projects/" + encodeURIComponent(p.name), text: p.name })),
    W.el("td", { text: String(p.runs) }),
    W.el("td", {}, Object.entries(p.states).map(([state, n]) =>
      W.el("span", { class: `badge ${state}`, text: `${n} ${state}` }, ))
      .flatMap((b) => [b, " "])),
    W.el("td", { text: W.fmtTime(p.last_activity) })));
  main.append(W.el("div", { class: "card" }, W.el("table", { class: "plain", id: "projects" },
    W.el("thead", {}, W.el("tr", {}, ["Project", "Runs", "States", "Last activity"].map((h) => W.el("th", { text: h })))),
    W.el("tbody", {}, rows))));
}

document.addEventListener("DOMContentLoaded", showProjects);
