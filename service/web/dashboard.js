// The dashboard: code frequency and co-occurrence, agreement per code with its n and interval (a
// flag where n < 20), and the cluster map with the API's cluster ids.
import { $, api, colorOf, el, pct, pid } from "./core.js";

const SMALL_N = 20;
export function reset() {}

export async function show() {
  await splits();
  await Promise.all([codes(), agreement(), clusters()]);
}

/** The frequency chart's split: by document, or by a document attribute the project has. */
async function splits() {
  const docs = await api(`/projects/${pid()}/documents?limit=1000`);
  const names = [...new Set(docs.flatMap((d) => Object.keys(d.attributes || {})))].sort();
  const sel = $("dash-split"), before = sel.value;
  sel.replaceChildren(el("option", { value: "", text: "document" }), ...names.map((n) => el("option", { value: `document:${n}`, text: n })));
  sel.value = names.some((n) => `document:${n}` === before) ? before : "";
  $("dash-split-row").hidden = !names.length;
}
$("dash-split").addEventListener("change", codes);

/** A picture the server draws (PNG), or null when this server has none for it. */
async function picture(path, alt) {
  try {
    const blob = await api(path);
    if (!(blob instanceof Blob)) return null;
    const img = el("img", { class: "chart", alt, src: URL.createObjectURL(blob) });
    await img.decode();  // drawn before it is shown (a picture that cannot be decoded is left out)
    return img;
  } catch (_) { return null; }
}

async function codes() {
  const data = await api(`/projects/${pid()}/code-counts`);
  const counts = data.codes.filter((c) => c.segments > 0).sort((a, b) => b.segments - a.segments);
  const max = Math.max(1, ...counts.map((c) => c.segments));
  const split = $("dash-split").value;
  const q = split ? `?by=attribute&attribute=${encodeURIComponent(split)}` : "";
  const freq = await picture(`/projects/${pid()}/charts/frequency.png${q}`, `Bar chart: coded segments per code, by ${split || "document"}`);
  const table = counts.length ? el("table", {}, el("caption", { class: "visually-hidden", text: "Code frequencies" }),
    el("tr", {}, ...["code (with sub-codes)", "segments", "documents", "coders", ""].map((h) => el("th", { scope: "col", text: h }))),
    ...counts.map((c) => el("tr", {}, el("td", { text: c.code }), el("td", { text: String(c.segments) }), el("td", { text: String(c.documents) }),
      el("td", { text: String(c.coders) }), el("td", {}, el("span", { class: "bar", style: `width: ${Math.round(160 * c.segments / max)}px; background: ${colorOf(c.code)}`, "aria-hidden": "true" })))))
    : el("p", { text: "No codings yet." });
  $("dash-codes").replaceChildren(...(freq && counts.length ? [freq, el("details", {}, el("summary", { text: "As a table" }), table)] : [table]));
  const co = data.cooccurrence;
  const used = co.codes.map((c, i) => [c, i]).filter(([c]) => (co.segments[c] || 0) > 0);
  const heat = await picture(`/projects/${pid()}/charts/cooccurrence.png`, "Heatmap: segments coded with both codes");
  if (heat) { $("dash-cooc").replaceChildren(heat); return; }
  if (used.length < 2) { $("dash-cooc").replaceChildren(el("p", { class: "hint", text: "Co-occurrence shows once two or more codes are applied." })); return; }
  const top = Math.max(1, ...used.flatMap(([, i]) => used.map(([, j]) => (i === j ? 0 : co.counts[i][j]))));
  $("dash-cooc").replaceChildren(el("table", { class: "heat" }, el("caption", { class: "visually-hidden", text: "Code co-occurrence (segments with both codes)" }),
    el("tr", {}, el("th", {}), ...used.map(([c]) => el("th", { scope: "col", class: "rot", text: c }))),
    ...used.map(([c, i]) => el("tr", {}, el("th", { scope: "row", text: c }), ...used.map(([, j]) => {
      const v = co.counts[i][j];
      return el("td", { text: String(v), style: i === j ? "background: #eee" : `background: rgba(11, 87, 208, ${(v / top * 0.85).toFixed(2)}); color: ${v / top > 0.5 ? "#fff" : "inherit"}` });
    })))));
}

