"""`loupe report`: one self-contained HTML file (styles inline, charts as data URIs) with the
codebook and its counts, themes with their codes and representative passages, matrix tables, charts
(code frequency by document and by the first attribute, co-occurrence), the agreement summary with
each value's n and small-n flag, memos, and the method record (models, codebook versions, decisions, who coded
what) that a methods section or a reviewer asks for."""

from __future__ import annotations

import base64
import io
from collections import Counter
from datetime import UTC, datetime
from html import escape
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from eval.analysis import (
    attribute_axis,
    code_axis,
    code_counts,
    matrix,
    save_heatmap,
    under,
)
from service.analysis.charts import cooccurrence_png, frequency_png
from service.analysis.matrix import units
from service.analysis.memos import memos
from service.analysis.themes import themes
from service.codebooks.versions import as_codebook, codebook_versions, current_codebook
from service.projects.manage import list_coders
from service.review.agreement import agreement
from service.storage.tables import Decision, Project, Suggestion

CSS = """body{font:15px/1.5 system-ui,sans-serif;color:#1b1b1f;max-width:1100px;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:2px solid #0b57d0;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-variant-numeric:tabular-nums}th,td{border:1px solid #c9c9d2;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f1f3f9}.muted{color:#4a4a55}blockquote{margin:.4rem 0;padding:.3rem .8rem;border-left:4px solid #c9c9d2;background:#fafafa}
img{max-width:100%;height:auto}.def{max-width:38rem}"""


def _e(x: Any) -> str:
    return escape(str(x))


def _table(head: list[str], rows: list[list[Any]]) -> str:
    return ("<table><tr>" + "".join(f"<th scope='col'>{_e(h)}</th>" for h in head) + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows) + "</table>")


def _ci(est: dict[str, Any]) -> str:
    return f"[{est['ci_low']:.3f}, {est['ci_high']:.3f}]" if est.get("ci_low") is not None else ""


def _img(png: bytes, title: str) -> str:
    return f"<img alt='{_e(title)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"


def _png(result: dict[str, Any], title: str) -> str:
    buf = io.BytesIO()
    save_heatmap(result, buf, title=title)
    return f"<img alt='{_e(title)} heatmap' src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'>"


