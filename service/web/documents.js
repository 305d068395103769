// The documents view: upload, the list (rename, delete), and one document's text with its codings
// as stacked underlines. Coding by selection: select any span, press C (or the button), pick a
// code: an `add` decision with the selection's exact start/end. A click on a coded span shows who
// coded it, with the memo, and undoes the caller's own.
import { $, S, api, colorOf, docText, el, isOwner, key, pickCode, pid, say, whereOf } from "./core.js";
import { wireUpload } from "./upload.js";

const D = { list: [], segments: {}, codings: [], selection: null };

export function reset() { Object.assign(D, { list: [], segments: {}, codings: [], selection: null }); $("doc-select").replaceChildren(); }

export async function show() {
  await refreshList();
  $("doc-code").replaceChildren(el("option", { value: "", text: "All codes" }), ...S.codes.map((c) => el("option", { value: c.path, text: c.path })));
  const coders = await api(`/projects/${pid()}/coders`);
  $("doc-coder").replaceChildren(el("option", { value: "", text: "All coders" }), ...coders.map((c) => el("option", { value: c.name, text: c.name })));
  await drawDocument();
}

async function refreshList() {
  D.list = await api(`/projects/${pid()}/documents?limit=1000`);
  const sel = $("doc-select"), before = sel.value;
  sel.replaceChildren(...D.list.map((d) => el("option", { value: String(d.id), text: d.name })));
  if (D.list.some((d) => String(d.id) === before)) sel.value = before;
  const rows = D.list.map((d) => el("tr", {},
    el("td", {}, el("button", { type: "button", class: "link", text: d.name, onclick: () => open(d.id) })),
    el("td", { text: d.format }), el("td", { text: String(d.segments) }),
    el("td", { class: "row-actions" },
      el("button", { type: "button", text: "Rename", "aria-label": `Rename ${d.name}`, onclick: () => rename(d) }),
      el("button", { type: "button", class: "danger", text: "Delete", "aria-label": `Delete ${d.name}`, hidden: !isOwner(), onclick: () => remove(d) }))));
  $("doc-list").replaceChildren(D.list.length
    ? el("table", {}, el("caption", { text: `${D.list.length} documents` }),
      el("tr", {}, ...["document", "format", "segments", ""].map((h) => el("th", { scope: "col", text: h }))), ...rows)
    : el("p", { class: "hint", text: "No documents yet: drop files above." }));
}

async function open(id) { $("doc-select").value = String(id); await drawDocument(); $("doc-text").focus(); }

async function rename(d) {
  const name = prompt(`New name for “${d.name}”`, d.name);
  if (!name || name.trim() === d.name) return;
  try {
    await api(`/projects/${pid()}/documents/${d.id}`, { method: "PATCH", json: { name: name.trim() } });
    delete S.docs[d.id]; say(`Renamed to “${name.trim()}”.`); await refreshList();
  } catch (e) { say(`Could not rename: ${e.message}`); }
}

async function remove(d) {
  const ok = await confirmBox(`Delete “${d.name}”?`, `Its ${d.segments} segments and their suggestions go. The ledger keeps every decision, with a tombstone entry; exports and agreement leave the document out.`, "Delete the document");
  if (!ok) return;
  try {
    await api(`/projects/${pid()}/documents/${d.id}`, { method: "DELETE" });
    delete S.docs[d.id]; say(`Deleted “${d.name}”.`); await refreshList(); await drawDocument();
  } catch (e) { say(`Could not delete: ${e.message}`); }
}

/** A confirmation dialog; resolves true when confirmed. */
export function confirmBox(title, text, okLabel) {
  $("confirm-title").textContent = title; $("confirm-text").textContent = text; $("confirm-ok").textContent = okLabel;
  $("confirm").showModal(); $("confirm-cancel").focus();
  return new Promise((resolve) => {
    const done = (v) => { $("confirm").close(); $("confirm-ok").onclick = null; $("confirm-cancel").onclick = null; resolve(v); };
    $("confirm-ok").onclick = () => done(true); $("confirm-cancel").onclick = () => done(false);
    $("confirm").onclose = () => resolve(false);
  });
}

