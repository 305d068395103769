// The review view: the caller's queue, one suggestion at a time, decided with the keyboard;
// memo, undo, bulk accept (after a preview), and the caller's progress.
import { $, S, api, docText, el, key, pct, pickCode, pid, say, whereOf } from "./core.js";

const R = { queue: [], cursor: null, done: false, i: 0, decided: {}, history: [], memo: "" };

export function reset() { Object.assign(R, { queue: [], cursor: null, done: false, i: 0, decided: {}, history: [], memo: "" }); }

export async function show() {
  if (!R.queue.length || R.i >= R.queue.length) await loadQueue(true);  // empty or finished: new suggestions may have come
  await render(); refreshProgress();
}

async function loadQueue(fromStart) {
  if (fromStart) { R.queue = []; R.cursor = null; R.done = false; R.i = 0; }
  if (R.done) return;
  const q = new URLSearchParams({ limit: "50" });
  if (R.cursor) q.set("cursor", R.cursor);
  const page = await api(`/projects/${pid()}/queue?${q}`);
  R.queue.push(...page.items);
  R.cursor = page.next_cursor; R.done = !page.next_cursor;
}

const itemKey = (it) => (it.suggestion ? it.suggestion.id : `seg:${it.segment.id}`);

async function render() {
  const it = R.queue[R.i];
  const ctx = $("context"), card = $("card");
  ctx.replaceChildren(); card.replaceChildren();
  if (!it) {
    card.append(el("p", { text: R.queue.length ? "Nothing left to review in this queue. Well done." : "Nothing to review yet." }),
      el("p", { class: "hint", text: "Suggestions come from a suggest job: upload documents, then start one under Project (owners)." }));
    return;
  }
  const seg = it.segment, sug = it.suggestion;
  const doc = await docText(seg.document_id);
  const text = doc.text;
  let from = Math.max(0, seg.start - 700), to = Math.min(text.length, seg.end + 700);
  from = text.lastIndexOf("\n", from) + 1; const nl = text.indexOf("\n", to); to = nl < 0 ? text.length : nl;
  const where = [doc.name, seg.speaker ? `speaker: ${seg.speaker}` : "", whereOf(seg)].filter(Boolean).join(" · ");
  ctx.append(el("p", { class: "speaker", text: where }));
  const mark = el("mark", { "aria-label": "the passage under review" });
  const ev = sug && sug.evidence && sug.evidence.end > sug.evidence.start ? sug.evidence : null;
  if (ev && ev.start >= seg.start && ev.end <= seg.end) {
    mark.append(text.slice(seg.start, ev.start), el("span", { class: "evidence", title: "the sentence that drove the score", text: text.slice(ev.start, ev.end) }), text.slice(ev.end, seg.end));
  } else mark.append(text.slice(seg.start, seg.end));
  ctx.append(from > 0 ? "…" : "", text.slice(from, seg.start), mark, text.slice(seg.end, to), to < text.length ? "…" : "");
  ctx.scrollTop = Math.max(0, mark.offsetTop - ctx.offsetTop - ctx.clientHeight / 3);

  const actions = el("div", { class: "actions" });
  card.append(el("p", { class: "hint", text: `Item ${R.i + 1} of ${R.queue.length}${R.done ? "" : "+"}` }), actions);
  const made = R.decided[itemKey(it)];
  if (sug) {
    const code = S.byPath[sug.code] || { name: sug.code, definition: "", include: [], exclude: [] };
    card.append(el("h3", {}, el("span", { class: "swatch", style: `background: ${code.color || "#0b57d0"}`, "aria-hidden": "true" }), code.name),
      el("p", { class: "hint" }, `${sug.code} · score `, el("span", { class: "score", text: pct(sug.score) }), ` · ${sug.model}`));
    if (made) card.append(el("p", { class: `decided ${made.verdict}`, text: `Your decision: ${made.verdict}${made.new_code ? " → " + made.new_code : ""}` }));
    card.append(el("p", { class: "definition", text: code.definition }));
    const more = el("details", { open: window.innerWidth > 800 }, el("summary", { text: "Criteria and similar passages" }));
    if (code.include.length) more.append(el("h4", { text: "Apply when" }), el("ul", {}, ...code.include.map((t) => el("li", { text: t }))));
    if (code.exclude.length) more.append(el("h4", { text: "Do not apply when" }), el("ul", {}, ...code.exclude.map((t) => el("li", { text: t }))));
    if (sug.evidence && sug.evidence.llm) more.append(el("p", { class: "hint", text: `LLM: P(applies) ${pct(sug.evidence.llm.p_applies)} (${sug.evidence.llm.provenance.model})` }));
    if (it.nearest_accepted && it.nearest_accepted.length) {
      more.append(el("h4", { text: "Already coded like this" }),
        el("ul", {}, ...it.nearest_accepted.slice(0, 3).map((n) => el("li", { text: `${n.text.slice(0, 220)} (${pct(n.similarity)} similar)` }))));
    }
    if (more.children.length > 1) card.append(more);
  } else {
    card.append(el("h3", { text: "Which code applies?" }), el("p", { class: "hint", text: "Suggestions are hidden in this project: press C to add a code, N to skip." }));
    if (made) card.append(el("p", { class: `decided ${made.verdict}`, text: `Your decision: ${made.verdict} ${made.code}` }));
  }
  if (R.memo) card.append(el("p", { class: "hint", text: `Memo attached: “${R.memo.slice(0, 80)}”` }));
  const btn = (label, k, fn, disabled) => actions.append(el("button", { type: "button", "aria-keyshortcuts": k, text: `${label} (${k})`, disabled: !!disabled, onclick: fn }));
  btn("Accept", "A", () => decide("accept"), !sug);
  btn("Reject", "R", () => decide("reject"), !sug);
  btn("Other code", "C", other);
  btn("Memo", "M", openMemo);
  btn("Undo", "U", undo, !R.history.length);
  btn("Previous", "P", () => move(-1), R.i === 0);
  btn("Next", "N", () => move(1));
}

