// Uploading documents: several files at once (dropped or chosen), each with its own progress bar
// (XHR upload progress) and its own result or error; a CSV/JSONL file gets its text, id and speaker
// columns picked first, from the server's reading of it (POST .../documents/columns).
import { $, el, pid, upload } from "./core.js";

const TABLES = /\.(csv|jsonl)$/i;

/** The columns of a .csv/.jsonl file, read by the server (nothing stored), with its guesses. */
async function preview(file) {
  const form = new FormData();
  form.append("file", file, file.name);
  return upload(`/projects/${pid()}/documents/columns`, form, null);
}

function columnPicker(file, cols) {
  const opts = (chosen, none) => [...(none ? [el("option", { value: "", text: "(none)" })] : []),
    ...cols.columns.map((c) => el("option", { value: c, text: c, selected: c === chosen }))];
  const id = `cols-${Math.random().toString(36).slice(2, 8)}`;
  const text = el("select", { id: `${id}-text` }, ...opts(cols.text_column || cols.columns[0]));
  const ident = el("select", { id: `${id}-id` }, ...opts(cols.id_column, true));
  const speaker = el("select", { id: `${id}-speaker` }, ...opts(cols.speaker_column, true));
  const first = (cols.sample || [])[0];
  const box = el("fieldset", { class: "columns" }, el("legend", { text: `Columns of ${file.name}` }),
    el("label", { for: text.id, text: "Text column" }), text, el("label", { for: ident.id, text: "Id column (names each row)" }), ident,
    el("label", { for: speaker.id, text: "Speaker column" }), speaker,
    first ? el("p", { class: "hint", text: `First row: ${Object.entries(first).map(([k, v]) => `${k}: ${String(v).slice(0, 60)}`).join(" · ")}` }) : null);
  return { box, values: () => ({ text_column: text.value, id_column: ident.value, ...(speaker.value ? { speaker_column: speaker.value } : {}) }) };
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
      try {
        const cols = await preview(file);
        if (cols.columns.length > 1) { columns = columnPicker(file, cols); row.append(columns.box); }
      } catch (e) {  // unreadable: refused now, with the server's reason (a malformed CSV: its line)
        state.textContent = `refused: ${e.message}`; row.classList.add("failed"); row.setAttribute("role", "alert");
        continue;
      }
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