async function segmentsOf(id) {
  if (!D.segments[id]) {
    const all = []; let after = 0;
    for (;;) {
      const page = await api(`/projects/${pid()}/segments?document_id=${id}&after=${after}&limit=1000`);
      all.push(...page);
      if (page.length < 1000) break;
      after = page[page.length - 1].id;
    }
    D.segments[id] = all;
  }
  return D.segments[id];
}

/** Lanes: each coding keeps one underline level over its whole span (greedy interval colouring). */
function lanes(codings) {
  const ends = [];
  return codings.map((c) => {
    let lane = ends.findIndex((e) => e <= c.start);
    if (lane < 0) { lane = ends.length; ends.push(0); }
    ends[lane] = c.end;
    return { ...c, lane };
  });
}

async function drawDocument() {
  const id = $("doc-select").value;
  const box = $("doc-text");
  if (!id) { box.textContent = "No documents yet."; $("doc-legend").replaceChildren(); return; }
  const [doc, codings, segs] = await Promise.all([docText(id), api(`/projects/${pid()}/documents/${id}/codings`), segmentsOf(id)]);
  const code = $("doc-code").value, coder = $("doc-coder").value;
  const shown = lanes(codings.filter((c) => (!code || c.code === code || c.code.startsWith(code + "/")) && (!coder || c.coder === coder))
    .sort((a, b) => a.start - b.start || b.end - a.end));
  D.codings = shown;
  const cuts = new Set([0, doc.text.length]);
  shown.forEach((c) => { cuts.add(c.start); cuts.add(c.end); });
  const marks = segs.filter((s) => s.page != null || s.start_s != null);
  marks.forEach((s) => cuts.add(s.start));
  const points = [...cuts].sort((a, b) => a - b);
  const atStart = new Map(marks.map((s) => [s.start, s]));
  box.replaceChildren();
  for (let k = 0; k < points.length - 1; k++) {
    const a = points[k], b = points[k + 1];
    const m = atStart.get(a);
    if (m) box.append(el("span", { class: "where", "data-where": whereOf(m), "aria-label": whereOf(m) }));
    const over = shown.filter((c) => c.start <= a && c.end >= b);
    const piece = doc.text.slice(a, b);
    if (!over.length) { box.append(piece); continue; }
    const depth = Math.max(...over.map((c) => c.lane)) + 1;
    const layers = over.map((c) => `linear-gradient(${colorOf(c.code)}, ${colorOf(c.code)}) 0 calc(100% - ${c.lane * 4}px) / 100% 3px no-repeat`);
    box.append(el("span", { class: "coded", "data-start": String(a), style: `background: ${layers.join(", ")}; padding-bottom: ${depth * 4 - 2}px`,
      title: over.map((c) => `${c.code} (${c.coder || "?"})`).join("; "), text: piece }));
  }
  box.dataset.doc = id;  // which document the text box shows, and how many times it was drawn
  box.dataset.drawn = String(Number(box.dataset.drawn || 0) + 1);
  const used = [...new Set(shown.map((c) => c.code))];
  $("doc-legend").replaceChildren(...used.map((p) => el("span", { class: "legend-item" }, el("span", { class: "swatch", style: `background: ${colorOf(p)}` }), p)),
    el("span", { class: "hint", text: ` · ${shown.length} codings shown · select text and press C to code it` }));
}


/** The offset in the document's text of a (node, offset) point inside the text box. */
function offsetOf(node, offset) {
  const box = $("doc-text");
  let n = 0;
  const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    if (t === node) return n + offset;
    n += t.data.length;
  }
  if (node === box) {  // a point between the box's children
    let m = 0;
    for (const child of [...box.childNodes].slice(0, offset)) m += child.textContent.length;
    return m;
  }
  return n;
}

