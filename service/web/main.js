// Loupe's page: plain ES modules over the REST API, no build step and nothing fetched from outside
// `loupe serve`. This module starts the page: the start screen (create a project, sign in with a
// token, open a .qdpx project), the project switcher, the nav between views and the keys.
import { $, S, api, el, loadCodebook, secret, upload } from "./core.js";
import * as review from "./review.js";
import * as documents from "./documents.js";
import * as codebook from "./codebook.js";
import * as project from "./project.js";
import * as dashboard from "./dashboard.js";

const VIEWS = { review, documents, codebook, project, dashboard };
const known = () => JSON.parse(sessionStorage.getItem("loupe-projects") || "{}");

async function signIn(token, { fresh = null } = {}) {
  S.token = token;
  const before = S.project && S.project.id;
  S.me = await api("/me");
  S.project = await api(`/projects/${S.me.project_id}`);
  if (before !== S.project.id) {  // another project: nothing of the last one carries over
    S.docs = {};
    for (const v of Object.values(VIEWS)) if (v.reset) v.reset();
  }
  await loadCodebook();
  sessionStorage.setItem("loupe-token", token);
  const all = known();
  all[S.project.id] = { token, name: S.project.name };
  sessionStorage.setItem("loupe-projects", JSON.stringify(all));
  const sel = $("project-select");
  sel.replaceChildren(...Object.entries(all).map(([id, p]) => el("option", { value: id, text: `${p.name} (#${id})` })),
    el("option", { value: "new", text: "New or other project…" }));
  sel.value = String(S.project.id);
  $("who").textContent = `${S.me.name} (${S.me.role}) · ${S.project.name}${S.project.blind ? " · blind mode" : ""}`;
  document.querySelectorAll("[data-owner]").forEach((b) => { b.hidden = S.me.role !== "owner"; });
  $("signin").hidden = true; $("nav").hidden = false; $("fresh-token").replaceChildren();
  if (fresh) $("fresh-token").append(secret(`Your token for “${S.project.name}”`, fresh));
  await show(fresh ? "documents" : "review");
}

async function show(view) {
  S.view = view;
  $("status").textContent = "";
  for (const v of Object.keys(VIEWS)) $(v).hidden = v !== view;
  document.querySelectorAll("#nav [data-view]").forEach((b) => (b.dataset.view === view ? b.setAttribute("aria-current", "page") : b.removeAttribute("aria-current")));
  try { await VIEWS[view].show(); } catch (e) { $("status").textContent = `Could not load ${view}: ${e.message}`; }
  $("main").focus({ preventScroll: true });
}

function startScreen() {
  for (const v of Object.keys(VIEWS)) $(v).hidden = true;
  $("signin").hidden = false; $("token").value = "";
  $("new-name").focus();
}

// ---- the start screen ---------------------------------------------------------------------------
$("new-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("new-error").textContent = "";
  const body = { name: $("new-name").value.trim(), owner: $("new-owner").value.trim(), description: $("new-description").value,
    blind: $("new-blind").checked, hide_suggestions: $("new-hide").checked };
  const admin = $("new-admin").value.trim();
  try {
    const made = await api("/projects", { json: body, token: admin || "" });
    await signIn(made.owner.token, { fresh: made.owner.token });
  } catch (e) {
    if (e.status === 401 || e.status === 403) {
      $("admin-row").hidden = false; $("new-admin").focus();
      $("new-error").textContent = admin ? "That admin token is not valid." : "This server asks for its admin token (LOUPE_ADMIN_TOKEN) to create a project.";
    } else $("new-error").textContent = `Could not create the project: ${e.message}`;
  }
});
$("new-blind").addEventListener("change", () => { $("new-hide").disabled = !$("new-blind").checked; if (!$("new-blind").checked) $("new-hide").checked = false; });

$("signin-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  $("signin-error").textContent = "";
  try { await signIn($("token").value.trim()); } catch (e) {
    $("signin-error").textContent = e.status === 401 ? "That token is not valid." : `Could not sign in: ${e.message}`;
  }
});

$("import-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const file = $("import-file").files[0];
  $("import-error").textContent = "";
  if (!file) { $("import-error").textContent = "Choose a .qdpx file first."; return; }
  const form = new FormData();
  form.append("file", file); form.append("owner", $("import-owner").value.trim() || "owner");
  if ($("import-name").value.trim()) form.append("name", $("import-name").value.trim());
  const bar = $("import-progress"); bar.hidden = false; bar.value = 0;
  try {
    const made = await upload("/projects/import", form, (n, total) => { bar.max = total || 1; bar.value = n; }, $("new-admin").value.trim());
    const r = made.report || {};
    $("import-report").textContent = `Imported: ${[["documents", r.documents], ["codes", r.codes], ["codings", r.codings]].filter(([, v]) => v != null)
      .map(([k, v]) => `${Array.isArray(v) ? v.length : v} ${k}`).join(", ")}.`;
    await signIn(made.owner.token, { fresh: made.owner.token });
  } catch (e) {
    if (e.status === 401 || e.status === 403) $("admin-row").hidden = false;
    $("import-error").textContent = `Could not import: ${e.message}`;
  } finally { bar.hidden = true; }
});

// ---- nav ------------------------------------------------------------------------------------------
$("signout").addEventListener("click", () => { sessionStorage.clear(); location.reload(); });
$("project-select").addEventListener("change", async () => {  // each project has its own token
  const v = $("project-select").value;
  if (v === "new") { startScreen(); return; }
  const chosen = known()[v];
  if (chosen) await signIn(chosen.token);
});
document.querySelectorAll("#nav [data-view]").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));
document.addEventListener("keydown", (ev) => {
  if (!S.project || !$("signin").hidden || document.querySelector("dialog[open]")) return;
  const t = ev.target.tagName;
  if (["INPUT", "TEXTAREA", "SELECT"].includes(t) || ev.target.isContentEditable || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const view = VIEWS[S.view];
  if (view.onKey && view.onKey(ev)) ev.preventDefault();
});
window.addEventListener("loupe:show", (ev) => show(ev.detail));
window.addEventListener("loupe:signin", (ev) => signIn(ev.detail.token, ev.detail));

if (S.token) signIn(S.token).catch(() => { sessionStorage.removeItem("loupe-token"); S.token = ""; });
