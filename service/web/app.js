// Loupe's review page: plain JavaScript over the REST API, no build step.
"use strict";

const S = {
  token: sessionStorage.getItem("loupe-token") || "",
  me: null, project: null, codes: [], byPath: {},
  queue: [], cursor: null, done: false, i: 0,
  decided: {},      // suggestion id (or "seg:<id>") -> the decision made in this session
  history: [],      // decisions made in this session, oldest first (for undo)
  memo: "", docs: {}, view: "review",
};
const $ = (id) => document.getElementById(id);
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k);
  return e;
};
const key = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
const pct = (x) => (x == null ? "—" : `${Math.round(x * 100)}%`);
const PALETTE = ["#0b57d0", "#b3261e", "#146c2e", "#8e24aa", "#e37400", "#00796b", "#5d4037", "#c2185b", "#455a64", "#827717"];

async function api(path, opts = {}) {
  const headers = { Authorization: `Bearer ${S.token}`, ...(opts.body ? { "Content-Type": "application/json" } : {}) };
  const r = await fetch(path, { ...opts, headers });
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = (await r.json()).detail || detail; } catch (_) { /* not JSON */ }
    const e = new Error(detail); e.status = r.status; throw e;
  }
  const type = r.headers.get("content-type") || "";
  if (type.startsWith("application/json")) return r.json();
  if (type.startsWith("image/")) return r.blob();
  return r.text();
}
const say = (msg) => { $("status").textContent = msg; };

// ---- sign in -------------------------------------------------------------------------------
async function signIn(token) {
  S.token = token;
  const before = S.project && S.project.id;
  S.me = await api("/me");
  S.project = await api(`/projects/${S.me.project_id}`);
  if (before !== S.project.id) {  // another project: nothing of the last one carries over
    Object.assign(S, { queue: [], cursor: null, done: false, i: 0, decided: {}, history: [], memo: "", docs: {} });
    $("doc-select").replaceChildren();
  }
  const book = await api(`/projects/${S.me.project_id}/codebook`);
  S.codes = []; S.byPath = {};
  const walk = (items, parent) => items.forEach((c) => {
    const path = parent ? `${parent}/${c.id}` : c.id;
    const code = { path, name: c.name, definition: c.definition, include: c.include || [], exclude: c.exclude || [], color: c.color };
    S.codes.push(code); S.byPath[path] = code;
    walk(c.children || [], path);
  });
  walk(book.content.codes, "");
  S.codes.forEach((c, k) => { if (!c.color) c.color = PALETTE[k % PALETTE.length]; });
  sessionStorage.setItem("loupe-token", token);
  const known = JSON.parse(sessionStorage.getItem("loupe-projects") || "{}");
  known[S.project.id] = { token, name: S.project.name };
  sessionStorage.setItem("loupe-projects", JSON.stringify(known));
  $("project-select").replaceChildren(...Object.entries(known).map(([id, p]) => el("option", { value: id, text: `${p.name} (#${id})` })));
  $("project-select").value = String(S.project.id);
  $("who").textContent = `${S.me.name} (${S.me.role}) · ${S.project.name}${S.project.blind ? " · blind mode" : ""}`;
  $("signin").hidden = true; $("nav").hidden = false;
  await show("review");
}

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("signin-error").textContent = "";
  try { await signIn($("token").value.trim()); } catch (e) {
    $("signin-error").textContent = e.status === 401 ? "That token is not valid." : `Could not sign in: ${e.message}`;
  }
});
$("signout").addEventListener("click", () => { sessionStorage.clear(); location.reload(); });
$("add-project").addEventListener("click", () => {
  for (const v of ["review", "document", "dashboard"]) $(v).hidden = true;
  $("signin").hidden = false; $("token").value = ""; $("token").focus();
});
$("project-select").addEventListener("change", async () => {  // each project has its own token
  const known = JSON.parse(sessionStorage.getItem("loupe-projects") || "{}");
  const chosen = known[$("project-select").value];
  if (chosen) await signIn(chosen.token);
});
document.querySelectorAll("#nav [data-view]").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));

async function show(view) {
  S.view = view;
  for (const v of ["review", "document", "dashboard"]) $(v).hidden = v !== view;
  document.querySelectorAll("#nav [data-view]").forEach((b) => (b.dataset.view === view ? b.setAttribute("aria-current", "page") : b.removeAttribute("aria-current")));
  if (view === "review") { if (!S.queue.length) await loadQueue(true); render(); refreshProgress(); }
  if (view === "document") await loadDocuments();
  if (view === "dashboard") await loadDashboard();
  $("main").focus();
}