async function move(step) {
  const next = R.i + step;
  if (next < 0) return;
  if (next >= R.queue.length - 5 && !R.done) await loadQueue(false);
  R.i = Math.min(next, R.queue.length);
  await render();
}

async function decide(verdict, extra = {}) {
  const it = R.queue[R.i];
  if (!it) return;
  const body = { verdict, client_key: key(), ...extra };
  if (it.suggestion) body.suggestion_id = it.suggestion.id; else body.segment_id = it.segment.id;
  if (R.memo) body.memo = R.memo;
  try {
    const entry = await api(`/projects/${pid()}/decisions`, { json: body });
    R.decided[itemKey(it)] = entry; R.history.push({ entry, index: R.i, key: itemKey(it) }); R.memo = "";
    say(`Saved: ${verdict}${entry.new_code ? " → " + entry.new_code : ""} (decision ${entry.id}).`);
    refreshProgress();
    await move(1);
  } catch (e) { say(`Not saved: ${e.message}`); }
}

async function undo() {
  const last = R.history.pop();
  if (!last) { say("Nothing to undo."); return; }
  try {
    await api(`/projects/${pid()}/decisions`, { json: { verdict: "undo", undoes: last.entry.id, client_key: key() } });
    delete R.decided[last.key]; R.i = last.index;
    say(`Undone: decision ${last.entry.id}.`);
    refreshProgress(); await render();
  } catch (e) { R.history.push(last); say(`Could not undo: ${e.message}`); }
}

