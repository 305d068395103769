// The project view: people (the owner adds and deactivates coders; each new token is shown once,
// with a copy button), jobs (suggest, retrain, cluster: progress with counts and ETA, a failed
// job's message in words), exports and the report, and the project's settings.
import { $, S, api, download, el, isOwner, pid, say, secret } from "./core.js";

let poll = null;

export function reset() { clearTimeout(poll); poll = null; $("coder-token").replaceChildren(); }

export async function show() {
  $("project-title").textContent = S.project.name;
  $("project-description").textContent = S.project.description || "";
  await Promise.all([people(), jobs(), settings()]);
}

// ---- people ---------------------------------------------------------------------------------------
async function people() {
  const coders = await api(`/projects/${pid()}/coders`);
  $("coder-list").replaceChildren(el("table", {}, el("caption", { class: "visually-hidden", text: "Coders" }),
    el("tr", {}, ...["coder", "role", "status", ""].map((h) => el("th", { scope: "col", text: h }))),
    ...coders.map((c) => el("tr", { class: c.active ? "" : "inactive" }, el("td", { text: c.name }), el("td", { text: c.role }),
      el("td", { text: c.active ? "active" : "deactivated" }),
      el("td", { class: "row-actions" }, isOwner() && c.id !== S.me.id ? el("button", { type: "button", text: c.active ? "Deactivate" : "Reactivate",
        "aria-label": `${c.active ? "Deactivate" : "Reactivate"} ${c.name}`, onclick: () => setActive(c, !c.active) }) : null,
      isOwner() && c.active ? el("button", { type: "button", text: "New token", "aria-label": `New token for ${c.name}`, onclick: () => rotate(c) }) : null)))));
  $("coder-form").hidden = !isOwner();
}

async function setActive(c, active) {
  try {
    await api(`/projects/${pid()}/coders/${c.id}`, { method: "PATCH", json: { active } });
    say(`${c.name} ${active ? "reactivated" : "deactivated"}${active ? "" : ": their token no longer works; their decisions stay"}.`);
    await people();
  } catch (e) { say(`Could not change ${c.name}: ${e.message}`); }
}

async function rotate(c) {
  try {
    const out = await api(`/projects/${pid()}/coders/${c.id}`, { method: "PATCH", json: { new_token: true } });
    $("coder-token").replaceChildren(secret(`New token for ${c.name}`, out.token));
    if (c.id === S.me.id) window.dispatchEvent(new CustomEvent("loupe:signin", { detail: { token: out.token } }));
  } catch (e) { say(`Could not issue a token: ${e.message}`); }
}

$("coder-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = $("coder-name").value.trim();
  if (!name) return;
  try {
    const made = await api(`/projects/${pid()}/coders`, { json: { name, role: $("coder-role").value } });
    $("coder-name").value = "";
    $("coder-token").replaceChildren(secret(`Token for ${made.name}`, made.token),
      el("p", { class: "hint", text: `Give it to ${made.name}: they sign in with it on this page (${location.origin}/ui/).` }));
    await people();
  } catch (e) { say(`Could not add ${name}: ${e.message}`); }
});

// ---- jobs -----------------------------------------------------------------------------------------
const secs = (ms) => {
  const s = Math.round(ms / 1000);
  return s < 90 ? `${s} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`;
};
function eta(j) {
  if (j.status !== "running" || !j.started_at || !j.total || !j.done) return "";
  const spent = Date.now() - Date.parse(j.started_at);
  return ` · about ${secs(spent / j.done * (j.total - j.done))} left`;
}
const KIND = { suggest: "Suggestions", retrain: "Retrain", cluster: "Clustering" };
function countsText(counts) {
  return Object.entries(counts || {}).filter(([, v]) => typeof v === "number" || typeof v === "string")
    .map(([k, v]) => `${k.replace(/_/g, " ")}: ${v}`).join(", ");
}

async function jobs() {
  const all = (await api(`/projects/${pid()}/jobs`)).sort((a, b) => b.id - a.id).slice(0, 8);
  $("job-buttons").hidden = !isOwner();
  $("job-list").replaceChildren(...all.map((j) => {
    const li = el("li", { class: `job ${j.status}`, "data-job": String(j.id) },
      el("strong", { text: `${KIND[j.kind] || j.kind} #${j.id}` }), ` · ${j.status}`,
      j.total ? ` · ${j.done} of ${j.total}` : "", eta(j));
    if (j.status === "running" || j.status === "queued") li.append(el("progress", { max: String(j.total || 1), value: String(j.done), "aria-label": `progress of job ${j.id}` }));
    if (j.status === "done" && countsText(j.counts)) li.append(el("div", { class: "hint", text: countsText(j.counts) }));
    if (j.status === "failed") li.append(el("p", { class: "error", role: "alert", text: `Failed${j.attempts > 1 ? ` after ${j.attempts} attempts` : ""}: ${j.error || "no message was recorded"}` }));
    return li;
  }));
  if (!all.length) $("job-list").replaceChildren(el("li", { class: "hint", text: "No jobs yet." }));
  clearTimeout(poll);
  if (all.some((j) => j.status === "queued" || j.status === "running")) poll = setTimeout(() => { if (S.view === "project") jobs(); else poll = null; }, 1000);
}

async function start(kind) {
  try {
    const j = await api(`/projects/${pid()}/jobs`, { json: { kind } });
    say(`${KIND[kind]} job #${j.id} ${j.status}.`);
    await jobs();
  } catch (e) { say(`Could not start ${kind}: ${e.message}`); }
}
for (const kind of Object.keys(KIND)) $(`job-${kind}`).addEventListener("click", () => start(kind));

// ---- exports and the report -----------------------------------------------------------------------
async function get(path, name) {
  try { await download(path, name); say(`Downloaded ${name}.`); } catch (e) { say(`Could not download ${name}: ${e.message}`); }
}
$("export-qdpx").addEventListener("click", () => get(`/projects/${pid()}/export.qdpx`, `project-${pid()}.qdpx`));
$("export-qdc").addEventListener("click", () => get(`/projects/${pid()}/codebook/export.qdc`, `project-${pid()}-codebook.qdc`));
for (const what of ["codings", "ledger"]) {
  $(`export-${what}`).addEventListener("click", () => {
    const fmt = $(`export-${what}-format`).value;
    get(`/projects/${pid()}/export/${what}?format=${fmt}`, `project-${pid()}-${what}.${fmt}`);
  });
}
$("open-report").addEventListener("click", async () => {
  const tab = window.open("", "_blank");
  try {
    const html = await api(`/projects/${pid()}/report.html`);
    const url = URL.createObjectURL(new Blob([html], { type: "text/html" }));
    if (tab) tab.location = url; else location.assign(url);
  } catch (e) { if (tab) tab.close(); say(`Report unavailable: ${e.message}`); }
});

// ---- settings -------------------------------------------------------------------------------------
async function settings() {
  $("settings-form").hidden = !isOwner();
  $("set-blind").checked = S.project.blind; $("set-hide").checked = S.project.hide_suggestions;
  $("set-threshold").value = String(S.project.threshold); $("set-retrain").value = String(S.project.retrain_every);
}
$("settings-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    S.project = await api(`/projects/${pid()}`, { method: "PATCH", json: { blind: $("set-blind").checked, hide_suggestions: $("set-hide").checked,
      threshold: Number($("set-threshold").value), retrain_every: Number($("set-retrain").value) } });
    say("Settings saved.");
  } catch (e) { say(`Settings not saved: ${e.message}`); }
});