// ---- the queue -------------------------------------------------------------------------------
async function loadQueue(reset) {
  if (reset) { S.queue = []; S.cursor = null; S.done = false; S.i = 0; }
  if (S.done) return;
  const q = new URLSearchParams({ limit: "50" });
  if (S.cursor) q.set("cursor", S.cursor);
  const page = await api(`/projects/${S.project.id}/queue?${q}`);
  S.queue.push(...page.items);
  S.cursor = page.next_cursor; S.done = !page.next_cursor;
}

async function docText(id) {
  if (!S.docs[id]) S.docs[id] = await api(`/projects/${S.project.id}/documents/${id}`);
  return S.docs[id];
}
const itemKey = (it) => (it.suggestion ? it.suggestion.id : `seg:${it.segment.id}`);

async function render() {
  const it = S.queue[S.i];
  const ctx = $("context"), card = $("card");
  ctx.replaceChildren(); card.replaceChildren();
  if (!it) {
    card.append(el("p", { text: "Nothing left to review in this queue. Well done." }));
    return;
  }
  const seg = it.segment, sug = it.suggestion;
  const doc = await docText(seg.document_id);
  const text = doc.text;
  let from = Math.max(0, seg.start - 700), to = Math.min(text.length, seg.end + 700);
  from = text.lastIndexOf("\n", from) + 1; const nl = text.indexOf("\n", to); to = nl < 0 ? text.length : nl;
  ctx.append(el("p", { class: "speaker", text: `${doc.name}${seg.speaker ? " · speaker: " + seg.speaker : ""}` }));
  const mark = el("mark", { "aria-label": "the passage under review" });
  const ev = sug && sug.evidence && sug.evidence.end > sug.evidence.start ? sug.evidence : null;
  if (ev && ev.start >= seg.start && ev.end <= seg.end) {
    mark.append(text.slice(seg.start, ev.start), el("span", { class: "evidence", title: "the sentence that drove the score", text: text.slice(ev.start, ev.end) }), text.slice(ev.end, seg.end));
  } else mark.append(text.slice(seg.start, seg.end));
  ctx.append(from > 0 ? "…" : "", text.slice(from, seg.start), mark, text.slice(seg.end, to), to < text.length ? "…" : "");
  mark.scrollIntoView({ block: "center" });

  const position = el("p", { class: "hint", text: `Item ${S.i + 1} of ${S.queue.length}${S.done ? "" : "+"}` });
  const actions = el("div", { class: "actions" });
  card.append(position, actions);
  const made = S.decided[itemKey(it)];
  if (sug) {
    const code = S.byPath[sug.code] || { name: sug.code, definition: "", include: [], exclude: [] };
    card.append(el("h3", { text: `${code.name}` }), el("p", { class: "hint", text: sug.code }),
      el("p", {}, "Score ", el("span", { class: "score", text: pct(sug.score) }), ` · ${sug.model}`),
      el("p", { text: code.definition }));
    if (code.include.length) card.append(el("h4", { text: "Apply when" }), el("ul", {}, ...code.include.map((t) => el("li", { text: t }))));
    if (code.exclude.length) card.append(el("h4", { text: "Do not apply when" }), el("ul", {}, ...code.exclude.map((t) => el("li", { text: t }))));
    if (sug.evidence && sug.evidence.llm) card.append(el("p", { class: "hint", text: `LLM: P(applies) ${pct(sug.evidence.llm.p_applies)} (${sug.evidence.llm.provenance.model})` }));
  } else {
    card.append(el("h3", { text: "Which code applies?" }), el("p", { class: "hint", text: "Suggestions are hidden in this project: press C to add a code, N to skip." }));
  }
  if (it.nearest_accepted && it.nearest_accepted.length) {
    card.append(el("h4", { text: "Already coded like this" }),
      el("ul", {}, ...it.nearest_accepted.slice(0, 3).map((n) => el("li", { text: `${n.text.slice(0, 220)} (${pct(n.similarity)} similar)` }))));
  }
  if (made) card.append(el("p", { class: `decided ${made.verdict}`, text: `Your decision: ${made.verdict}${made.new_code ? " → " + made.new_code : ""}` }));
  if (S.memo) card.append(el("p", { class: "hint", text: `Memo attached: “${S.memo.slice(0, 80)}”` }));
  const btn = (label, k, fn, disabled) => { const b = el("button", { type: "button", "aria-keyshortcuts": k, text: `${label} (${k})` }); b.disabled = !!disabled; b.addEventListener("click", fn); actions.append(b); };
  btn("Accept", "A", () => decide("accept"), !sug);
  btn("Reject", "R", () => decide("reject"), !sug);
  btn("Other code", "C", openPicker);
  btn("Memo", "M", openMemo);
  btn("Undo", "U", undo, !S.history.length);
  btn("Previous", "P", () => move(-1), S.i === 0);
  btn("Next", "N", () => move(1));
}