async function refreshProgress() {
  try {
    const p = await api(`/projects/${pid()}/progress`);
    const total = p.decided + p.remaining;
    const table = el("table", {}, el("caption", { class: "visually-hidden", text: "Progress per code" }),
      el("tr", {}, ...["code", "reviewed", "remaining", "accepted", "rejected"].map((h) => el("th", { scope: "col", text: h }))),
      ...p.codes.filter((c) => c.suggested).map((c) => el("tr", {}, ...[c.code, c.decided, c.remaining, c.accepted, c.rejected].map((v) => el("td", { text: String(v) })))));
    $("progress").replaceChildren(
      el("span", {}, el("strong", { text: `${p.decided} reviewed` }), ` · ${p.remaining} remaining · accepted ${pct(p.agreement_with_model)} of the model's`),
      el("progress", { max: String(total || 1), value: String(p.decided), "aria-label": "review progress" }),
      el("details", {}, el("summary", { text: "Per code" }), table));
  } catch (e) { $("progress").textContent = `Progress unavailable: ${e.message}`; }
}

async function other() {
  const code = await pickCode("Choose another code");
  const it = R.queue[R.i];
  if (!code || !it) return;
  if (it.suggestion && it.suggestion.code !== code.path) await decide("replace", { new_code: code.path });
  else if (it.suggestion) await decide("accept");
  else await decide("add", { code: code.path });
}

function openMemo() { $("memo-text").value = R.memo; $("memo").showModal(); $("memo-text").focus(); }
const keepMemo = () => { R.memo = $("memo-text").value.trim(); render(); };
$("memo-form").addEventListener("submit", keepMemo);
$("memo-text").addEventListener("keydown", (ev) => { if (ev.key === "Enter" && ev.ctrlKey) { ev.preventDefault(); $("memo").close(); keepMemo(); } });
$("memo-cancel").addEventListener("click", () => $("memo").close());

let bulkItems = [];
function openBulk() {
  const select = $("bulk-code"); select.replaceChildren(...S.codes.map((c) => el("option", { value: c.path, text: `${c.name} (${c.path})` })));
  const it = R.queue[R.i];
  if (it && it.suggestion) select.value = it.suggestion.code;
  bulkItems = []; $("bulk-list").replaceChildren(); $("bulk-confirm").disabled = true;
  $("bulk").showModal(); select.focus();
}
const stale = () => { bulkItems = []; $("bulk-confirm").disabled = true; $("bulk-list").replaceChildren(el("p", { class: "hint", text: "Preview first: nothing is accepted before it." })); };
$("bulk-code").addEventListener("change", stale); $("bulk-min").addEventListener("input", stale);
$("bulk-preview").addEventListener("click", async () => {
  const q = new URLSearchParams({ code: $("bulk-code").value, min_score: $("bulk-min").value, limit: "200" });
  const page = await api(`/projects/${pid()}/queue?${q}`);
  bulkItems = page.items.filter((i) => i.suggestion && i.suggestion.code === $("bulk-code").value);
  $("bulk-list").replaceChildren(el("p", { text: `${bulkItems.length} suggestions of ${$("bulk-code").value} scored ${$("bulk-min").value} or more.` }),
    el("ul", {}, ...bulkItems.slice(0, 8).map((i) => el("li", { text: `${pct(i.suggestion.score)} · ${i.segment.text.slice(0, 140)}` }))));
  $("bulk-confirm").disabled = !bulkItems.length;
  $("bulk-confirm").focus();
});
$("bulk-confirm").addEventListener("click", async () => {
  const items = bulkItems.map((i) => ({ suggestion_id: i.suggestion.id, verdict: "accept", client_key: key() }));
  const out = await api(`/projects/${pid()}/decisions/bulk`, { json: { items } });
  $("bulk").close();
  say(`Bulk accept: ${out.stored} stored, ${out.failed} refused.`);
  await loadQueue(true); await render(); refreshProgress();
});
$("bulk-cancel").addEventListener("click", () => $("bulk").close());

/** The view's keys; true when the key was used. */
export function onKey(ev) {
  const it = R.queue[R.i];
  const actions = {
    a: () => it && it.suggestion && decide("accept"), r: () => it && it.suggestion && decide("reject"),
    c: other, m: openMemo, u: undo, n: () => move(1), arrowright: () => move(1), p: () => move(-1), arrowleft: () => move(-1), b: openBulk,
  };
  const fn = actions[ev.key.toLowerCase()];
  if (fn) fn();
  return !!fn;
}
