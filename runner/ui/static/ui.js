// runner's pages: refresh what is still running, and fold JSON bodies. The pages work without it.
// Same-origin only (the Content-Security-Policy allows nothing else); text goes in as text, never
// as markup, except the server's own escaped fragments, parsed with DOMParser.
"use strict";

const REFRESH_MS = 2000;

function parseFragment(html, wrap) {
  const doc = new DOMParser().parseFromString(wrap ? `<table>${html}</table>` : html, "text/html");
  return doc;
}

function stale(message) {
  if (document.querySelector(".stale")) return;
  const note = document.createElement("p");
  note.className = "stale";
  note.textContent = message;
  document.querySelector("main").prepend(note);
}

async function fetchText(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } });
  if (response.status === 401) { stale("Your session ended: reload the page to log in again."); return null; }
  if (!response.ok) return null;
  return response.text();
}

// The jobs page: its rows again while it is the newest page or shows unfinished jobs.
function refreshJobs() {
  const table = document.querySelector("table.jobs[data-refresh]");
  if (!table) return;
  const base = table.dataset.refresh;
  const newest = !new URL(base, location.href).searchParams.has("before");
  const tick = async () => {
    const unfinished = table.querySelector('tr[data-status="queued"], tr[data-status="running"]');
    if (!document.hidden && (newest || unfinished)) {
      const sep = base.includes("?") ? "&" : "?";
      const html = await fetchText(`${base}${sep}partial=rows`);
      if (html === null) return;
      const rows = parseFragment(html, true).getElementById("job-rows");
      const current = document.getElementById("job-rows");
      if (rows && current) current.replaceWith(rows);
    }
    setTimeout(tick, REFRESH_MS);
  };
  setTimeout(tick, REFRESH_MS);
}

// A job page: the job again until it has finished.
function refreshJob() {
  const tick = async () => {
    const main = document.getElementById("job-main");
    if (!main || !main.dataset.refresh) return;
    if (!document.hidden) {
      const html = await fetchText(main.dataset.refresh);
      if (html === null) return;
      const fresh = parseFragment(html, false).getElementById("job-main");
      if (fresh) { main.replaceWith(fresh); foldJson(fresh); }
    }
    setTimeout(tick, REFRESH_MS);
  };
  setTimeout(tick, REFRESH_MS);
}

// pre.json -> a tree of <details>: objects and lists fold, leaves stay text.
function node(key, value, depth) {
  const label = (text) => {
    const span = document.createElement("span");
    span.className = "key";
    span.textContent = text;
    return span;
  };
  if (value !== null && typeof value === "object") {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    const details = document.createElement("details");
    details.open = depth < 2 || entries.length <= 3;
    const summary = document.createElement("summary");
    if (key !== null) { summary.append(label(`${key}: `)); }
    summary.append(Array.isArray(value) ? `[ ${entries.length} item${entries.length === 1 ? "" : "s"} ]`
                                        : `{ ${entries.length} key${entries.length === 1 ? "" : "s"} }`);
    details.append(summary);
    for (const [k, v] of entries) details.append(node(k, v, depth + 1));
    return details;
  }
  const leaf = document.createElement("div");
  leaf.className = "leaf";
  if (key !== null) leaf.append(label(`${key}: `));
  const text = document.createElement("span");
  text.className = typeof value === "string" ? "str" : typeof value === "number" ? "num" : "lit";
  text.textContent = JSON.stringify(value);
  leaf.append(text);
  return leaf;
}

function foldJson(root) {
  for (const pre of root.querySelectorAll("pre.json")) {
    let value;
    try { value = JSON.parse(pre.textContent); } catch { continue; }
    if (value === null || typeof value !== "object") continue;
    const tree = document.createElement("div");
    tree.className = "tree";
    tree.append(node(null, value, 0));
    pre.replaceWith(tree);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  foldJson(document);
  refreshJobs();
  refreshJob();
});