async function move(step) {
  const next = S.i + step;
  if (next < 0) return;
  if (next >= S.queue.length - 5 && !S.done) await loadQueue(false);
  S.i = Math.min(next, S.queue.length);
  await render();
}

async function decide(verdict, extra = {}) {
  const it = S.queue[S.i];
  if (!it) return;
  const body = { verdict, client_key: key(), ...extra };
  if (it.suggestion) body.suggestion_id = it.suggestion.id; else body.segment_id = it.segment.id;
  if (S.memo) body.memo = S.memo;
  try {
    const entry = await api(`/projects/${S.project.id}/decisions`, { method: "POST", body: JSON.stringify(body) });
    S.decided[itemKey(it)] = entry; S.history.push({ entry, index: S.i, key: itemKey(it) }); S.memo = "";
    say(`Saved: ${verdict}${entry.new_code ? " → " + entry.new_code : ""} (decision ${entry.id}).`);
    refreshProgress();
    await move(1);
  } catch (e) { say(`Not saved: ${e.message}`); }
}

async function undo() {
  const last = S.history.pop();
  if (!last) { say("Nothing to undo."); return; }
  try {
    await api(`/projects/${S.project.id}/decisions`, { method: "POST", body: JSON.stringify({ verdict: "undo", undoes: last.entry.id, client_key: key() }) });
    delete S.decided[last.key]; S.i = last.index;
    say(`Undone: decision ${last.entry.id}.`);
    refreshProgress(); await render();
  } catch (e) { S.history.push(last); say(`Could not undo: ${e.message}`); }
}

async function refreshProgress() {
  try {
    const p = await api(`/projects/${S.project.id}/progress`);
    const total = p.decided + p.remaining;
    const box = $("progress");
    box.replaceChildren(
      el("p", {}, el("strong", { text: `${p.decided} reviewed` }), ` · ${p.remaining} remaining · agreement with the model so far: ${pct(p.agreement_with_model)}`),
      Object.assign(el("progress", { max: String(total || 1), "aria-label": "review progress" }), { value: p.decided }));
    const table = el("table", {}, el("caption", { class: "visually-hidden", text: "Progress per code" }),
      el("tr", {}, ...["code", "reviewed", "remaining", "accepted", "rejected"].map((h) => el("th", { scope: "col", text: h }))),
      ...p.codes.filter((c) => c.suggested).map((c) => el("tr", {}, ...[c.code, c.decided, c.remaining, c.accepted, c.rejected].map((v) => el("td", { text: String(v) })))));
    const details = el("details", {}, el("summary", { text: "Per code" }), table);
    box.append(details);
  } catch (e) { $("progress").textContent = `Progress unavailable: ${e.message}`; }
}

// ---- dialogs -----------------------------------------------------------------------------------
let pickerSel = 0;
function pickerMatches() {
  const q = $("picker-search").value.toLowerCase();
  return S.codes.filter((c) => !q || c.path.toLowerCase().includes(q) || c.name.toLowerCase().includes(q) || c.definition.toLowerCase().includes(q));
}
function drawPicker() {
  const list = $("picker-list"); list.replaceChildren();
  pickerMatches().forEach((c, k) => {
    const li = el("li", { role: "option", id: `opt-${k}`, "aria-selected": String(k === pickerSel), text: `${c.name} — ${c.path}` });
    li.addEventListener("click", () => choose(c));
    list.append(li);
  });
  $("picker-search").setAttribute("aria-activedescendant", `opt-${pickerSel}`);
}
function openPicker() { pickerSel = 0; $("picker-search").value = ""; drawPicker(); $("picker").showModal(); $("picker-search").focus(); }
async function choose(code) {
  $("picker").close();
  const it = S.queue[S.i];
  if (!it) return;
  if (it.suggestion && it.suggestion.code !== code.path) await decide("replace", { new_code: code.path });
  else if (it.suggestion) await decide("accept");
  else await decide("add", { code: code.path });
}
$("picker-search").addEventListener("input", () => { pickerSel = 0; drawPicker(); });
$("picker-search").addEventListener("keydown", (ev) => {
  const n = pickerMatches().length;
  if (ev.key === "ArrowDown") { pickerSel = Math.min(n - 1, pickerSel + 1); drawPicker(); ev.preventDefault(); }
  if (ev.key === "ArrowUp") { pickerSel = Math.max(0, pickerSel - 1); drawPicker(); ev.preventDefault(); }
  if (ev.key === "Enter") { ev.preventDefault(); const c = pickerMatches()[pickerSel]; if (c) choose(c); }
});
$("picker-cancel").addEventListener("click", () => $("picker").close());

