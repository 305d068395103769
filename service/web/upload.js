// Uploading documents: several files at once (dropped or chosen), each with its own progress bar
// (XHR upload progress) and its own result or error; a CSV/JSONL file gets its text and id columns
// picked from its header first.
import { $, el, pid, upload } from "./core.js";

const TABLES = /\.(csv|jsonl)$/i;

/** The header of a CSV (first line) or the keys of a JSONL file's first object. */
async function columnsOf(file) {
  const head = await file.slice(0, 64 * 1024).text();
  const first = head.split(/\r?\n/).find((l) => l.trim()) || "";
  if (/\.jsonl$/i.test(file.name)) {
    try { return Object.keys(JSON.parse(first)); } catch (_) { return []; }
  }
  const out = []; let cur = "", quoted = false;
  for (const ch of first) {
    if (ch === '"') quoted = !quoted;
    else if (ch === "," && !quoted) { out.push(cur.trim()); cur = ""; } else cur += ch;
  }
  out.push(cur.trim());
  return out.filter(Boolean);
}

function columnPicker(file, columns) {
  const guess = (names) => columns.find((c) => names.includes(c.toLowerCase())) || "";
  const opts = (chosen, none) => [...(none ? [el("option", { value: "", text: "(none)" })] : []),
    ...columns.map((c) => el("option", { value: c, text: c, selected: c === chosen }))];
  const id = `cols-${Math.random().toString(36).slice(2, 8)}`;
  const text = el("select", { id: `${id}-text` }, ...opts(guess(["text", "body", "content", "answer", "response"]) || columns[0]));
  const ident = el("select", { id: `${id}-id` }, ...opts(guess(["id", "respondent", "row"]), true));
  const box = el("fieldset", { class: "columns" }, el("legend", { text: `Columns of ${file.name}` }),
    el("label", { for: text.id, text: "Text column" }), text, el("label", { for: ident.id, text: "Id column (names each row)" }), ident);
  return { box, values: () => ({ text_column: text.value, id_column: ident.value }) };
}

/** Upload the files, one row each; onDone() after each file that stored documents. */
export async function uploadFiles(files, onDone) {
  const list = $("upload-list");
  const rows = [];
  for (const file of files) {
    const bar = el("progress", { max: "1", value: "0", "aria-label": `upload of ${file.name}` });
    const state = el("span", { class: "upload-state", text: "waiting" });
    const row = el("li", { class: "upload-row" }, el("span", { class: "upload-name", text: file.name }), bar, state);
    list.prepend(row);
    let columns = null;
    if (TABLES.test(file.name)) {
      const cols = await columnsOf(file);
      if (cols.length > 1) { columns = columnPicker(file, cols); row.append(columns.box); }
    }
    rows.push({ file, bar, state, row, columns });
  }
  const pending = rows.filter((r) => r.columns);
  if (pending.length) {
    await new Promise((resolve) => {
      const go = el("button", { type: "button", class: "primary", text: `Upload with these columns`, onclick: () => { go.remove(); resolve(); } });
      list.prepend(el("li", {}, go)); go.focus();
    });
  }
  const one = async ({ file, bar, state, row, columns }) => {
    const form = new FormData();
    form.append("file", file, file.name);
    if (columns) for (const [k, v] of Object.entries(columns.values())) form.append(k, v);
    state.textContent = "uploading";
    try {
      const docs = await upload(`/projects/${pid()}/documents`, form, (n, total) => { bar.max = total || file.size || 1; bar.value = n; });
      if (columns) columns.box.remove();
      bar.value = bar.max;
      const segs = docs.reduce((a, d) => a + (d.segments || 0), 0);
      state.textContent = docs.length === 1 ? `stored: ${segs} segments` : `stored: ${docs.length} documents, ${segs} segments`;
      row.classList.add("ok");
      onDone(docs);
    } catch (e) {
      state.textContent = `refused: ${e.message}`;
      row.classList.add("failed"); row.setAttribute("role", "alert");
    }
  };
  const queue = [...rows];
  const worker = async () => { while (queue.length) await one(queue.shift()); };
  await Promise.all([worker(), worker()]);  // two at a time: each file's progress stays readable
}

export function wireUpload(onDone) {
  const zone = $("dropzone");
  zone.addEventListener("dragover", (ev) => { ev.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (ev) => {
    ev.preventDefault(); zone.classList.remove("over");
    if (ev.dataTransfer.files.length) uploadFiles([...ev.dataTransfer.files], onDone);
  });
  $("upload-input").addEventListener("change", () => {
    const files = [...$("upload-input").files];
    $("upload-input").value = "";
    if (files.length) uploadFiles(files, onDone);
  });
}
