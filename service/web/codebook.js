// The codebook view: the tree of codes; the owner edits a code (name, definition, include/exclude,
// examples, colour), adds, moves, merges or splits codes (each a new codebook version, as the API
// does) and uploads a YAML/JSON/.qdc codebook.
import { $, S, api, el, isOwner, loadCodebook, pid, say, upload } from "./core.js";

let chosen = null;
export function reset() { chosen = null; }

export async function show() {
  await loadCodebook();
  $("book-title").textContent = `${S.book.name} · version ${S.book.version}`;
  for (const id of ["edit-form", "book-tools", "book-file-form"]) $(id).hidden = !isOwner();
  tree();
  const paths = S.codes.map((c) => c.path);
  const opts = (none) => [...(none ? [el("option", { value: "", text: none })] : []), ...paths.map((p) => el("option", { value: p, text: p }))];
  $("add-parent").replaceChildren(...opts("(top level)"));
  $("move-parent").replaceChildren(...opts("(top level)"));
  $("merge-codes").replaceChildren(...opts());
  edit(chosen && S.byPath[chosen] ? chosen : (S.codes[0] || {}).path);
}

function tree() {
  const build = (parent) => {
    const kids = S.codes.filter((c) => c.parent === parent);
    if (!kids.length) return null;
    return el("ul", { role: parent ? "group" : "tree", "aria-label": parent ? null : "Codes" }, ...kids.map((c) => el("li", { role: "treeitem", "aria-selected": String(c.path === chosen) },
      el("button", { type: "button", class: "code-node", onclick: () => edit(c.path) },
        el("span", { class: "swatch", style: `background: ${c.color}`, "aria-hidden": "true" }), c.name, el("span", { class: "hint", text: ` ${c.path}` })),
      build(c.path))));
  };
  $("book-tree").replaceChildren(build("") || el("p", { text: "No codes." }));
}

function edit(path) {
  chosen = path;
  const c = S.byPath[path];
  if (!c) return;
  tree();
  $("edit-legend").textContent = `Edit ${c.path}`;
  $("edit-name").value = c.name; $("edit-definition").value = c.definition || "";
  $("edit-include").value = c.include.join("\n"); $("edit-exclude").value = c.exclude.join("\n");
  $("edit-examples").value = c.examples.join("\n"); $("edit-color").value = c.color;
  $("move-code").textContent = c.path; $("split-code").textContent = c.path;
  $("book-detail").replaceChildren(el("h3", { text: c.name }), el("p", { text: c.definition }),
    ...(c.include.length ? [el("h4", { text: "Apply when" }), el("ul", {}, ...c.include.map((t) => el("li", { text: t })))] : []),
    ...(c.exclude.length ? [el("h4", { text: "Do not apply when" }), el("ul", {}, ...c.exclude.map((t) => el("li", { text: t })))] : []),
    ...(c.examples.length ? [el("h4", { text: "Examples" }), el("ul", {}, ...c.examples.map((t) => el("li", { text: t })))] : []));
}

const lines = (id) => $(id).value.split("\n").map((s) => s.trim()).filter(Boolean);
/** The codebook content with fn applied to the code at `path` (fn gets the raw item and its siblings). */
function changed(path, fn) {
  const content = structuredClone(S.book.content);
  const find = (items, parts) => {
    const i = items.findIndex((c) => c.id === parts[0]);
    if (i < 0) throw new Error(`no code ${path}`);
    if (parts.length === 1) fn(items[i], items, i);
    else find(items[i].children || [], parts.slice(1));
  };
  find(content.codes, path.split("/"));
  return content;
}
async function save(content, what) {
  try {
    const book = await api(`/projects/${pid()}/codebook`, { method: "PUT", json: content });
    say(`${what}: codebook version ${book.version}.`); await show();
  } catch (e) { say(`Not saved: ${e.message}`); }
}
const slug = (name) => name.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60) || "code";
function setList(item, k, v) { if (v.length) item[k] = v; else delete item[k]; }

$("edit-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  if (!chosen) return;
  const content = changed(chosen, (item) => {
    item.name = $("edit-name").value.trim(); item.definition = $("edit-definition").value.trim();
    setList(item, "include", lines("edit-include")); setList(item, "exclude", lines("edit-exclude")); setList(item, "examples", lines("edit-examples"));
    item.color = $("edit-color").value;
  });
  await save(content, `Saved ${chosen}`);
});

$("add-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = $("add-name").value.trim(), definition = $("add-definition").value.trim(), parent = $("add-parent").value;
  if (!name || !definition) { say("A new code needs a name and a definition."); return; }
  const item = { id: slug(name), name, definition };
  const content = parent ? changed(parent, (p) => { p.children = [...(p.children || []), item]; }) : structuredClone(S.book.content);
  if (!parent) content.codes.push(item);
  chosen = parent ? `${parent}/${item.id}` : item.id;
  $("add-name").value = ""; $("add-definition").value = "";
  await save(content, `Added ${chosen}`);
});

async function restructure(path, body, what) {
  try {
    const out = await api(`/projects/${pid()}/codebook/${path}`, { json: body });
    say(`${what}: codebook version ${out.codebook_version}, ${out.remapped} codings carried over.`);
    chosen = out.code || (out.codes || [])[0] || null;
    await show();
  } catch (e) { say(`Not done: ${e.message}`); }
}
$("move-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  restructure("move", { code: chosen, parent: $("move-parent").value || null }, `Moved ${chosen}`);
});
$("merge-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const codes = [...$("merge-codes").selectedOptions].map((o) => o.value);
  const name = $("merge-name").value.trim();
  if (codes.length < 2 || !name) { say("Choose two or more codes and a name for the merged code."); return; }
  restructure("merge", { codes, into: { name, definition: $("merge-definition").value.trim() || `Merged from ${codes.join(", ")}.` } }, `Merged ${codes.length} codes`);
});
$("split-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const names = lines("split-names");
  if (!names.length) { say("Give one new code name per line."); return; }
  restructure("split", { code: chosen, into: names.map((n) => ({ name: n, definition: `Split from ${chosen}.` })) }, `Split ${chosen}`);
});

$("book-file-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("book-file").files[0];
  if (!file) { say("Choose a codebook file first."); return; }
  const form = new FormData(); form.append("file", file, file.name);
  const path = /\.qdc$/i.test(file.name) ? "codebook/qdc" : "codebook/file";
  try {
    const out = await upload(`/projects/${pid()}/${path}`, form, null);
    const book = out.codebook || out;
    say(`Imported ${file.name}: codebook version ${book.version}.`); $("book-file").value = ""; await show();
  } catch (e) { say(`Could not import ${file.name}: ${e.message}`); }
});