function openMemo() { $("memo-text").value = S.memo; $("memo").showModal(); $("memo-text").focus(); }
$("memo-form").addEventListener("submit", () => { S.memo = $("memo-text").value.trim(); render(); });
$("memo-text").addEventListener("keydown", (ev) => { if (ev.key === "Enter" && ev.ctrlKey) { ev.preventDefault(); S.memo = $("memo-text").value.trim(); $("memo").close(); render(); } });
$("memo-cancel").addEventListener("click", () => $("memo").close());

let bulkItems = [];
function openBulk() {
  const select = $("bulk-code"); select.replaceChildren(...S.codes.map((c) => el("option", { value: c.path, text: `${c.name} (${c.path})` })));
  const it = S.queue[S.i];
  if (it && it.suggestion) select.value = it.suggestion.code;
  bulkItems = []; $("bulk-list").replaceChildren(); $("bulk-confirm").disabled = true;
  $("bulk").showModal(); select.focus();
}
$("bulk-preview").addEventListener("click", async () => {
  const q = new URLSearchParams({ code: $("bulk-code").value, min_score: $("bulk-min").value, limit: "200" });
  const page = await api(`/projects/${S.project.id}/queue?${q}`);
  bulkItems = page.items.filter((i) => i.suggestion && i.suggestion.code === $("bulk-code").value);
  $("bulk-list").replaceChildren(el("p", { text: `${bulkItems.length} suggestions of ${$("bulk-code").value} scored ${$("bulk-min").value} or more.` }),
    el("ul", {}, ...bulkItems.slice(0, 8).map((i) => el("li", { text: `${pct(i.suggestion.score)} · ${i.segment.text.slice(0, 140)}` }))));
  $("bulk-confirm").disabled = !bulkItems.length;
  $("bulk-confirm").focus();
});
$("bulk-confirm").addEventListener("click", async () => {
  const items = bulkItems.map((i) => ({ suggestion_id: i.suggestion.id, verdict: "accept", client_key: key() }));
  const out = await api(`/projects/${S.project.id}/decisions/bulk`, { method: "POST", body: JSON.stringify({ items }) });
  $("bulk").close();
  say(`Bulk accept: ${out.stored} stored, ${out.failed} refused.`);
  await loadQueue(true); await render(); refreshProgress();
});
$("bulk-cancel").addEventListener("click", () => $("bulk").close());