function cell(e) {
  if (!e || e.value == null) return el("td", { text: "—" });
  const n = e.n_pairable != null ? e.n_pairable : e.n_units;
  const small = e.small_n != null ? e.small_n : n < SMALL_N;
  const ci = e.ci_low != null && e.ci_high != null ? ` [${e.ci_low.toFixed(2)}, ${e.ci_high.toFixed(2)}]` : "";
  return el("td", { class: small ? "small-n" : "", title: [e.small_n_reason, e.interval_method, e.note].filter(Boolean).join("; ") }, `${e.value.toFixed(2)}${ci}`, el("span", { class: "n", text: ` n=${n}` }),
    small ? el("span", { class: "flag", title: `fewer than ${SMALL_N} units: read with care`, text: " ⚠ small n" }) : null);
}

async function agreement() {
  try {
    const ag = await api(`/projects/${pid()}/agreement?n_boot=200`);
    const metric = ["krippendorff", "cohen", "fleiss"].find((m) => ag.metrics.includes(m)) || ag.metrics[0];
    const models = Object.keys(ag.model_vs_coder);
    const table = el("table", { class: "agreement" }, el("caption", { text: `${metric} per code: value [95% interval], n = units it rests on` }),
      el("tr", {}, el("th", { scope: "col", text: "code" }), el("th", { scope: "col", text: "between coders" }), ...models.map((c) => el("th", { scope: "col", text: `model vs ${c}` }))));
    const all = Object.keys(ag.between_coders).length ? Object.keys(ag.between_coders) : Object.keys(Object.values(ag.model_vs_coder)[0] || {});
    const defined = (e) => e && e.value != null;
    const codes = all.filter((code) => defined((ag.between_coders[code] || {})[metric]) || models.some((m) => defined((ag.model_vs_coder[m][code] || {})[metric])));
    for (const code of codes) {
      table.append(el("tr", {}, el("th", { scope: "row", text: code }), cell((ag.between_coders[code] || {})[metric]),
        ...models.map((m) => cell((ag.model_vs_coder[m][code] || {})[metric]))));
    }
    $("dash-agreement").replaceChildren(el("p", { class: "hint", text: `${ag.units} segments decided, ${ag.units_coded_by_two_or_more} by two or more coders (${ag.coders.join(", ")}).` }),
      table, all.length > codes.length ? el("p", { class: "hint", text: `${all.length - codes.length} codes with nothing to compare yet are not shown.` }) : null,
      ...(ag.notes || []).map((n) => el("p", { class: "hint", text: n })));
  } catch (e) {
    $("dash-agreement").replaceChildren(el("p", { text: e.status === 403 ? "Hidden in blind mode: only the project owner sees agreement." : `Agreement unavailable: ${e.message}` }));
  }
}

async function clusters() {
  try {
    const runs = await api(`/projects/${pid()}/clusters`);
    const blob = await api(`/projects/${pid()}/clusters/map.png`);
    const img = el("img", { class: "map", alt: `Map of the segments coloured by cluster and by top code; ${runs.clusters.length} clusters`, src: URL.createObjectURL(blob) });
    if (!runs.clusters.length) {
      $("dash-clusters").replaceChildren(img, el("p", { text: `Run #${runs.run.id} found no clusters: too few similar segments yet (all are noise).` }));
      return;
    }
    $("dash-clusters").replaceChildren(img, el("table", {}, el("caption", { class: "visually-hidden", text: "Clusters" }),
      el("tr", {}, ...["cluster", "name", "segments", "coverage", "status"].map((h) => el("th", { scope: "col", text: h }))),
      ...runs.clusters.map((c) => el("tr", {}, el("td", { text: `#${c.id}` }), el("td", { title: c.definition || "", text: c.name }), el("td", { text: String(c.size) }),
        el("td", { text: pct(c.coverage) }), el("td", { text: c.candidate ? "candidate code" : "covered" })))));
  } catch (e) {
    const msg = e.status === 404 ? "No clustering run yet (the owner starts one under Project → Jobs)."
      : e.status === 403 ? "Hidden in blind mode: clusters count every coder's codings." : `Clusters unavailable: ${e.message}`;
    $("dash-clusters").replaceChildren(el("p", { text: msg }));
  }
}
