// The page's shared pieces: state, DOM helpers, the API client (fetch, and XHR for uploads with
// progress), the codebook walk and the searchable code picker. Every view imports from here; this
// module imports nothing, so the views never depend on each other.

export const S = {
  token: sessionStorage.getItem("loupe-token") || "",
  me: null, project: null, book: null, codes: [], byPath: {},
  docs: {}, view: "review",
};
export const $ = (id) => document.getElementById(id);
export const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids) if (k !== null && k !== undefined) e.append(k);
  return e;
};
export const key = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
export const pct = (x) => (x == null ? "—" : `${Math.round(x * 100)}%`);
export const PALETTE = ["#0b57d0", "#b3261e", "#146c2e", "#8e24aa", "#e37400", "#00796b", "#5d4037", "#c2185b", "#455a64", "#827717"];
let sayTimer = null;
/** A short message in the status line; it goes after a while (the next message replaces it). */
export const say = (msg) => {
  $("status").textContent = msg;
  clearTimeout(sayTimer); sayTimer = setTimeout(() => { $("status").textContent = ""; }, 8000);
};
export const pid = () => S.project.id;
export const isOwner = () => S.me && S.me.role === "owner";

/** The words of an error answer ({"error", "detail"} or FastAPI's {"detail": [...]}) for a person. */
export function words(body, fallback) {
  if (!body) return fallback;
  const d = body.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) return d.map((x) => `${(x.loc || []).slice(1).join(".")}: ${x.msg}`).join("; ");
  if (body.error) return String(body.error).replace(/_/g, " ");
  return fallback;
}

export async function api(path, opts = {}) {
  const token = opts.token !== undefined ? opts.token : S.token;
  const headers = { ...(token ? { Authorization: `Bearer ${token}` } : {}) };
  let body = opts.body;
  if (opts.json !== undefined) { headers["Content-Type"] = "application/json"; body = JSON.stringify(opts.json); }
  const r = await fetch(path, { method: opts.method || (body ? "POST" : "GET"), headers, body });
  if (!r.ok) {
    let detail = r.statusText;
    try { detail = words(await r.json(), detail); } catch (_) { /* not JSON */ }
    const e = new Error(detail); e.status = r.status; throw e;
  }
  if (opts.raw) return r;
  const type = r.headers.get("content-type") || "";
  if (type.startsWith("application/json")) return r.json();
  if (type.startsWith("image/")) return r.blob();
  return r.text();
}

/** POST a FormData with upload progress: onProgress(loaded, total). Resolves to the JSON answer. */
export function upload(path, form, onProgress, token = S.token) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open("POST", path);
    if (token) x.setRequestHeader("Authorization", `Bearer ${token}`);
    x.upload.addEventListener("progress", (ev) => onProgress && onProgress(ev.loaded, ev.lengthComputable ? ev.total : 0));
    x.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(x.responseText); } catch (_) { /* not JSON */ }
      if (x.status >= 200 && x.status < 300) resolve(body);
      else { const e = new Error(words(body, `${x.status} ${x.statusText}`)); e.status = x.status; reject(e); }
    });
    x.addEventListener("error", () => reject(new Error("the connection failed")));
    x.send(form);
  });
}

/** Fetch a file with the token and hand it to the browser as a download. */
export async function download(path, filename) {
  const r = await api(path, { raw: true });
  const cd = r.headers.get("content-disposition") || "";
  const m = cd.match(/filename="?([^";]+)"?/);
  const url = URL.createObjectURL(await r.blob());
  const a = el("a", { href: url, download: (m && m[1]) || filename });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export async function docText(id) {
  if (!S.docs[id]) S.docs[id] = await api(`/projects/${pid()}/documents/${id}`);
  return S.docs[id];
}
/** Where a segment sits in its source: the PDF page, the caption times. */
export const whereOf = (s) => [s.page != null ? `p. ${s.page}` : "", s.start_s != null ? clock(s.start_s) + (s.end_s != null ? `–${clock(s.end_s)}` : "") : ""].filter(Boolean).join(" · ");
const clock = (t) => { const h = Math.floor(t / 3600), m = Math.floor((t % 3600) / 60), s = Math.floor(t % 60); return `${h ? h + ":" : ""}${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`; };