// ---- keyboard -----------------------------------------------------------------------------------
document.addEventListener("keydown", (ev) => {
  if (S.view !== "review" || !S.project || document.querySelector("dialog[open]")) return;
  const t = ev.target.tagName;
  if (["INPUT", "TEXTAREA", "SELECT"].includes(t) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const it = S.queue[S.i];
  const actions = {
    a: () => it && it.suggestion && decide("accept"), r: () => it && it.suggestion && decide("reject"),
    c: openPicker, m: openMemo, u: undo, n: () => move(1), arrowright: () => move(1), p: () => move(-1), arrowleft: () => move(-1), b: openBulk,
  };
  const fn = actions[ev.key.toLowerCase()];
  if (fn) { ev.preventDefault(); fn(); }
});

// ---- documents ----------------------------------------------------------------------------------
async function loadDocuments() {
  const docs = await api(`/projects/${S.project.id}/documents?limit=500`);
  const sel = $("doc-select");
  if (!sel.options.length) {
    sel.replaceChildren(...docs.map((d) => el("option", { value: String(d.id), text: d.name })));
    $("doc-code").replaceChildren(el("option", { value: "", text: "All codes" }), ...S.codes.map((c) => el("option", { value: c.path, text: c.path })));
    const coders = await api(`/projects/${S.project.id}/coders`);
    $("doc-coder").replaceChildren(el("option", { value: "", text: "All coders" }), ...coders.map((c) => el("option", { value: c.name, text: c.name })));
  }
  await drawDocument();
}
async function drawDocument() {
  const id = $("doc-select").value;
  if (!id) { $("doc-text").textContent = "No documents yet."; return; }
  const [doc, codings] = await Promise.all([docText(id), api(`/projects/${S.project.id}/documents/${id}/codings`)]);
  const code = $("doc-code").value, coder = $("doc-coder").value;
  const shown = codings.filter((c) => (!code || c.code === code || c.code.startsWith(code + "/")) && (!coder || c.coder === coder));
  const cuts = new Set([0, doc.text.length]);
  shown.forEach((c) => { cuts.add(c.start); cuts.add(c.end); });
  const points = [...cuts].sort((a, b) => a - b);
  const box = $("doc-text"); box.replaceChildren();
  for (let k = 0; k < points.length - 1; k++) {
    const a = points[k], b = points[k + 1];
    const over = shown.filter((c) => c.start <= a && c.end >= b);
    const piece = doc.text.slice(a, b);
    if (!over.length) { box.append(piece); continue; }
    const color = (S.byPath[over[0].code] || {}).color || "#0b57d0";
    const span = el("span", { class: "coded", style: `--c: ${color}`, title: over.map((c) => `${c.code} (${c.coder})`).join("; "), text: piece });
    box.append(span);
  }
  const used = [...new Set(shown.map((c) => c.code))];
  $("doc-legend").replaceChildren(...used.map((p) => el("span", {}, el("span", { class: "swatch", style: `background: ${(S.byPath[p] || {}).color || "#0b57d0"}` }), p)),
    el("span", { class: "hint", text: ` · ${shown.length} codings shown` }));
}

// ---- dashboard ----------------------------------------------------------------------------------
async function loadDashboard() {
  const pid = S.project.id;
  const counts = (await api(`/projects/${pid}/code-counts`)).codes.filter((c) => c.segments > 0).sort((a, b) => b.segments - a.segments);
  const max = Math.max(1, ...counts.map((c) => c.segments));
  $("dash-codes").replaceChildren(counts.length ? el("table", {}, el("tr", {}, ...["code (with sub-codes)", "segments", "documents", "coders", ""].map((h) => el("th", { scope: "col", text: h }))),
    ...counts.map((c) => el("tr", {}, el("td", { text: c.code }), el("td", { text: String(c.segments) }), el("td", { text: String(c.documents) }),
      el("td", { text: String(c.coders) }), el("td", {}, el("span", { class: "bar", style: `width: ${Math.round(120 * c.segments / max)}px`, "aria-hidden": "true" })))))
    : el("p", { text: "No codings yet." }));
  try {
    const ag = await api(`/projects/${pid}/agreement?n_boot=0`);
    const metric = ["krippendorff", "cohen", "fleiss"].find((m) => ag.metrics.includes(m)) || ag.metrics[0];
    const table = el("table", {}, el("tr", {}, el("th", { scope: "col", text: "code" }), el("th", { scope: "col", text: `between coders (${metric})` }),
      ...Object.keys(ag.model_vs_coder).map((c) => el("th", { scope: "col", text: `model vs ${c}` }))));
    for (const code of Object.keys(ag.between_coders).length ? Object.keys(ag.between_coders) : Object.keys(Object.values(ag.model_vs_coder)[0] || {})) {
      const v = (ag.between_coders[code] || {})[metric];
      table.append(el("tr", {}, el("td", { text: code }), el("td", { text: v && v.value != null ? v.value.toFixed(3) : "—" }),
        ...Object.values(ag.model_vs_coder).map((m) => { const e = (m[code] || {})[metric]; return el("td", { text: e && e.value != null ? e.value.toFixed(3) : "—" }); })));
    }
    $("dash-agreement").replaceChildren(el("p", { class: "hint", text: `${ag.units} segments decided, ${ag.units_coded_by_two_or_more} by two or more coders.` }), table);
  } catch (e) {
    $("dash-agreement").replaceChildren(el("p", { text: e.status === 403 ? "Hidden in blind mode: only the project owner sees agreement." : `Agreement unavailable: ${e.message}` }));
  }
  try {
    const runs = await api(`/projects/${pid}/clusters/candidates`);
    const blob = await api(`/projects/${pid}/clusters/map.png`);
    const img = el("img", { class: "map", alt: `Map of the segments coloured by cluster and by top code; ${runs.clusters.length} candidate codes`, src: URL.createObjectURL(blob) });
    $("dash-clusters").replaceChildren(img, el("ul", {}, ...runs.clusters.map((c) => el("li", { text: `${c.name} (${c.size} segments, coverage ${pct(c.coverage)}, ${c.status}): ${c.definition}` }))));
  } catch (e) {
    $("dash-clusters").replaceChildren(el("p", { text: e.status === 404 ? "No clustering run yet (the owner can start one: POST /projects/{id}/jobs with kind \"cluster\")." : `Clusters unavailable: ${e.message}` }));
  }
}

for (const id of ["doc-select", "doc-code", "doc-coder"]) $(id).addEventListener("change", drawDocument);
if (S.token) signIn(S.token).catch(() => { sessionStorage.removeItem("loupe-token"); S.token = ""; });
