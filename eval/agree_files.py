"""Agreement from a codings file: read, filter, analyse, and write JSON and a heatmap.

Formats (CSV, TSV, JSONL or Parquet):
- long: one row per coding, with unit, coder and code columns (names configurable) and optional
  start/end offsets (and a document column, the text they count in; else the unit) for span-level
  agreement. An empty code means "coded this unit, no code applies". With a `value` column (1/0,
  true/false) the rows are decided codings (eval.codings): 0 is a rejection, and a code a coder did
  not decide on a unit is missing rather than "no". Loupe's export/codings writes this form, so
  `loupe agree` reads it with no column options and agrees with `GET /agreement`.
- wide (`wide=True`): one row per unit, a unit column, and one column per coder holding that
  coder's single label (empty = not coded).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from eval.agreement import DISTANCES, LEVELS, Distance, Weights
from eval.benchmark import compare_model
from eval.codings import (
    Coding,
    CodingTable,
    build_table,
    coder_vs_rest,
    pairwise,
    pairwise_n,
    per_code,
)
from eval.intervals import METRICS, estimate, positive_share, prevalence_bias
from eval.report import heatmaps
from eval.unitized import Span, concatenate, segment_overlap_agreement, unitized_alpha
from models.base import LoupeError
from models.text.readers import decode_bytes


class AgreementInputError(LoupeError):
    pass


@dataclass(frozen=True)
class AgreeOptions:
    path: Path
    unit_column: str = "unit"
    coder_column: str = "coder"
    code_column: str = "code"
    wide: bool = False
    where: Sequence[str] = ()  # "column=value" filters, all must hold
    metrics: Sequence[str] = ("percent", "cohen", "fleiss", "krippendorff", "gwet", "bp")
    level: str = "nominal"
    weights: str | None = None  # linear or quadratic agreement weights (Cohen, Scott, Fleiss, Gwet AC2, BP, percent)
    weight_distance: str = "index"  # index (ordered categories) or value
    categories: Sequence[str] = ()  # the ordered domain of a single-label variable (default: sorted labels)
    ci: float = 0.95
    n_boot: int = 1000
    seed: int = 0
    hierarchy: bool = False
    model: str | None = None
    per_coder: bool = False
    overlap_threshold: float = 0.9
    repeated: str = "keep"  # a coder coding a unit twice: keep all codes, or only the first/last record
    out_dir: Path | None = None


@dataclass
class AgreeResult:
    table: CodingTable
    overall: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, Any] = field(default_factory=dict)
    coders: dict[str, Any] = field(default_factory=dict)
    model: list[Any] = field(default_factory=list)
    spans: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    conflicting_repeats: int = 0  # (unit, coder) pairs coded more than once with different codes
    weights: str | None = None
    weight_distance: str = "index"

    def as_dict(self) -> dict[str, Any]:
        return {
            "units": len(self.table.units),
            "coders": self.table.coders,
            "codes": self.table.codes,
            "single_label": self.table.single_label,
            "overall": self.overall,
            "per_code": self.codes,
            "per_coder": self.coders,
            "model": [m.as_dict() for m in self.model],
            "spans": self.spans,
            "conflicting_repeats": self.conflicting_repeats,
            "weights": self.weights,
            "weight_distance": self.weight_distance,
        }


def _cell(v: object) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _rows(opts: AgreeOptions) -> list[dict[str, str]]:
    path = Path(opts.path)
    if not path.exists():
        raise AgreementInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            records = pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow raises several types for a file that is not Parquet
            raise AgreementInputError(f"{path}: not a readable Parquet file ({exc})") from None
        rows = [{k: _cell(v) for k, v in r.items()} for r in records]
    elif suffix == ".jsonl":
        text = decode_bytes(path.read_bytes(), path)
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append({k: _cell(v) for k, v in json.loads(line).items()})
                except (json.JSONDecodeError, AttributeError):
                    raise AgreementInputError(f"{path}: line {n} is not a JSON object") from None
    elif suffix in (".csv", ".tsv"):
        text = decode_bytes(path.read_bytes(), path)
        rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if suffix == ".tsv" else ","))
    else:
        raise AgreementInputError(f"{path}: codings must be .csv, .tsv, .jsonl or .parquet")
    for cond in opts.where:
        col, sep, value = cond.partition("=")
        if not sep:
            raise AgreementInputError(f"--where {cond!r}: write it as column=value")
        if rows and col not in rows[0]:
            raise AgreementInputError(f"--where: no column {col!r} in {path}")
        rows = [r for r in rows if r.get(col, "") == value]
    if not rows:
        raise AgreementInputError(f"{path}: no codings (after filters)")
    return rows


VALUES = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


def read_codings(opts: AgreeOptions) -> tuple[list[Coding], bool]:
    """The codings, and whether they carry span offsets."""
    rows = _rows(opts)
    cols = set(rows[0])
    if opts.wide:
        if opts.unit_column not in cols:
            raise AgreementInputError(f"{opts.path}: no unit column {opts.unit_column!r} (columns: {', '.join(sorted(cols))})")
        coders = [c for c in rows[0] if c != opts.unit_column]
        return [Coding(r[opts.unit_column], c, r[c]) for r in rows for c in coders if r.get(c, "") != ""], False
    missing = [c for c in (opts.unit_column, opts.coder_column, opts.code_column) if c not in cols]
    if missing:
        raise AgreementInputError(
            f"{opts.path}: missing column(s) {', '.join(missing)} (columns: {', '.join(sorted(cols))}); "
            "name them with --unit-column/--coder-column/--code-column, or use --wide"
        )
    has_spans = {"start", "end"} <= cols
    has_value = "value" in cols
    has_document = "document" in cols
    out = []
    for n, r in enumerate(rows, 1):
        start = end = None
        if has_spans and r.get("start", "") != "" and r.get("end", "") != "":
            try:
                start, end = int(r["start"]), int(r["end"])
            except ValueError:
                raise AgreementInputError(f"{opts.path}: row {n}: start/end must be integers") from None
            if not 0 <= start < end:
                raise AgreementInputError(f"{opts.path}: row {n}: need 0 <= start < end, got {start}, {end}")
        value = None
        if has_value:
            raw = r.get("value", "").strip().lower()
            if raw not in VALUES:
                raise AgreementInputError(f"{opts.path}: row {n}: value must be 1/0 or true/false, got {r.get('value')!r}")
            value = VALUES[raw]
        document = r.get("document") or None if has_document else None
        out.append(Coding(r[opts.unit_column], r[opts.coder_column], r[opts.code_column], start, end, value, document))
    return out, has_spans


def resolve_repeats(codings: list[Coding], policy: str) -> tuple[list[Coding], int]:
    """Apply the repeated-coding policy; returns the codings and how many (unit, coder) pairs
    carried conflicting codes across records."""
    if policy not in ("keep", "first", "last"):
        raise AgreementInputError(f"--repeated must be keep, first or last, not {policy!r}")
    seen: dict[tuple[str, str], set[str]] = {}
    for c in codings:
        if c.value is not False:
            seen.setdefault((c.unit, c.coder), set()).add(c.code)
    conflicts = sum(1 for v in seen.values() if len(v) > 1)
    if policy == "keep":
        return codings, conflicts
    chosen: dict[tuple[str, str], Coding] = {}
    for c in codings:
        if policy == "last" or (c.unit, c.coder) not in chosen:
            chosen[(c.unit, c.coder)] = c
    return list(chosen.values()), conflicts


def analyse(opts: AgreeOptions) -> AgreeResult:
    """Everything `loupe agree` reports; writes agreement.json and heatmaps.png when out_dir is set."""
    for m in opts.metrics:
        if m not in METRICS:
            raise AgreementInputError(f"unknown metric {m!r}; choose from {', '.join(METRICS)}")
    level = next((lv for lv in LEVELS if lv == opts.level), None)
    if level is None:
        raise AgreementInputError(f"unknown level {opts.level!r}; choose from {', '.join(LEVELS)}")
    codings, has_spans = read_codings(opts)
    codings, conflicts = resolve_repeats(codings, opts.repeated)
    table = build_table(codings, hierarchy=opts.hierarchy)
    if len(table.coders) < 2:
        raise AgreementInputError(f"agreement needs at least two coders; found {table.coders}")
    res = AgreeResult(table=table, conflicting_repeats=conflicts, weights=opts.weights, weight_distance=opts.weight_distance)
    humans = [c for c in table.coders if c != opts.model]
    metrics = [m for m in opts.metrics if not (m in ("cohen", "scott") and len(humans) != 2)]

    if opts.weights not in (None, "linear", "quadratic"):
        raise AgreementInputError(f"--weights must be linear or quadratic, not {opts.weights!r}")
    if opts.weight_distance not in DISTANCES:
        raise AgreementInputError(f"--weight-distance must be index or value, not {opts.weight_distance!r}")
    weights = cast(Weights, opts.weights)
    distance: Distance = "value" if opts.weight_distance == "value" else "index"
    if table.single_label:
        try:
            r = table.label_ratings(humans, categories=list(opts.categories) or None)
        except ValueError as exc:
            raise AgreementInputError(f"--categories: {exc}") from None
        res.overall = {m: estimate(r, m, level=level, weights=weights, distance=distance, ci=opts.ci, n_boot=opts.n_boot,
                                   seed=opts.seed).as_dict() for m in metrics}
        if len(humans) == 2:
            res.overall["diagnostics"] = prevalence_bias(r)
    pc = per_code(table, metrics, coders=humans, summaries=not table.single_label, ci=opts.ci, n_boot=opts.n_boot, seed=opts.seed,
                  weights=weights, distance=distance)
    for code, ests in pc.items():
        entry: dict[str, Any] = {m: e.as_dict() for m, e in ests.items()}
        if code in table.codes:
            entry["prevalence"] = positive_share(table.code_ratings(code, humans))
        res.codes[code] = entry
    if not table.single_label:
        res.overall = res.codes.get("(pooled)", {})

    if opts.per_coder:  # single label: the label itself; multi-label: the mean over codes
        views = [None] if table.single_label else list(table.codes)
        per_view = [(coder_vs_rest(table, v, "cohen", min_units=10), coder_vs_rest(table, v, "krippendorff", min_units=10))
                    for v in views]
        for coder in table.coders:
            kappas = [k[coder].value for k, _ in per_view if coder in k and not np.isnan(k[coder].value)]
            alphas = [a[coder].value for _, a in per_view if coder in a and not np.isnan(a[coder].value)]
            units = max((k[coder].n_units for k, _ in per_view if coder in k), default=0)
            if units:
                res.coders[coder] = {"units": units,
                                     "cohen": float(np.mean(kappas)) if kappas else None,
                                     "krippendorff": float(np.mean(alphas)) if alphas else None}

    if opts.model:
        res.model = compare_model(table, opts.model, humans=humans, metric="krippendorff", ci=opts.ci, n_boot=opts.n_boot, seed=opts.seed)

    if has_spans:
        spans = [Span(c.coder, c.code, c.start, c.end, c.document or c.unit) for c in codings
                 if c.start is not None and c.end is not None and c.code and c.value is not False]
        lengths: dict[str, int] = {}
        for s in spans:
            lengths[s.document] = max(lengths.get(s.document, 0), s.end)
        flat, total = concatenate(spans, lengths)
        res.spans = {
            "unitized_alpha": {k: (None if np.isnan(v) else v) for k, v in unitized_alpha(flat, length=total, coders=table.coders).items()},
            "overlap_agreement": segment_overlap_agreement(spans, threshold=opts.overlap_threshold),
            "overlap_threshold": opts.overlap_threshold,
            "note": "continuum length per document (or unit) is taken as the end of its last coded span",
        }

    if opts.out_dir:
        out = Path(opts.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "agreement.json").write_text(json.dumps(res.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
        res.files.append(out / "agreement.json")
        if len(table.coders) <= 120:
            shown: list[str | None] = [None] if table.single_label else []
            if not (table.single_label and len(table.codes) <= 2):  # else each panel repeats the first
                shown += table.codes
            panels = {("(all codes)" if v is None else v): (pairwise(table, v, "cohen"), pairwise_n(table, v)) for v in shown}
            res.files += heatmaps(panels, table.coders, out / "heatmaps.png", metric="Cohen's kappa")
    return res