// ---- the codebook ---------------------------------------------------------------------------------
export async function loadCodebook() {
  S.book = await api(`/projects/${pid()}/codebook`);
  S.codes = []; S.byPath = {};
  const walk = (items, parent, depth) => items.forEach((c) => {
    const path = parent ? `${parent}/${c.id}` : c.id;
    const code = { ...c, path, depth, parent, include: c.include || [], exclude: c.exclude || [], examples: c.examples || [] };
    S.codes.push(code); S.byPath[path] = code;
    walk(c.children || [], path, depth + 1);
  });
  walk(S.book.content.codes, "", 0);
  // a code without a colour of its own: the top-level codes take the palette, their sub-codes
  // hues spread by the golden angle, so neighbours differ and every colour reads on white
  S.codes.forEach((c, k) => { if (!c.color) c.color = c.depth === 0 && k < PALETTE.length ? PALETTE[k] : `hsl(${Math.round((k * 137.508) % 360)} 70% 38%)`; });
}
export const colorOf = (path) => (S.byPath[path] || {}).color || "#0b57d0";

// ---- the searchable code picker (one dialog, used by review and by coding a selection) ----------
let pickerSel = 0, pickerDone = null;
function matches() {
  const q = $("picker-search").value.toLowerCase();
  return S.codes.filter((c) => c.codable !== false).filter((c) => !q || c.path.toLowerCase().includes(q)
    || c.name.toLowerCase().includes(q) || (c.definition || "").toLowerCase().includes(q));
}
function drawPicker() {
  const list = $("picker-list"); list.replaceChildren();
  matches().forEach((c, k) => {
    list.append(el("li", { role: "option", id: `opt-${k}`, "aria-selected": String(k === pickerSel), onclick: () => finish(c) },
      el("span", { class: "swatch", style: `background: ${c.color}`, "aria-hidden": "true" }), `${c.name} — ${c.path}`));
  });
  $("picker-search").setAttribute("aria-activedescendant", `opt-${pickerSel}`);
}
function finish(code) {
  const done = pickerDone; pickerDone = null;
  if ($("picker").open) $("picker").close();
  if (done) done(code);
}
/** Open the picker; resolves to the chosen code, or null when cancelled. */
export function pickCode(title = "Choose a code") {
  if (pickerDone) finish(null);
  $("picker-title").textContent = title;
  pickerSel = 0; $("picker-search").value = ""; drawPicker();
  $("picker").showModal(); $("picker-search").focus();
  return new Promise((resolve) => { pickerDone = resolve; });
}
$("picker-search").addEventListener("input", () => { pickerSel = 0; drawPicker(); });
$("picker-search").addEventListener("keydown", (ev) => {
  const n = matches().length;
  if (ev.key === "ArrowDown") { pickerSel = Math.min(n - 1, pickerSel + 1); drawPicker(); ev.preventDefault(); }
  if (ev.key === "ArrowUp") { pickerSel = Math.max(0, pickerSel - 1); drawPicker(); ev.preventDefault(); }
  if (ev.key === "Enter") { ev.preventDefault(); const c = matches()[pickerSel]; if (c) finish(c); }
});
$("picker-cancel").addEventListener("click", () => finish(null));
$("picker").addEventListener("close", () => { if (pickerDone) finish(null); });

/** A text shown once (a token), with a copy button. */
export function secret(label, value) {
  const out = el("output", { class: "secret", text: value });
  const copy = el("button", { type: "button", text: "Copy", onclick: async () => {
    try { await navigator.clipboard.writeText(value); copy.textContent = "Copied"; } catch (_) {
      const r = document.createRange(); r.selectNodeContents(out); getSelection().removeAllRanges(); getSelection().addRange(r);
      copy.textContent = "Selected: press Ctrl+C";
    }
  } });
  return el("div", { class: "secret-box", role: "group", "aria-label": label },
    el("p", {}, el("strong", { text: label }), " (shown this once; keep it to sign in again)"), out, copy);
}