function currentSelection() {
  const sel = getSelection();
  if (!sel.rangeCount || sel.isCollapsed) return null;
  const r = sel.getRangeAt(0);
  if (!$("doc-text").contains(r.commonAncestorContainer)) return null;
  const start = offsetOf(r.startContainer, r.startOffset), end = offsetOf(r.endContainer, r.endOffset);
  return end > start ? { start, end } : null;
}

document.addEventListener("selectionchange", () => {
  if (S.view !== "documents") return;
  D.selection = currentSelection();
  $("code-selection").disabled = !D.selection;
  $("selection-info").textContent = D.selection ? `${D.selection.end - D.selection.start} characters selected` : "";
});

async function codeSelection() {
  const sel = D.selection || currentSelection();
  const id = $("doc-select").value;
  if (!sel || !id) { say("Select some text in the document first."); return; }
  const segs = await segmentsOf(id);
  const overlap = (s) => Math.min(s.end, sel.end) - Math.max(s.start, sel.start);
  const seg = segs.reduce((best, s) => (overlap(s) > (best ? overlap(best) : 0) ? s : best), null);
  if (!seg) { say("That selection is outside every segment of the document."); return; }
  const code = await pickCode("Code the selection");
  if (!code) return;
  const memo = $("selection-memo").value.trim();
  try {
    const entry = await api(`/projects/${pid()}/decisions`, { json: { verdict: "add", segment_id: seg.id, code: code.path, start: sel.start, end: sel.end,
      client_key: key(), ...(memo ? { memo } : {}) } });
    $("selection-memo").value = "";
    getSelection().removeAllRanges();
    say(`Coded ${sel.end - sel.start} characters as ${code.path} (decision ${entry.id}).`);
    await drawDocument();
  } catch (e) { say(`Not coded: ${e.message}`); }
}

function spanInfo(ev) {
  const target = ev.target.closest(".coded");
  if (!target || currentSelection()) return;  // a selection is being made, not a click
  const at = Number(target.dataset.start);
  const here = D.codings.filter((c) => c.start <= at && c.end > at);
  const pop = $("span-info");
  pop.replaceChildren(el("h3", { text: "Coded here" }), el("ul", {}, ...here.map((c) => el("li", {},
    el("span", { class: "swatch", style: `background: ${colorOf(c.code)}` }), el("strong", { text: c.code }), ` by ${c.coder || "?"}`,
    el("span", { class: "hint", text: ` · characters ${c.start}–${c.end}` }),
    c.memo ? el("p", { class: "memo", text: `Memo: ${c.memo}` }) : null,
    c.coder === S.me.name ? el("div", {}, el("button", { type: "button", text: "Undo my coding", "aria-label": `Undo my coding: ${c.code}`, onclick: () => undoCoding(c) })) : null))),
  el("button", { type: "button", text: "Close", onclick: () => pop.close() }));
  pop.showModal();
}

async function undoCoding(c) {
  try {
    await api(`/projects/${pid()}/decisions`, { json: { verdict: "undo", undoes: c.decision_id, client_key: key() } });
    $("span-info").close(); say(`Undone: ${c.code} (decision ${c.decision_id}).`); await drawDocument();
  } catch (e) { say(`Could not undo: ${e.message}`); }
}

for (const id of ["doc-select", "doc-code", "doc-coder"]) $(id).addEventListener("change", drawDocument);
$("code-selection").addEventListener("mousedown", (ev) => ev.preventDefault());  // keep the selection
$("code-selection").addEventListener("click", codeSelection);
$("doc-text").addEventListener("click", spanInfo);
wireUpload(async () => { await refreshList(); if (!$("doc-select").value && D.list.length) $("doc-select").value = String(D.list[0].id); await drawDocument(); });

export function onKey(ev) {
  if (ev.key.toLowerCase() === "c" && currentSelection()) { codeSelection(); return true; }
  return false;
}