def build_report(session: Session, *, project: Project, n_boot: int = 200) -> str:
    book_row = current_codebook(session, project)
    book = as_codebook(book_row)
    us = units(session, project=project)
    coders: dict[int | None, str] = {c.id: c.name for c in list_coders(session, project)}  # looked up by nullable coder ids
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(project.name)}: Loupe report</title>"
             f"<style>{CSS}</style></head><body>",
             f"<h1>{_e(project.name)}</h1><p class='muted'>Loupe report, generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
             f"{_e(project.description)}</p>"]

    counts = {c["code"]: c for c in code_counts(us, list(book.codes))}
    parts.append("<h2>Codebook</h2>" + f"<p class='muted'>Version {book_row.version}: {_e(book.name)}. Counts include sub-codes.</p>")
    parts.append(_table(["code", "name", "definition", "segments", "documents", "coders"],
                        [[c.path, c.name, c.definition, counts[c.path]["segments"], counts[c.path]["documents"], counts[c.path]["coders"]] for c in book]))

    parts.append("<h2>Themes</h2>")
    all_themes = themes(session, project)
    if not all_themes:
        parts.append("<p>No themes yet.</p>")
    for t in all_themes:
        hits = [u for u in us if any(under(x, c) for x in u.codes for c in t.codes)]
        parts.append(f"<h3>{_e(t.name)}</h3><p class='def'>{_e(t.definition)}</p><p>Codes: {_e(', '.join(t.codes)) or '(none)'}; "
                     f"{len(hits)} coded segments in {len({u.document for u in hits})} documents.</p>")
        parts += [f"<blockquote>{_e(u.text)} <span class='muted'>({_e(u.document)}{', ' + _e(u.speaker) if u.speaker else ''})</span></blockquote>"
                  for u in hits[:3]]

    parts.append("<h2>Matrix queries</h2>")
    tops = [c.path for c in book if c.parent is None]
    names = sorted({k for u in us for k in u.attributes})[:4]
    if not names:
        parts.append("<p>No document or speaker attributes are set, so there is nothing to cross codes with yet.</p>")
    for name in names:
        result = matrix(us, code_axis(tops), attribute_axis(us, name))
        parts.append(f"<h3>Top-level codes x {_e(name)} (coded segments)</h3>")
        parts.append(_table([""] + result["cols"], [[r] + row for r, row in zip(result["rows"], result["counts"], strict=False)]))
        parts.append(_png(result, f"Top-level codes x {name}"))

    parts.append("<h2>Charts</h2>")
    parts.append(_img(frequency_png(session, project=project, coder_ids=None, by="document"), "code frequency by document"))
    if names:
        parts.append(_img(frequency_png(session, project=project, coder_ids=None, by="attribute", attribute=names[0]), f"code frequency by {names[0]}"))
    parts.append(_img(cooccurrence_png(session, project=project, coder_ids=None), "code co-occurrence"))

    parts.append("<h2>Agreement</h2>")
    ag = agreement(session, project=project, metrics=("percent", "krippendorff"), n_boot=n_boot)
    rows = []
    for code, est in ag["between_coders"].items():
        rows.append(["between coders", code, est.get("krippendorff") or {}])
    for who, per in ag["model_vs_coder"].items():
        rows.append([f"model vs {who}", "(pooled)", (per.get("(pooled)") or {}).get("krippendorff") or {}])
    rule = ag["small_n_rule"]
    parts.append(f"<p class='muted'>Krippendorff's alpha; {ag['units']} segments decided, {ag['units_coded_by_two_or_more']} by two or more "
                 f"coders. n: pairable units / values. Intervals are {n_boot}-sample percentile bootstraps, except for values marked "
                 f"<strong>small n</strong> (fewer than {rule['min_units']} pairable units, or fewer than {rule['min_minority']} values "
                 "outside the most frequent category): read those with care; their interval is the wider of an analytic and a Wilson interval.</p>")
    parts.append(_table(["between", "code", "alpha", "95% interval", "n", "flag"],
                        [[a, b, "—" if k.get("value") is None else f"{k['value']:.3f}", _ci(k),
                          f"{k.get('n_pairable', 0)} / {k.get('n_values', 0)}" if k else "",
                          (f"small n: {k['small_n_reason']}" if k.get("small_n") else "") if k.get("value") is not None else (k.get("note") or "")]
                         for a, b, k in rows])
                 if rows else "<p>No decisions yet.</p>")

    parts.append("<h2>Memos</h2>")
    entries = memos(session, project=project, coder=None)  # the report is the owner's: every memo
    parts.append(_table(["when", "who", "on", "memo"], [[f"{m.created_at:%Y-%m-%d %H:%M}", coders.get(m.coder_id, "?"),
                                                         f"{m.target_kind} {m.target}".strip(), m.text] for m in entries])
                 if entries else "<p>No memos yet.</p>")

    parts.append("<h2>Method record</h2>")
    models = session.execute(select(Suggestion.model, func.count()).where(Suggestion.project_id == project.id).group_by(Suggestion.model)).all()
    verdicts = dict(session.execute(select(Decision.verdict, func.count()).where(Decision.project_id == project.id).group_by(Decision.verdict)).all())
    parts.append("<h3>Models that made suggestions</h3>" + (_table(["model", "suggestions"], [list(m) for m in models]) if models else "<p>None.</p>"))
    parts.append("<h3>Codebook versions</h3>" + _table(["version", "name", "created", "by"], [
        [v.version, v.name, f"{v.created_at:%Y-%m-%d %H:%M}", coders.get(v.created_by, "")] for v in codebook_versions(session, project)]))
    parts.append(f"<h3>Decisions</h3><p>{sum(verdicts.values())} ledger entries: " + ", ".join(f"{n} {_e(v)}" for v, n in sorted(verdicts.items())) + ".</p>")
    who = Counter((coders.get(c, "?"), code) for c, code in session.execute(select(Decision.coder_id, Decision.code).where(Decision.project_id == project.id, Decision.verdict != "tombstone")))
    parts.append("<h3>Who coded what</h3>" + (_table(["coder", "code", "entries"], [[a, b, n] for (a, b), n in sorted(who.items())]) if who else "<p>No decisions yet.</p>"))
    parts.append("</body></html>")
    return "\n".join(parts)
